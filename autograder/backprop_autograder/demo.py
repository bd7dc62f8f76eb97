"""`make demo-grading`: a synthetic class, graded end to end like a real one.

Every lesson (``--lesson`` picks one) is built into one nbgrader course, and
for each the class hands in: a perfect submission, a blank one, one per known
mistake of the lesson and two more with its most common one (so the class has
one most common misconception), a half-finished one, code that kills the kernel
(``os._exit`` and a segfault), an infinite loop, code that only warns, edited
and deleted test cells, and files that are not notebooks at all or another
lesson's (``--small``: only the perfect, half-finished and blank ones, and the
two with the common mistake). They are packed as an LMS zip download, and
``backprop-grade grade`` grades them. Grades land in
``build/demo/grades_<lesson>.csv``, the item analysis (what the class got
wrong) in ``build/demo/report_<lesson>.html`` and ``.csv``, feedback under
``build/demo/feedback/``, and the graded course in ``build/demo/course/``, ready
for the formgrader.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from backprop_autograder import build as builder
from backprop_autograder import cli, item_analysis, pipeline, reporting
from backprop_autograder.assemble import is_exercise, is_test, solved
from backprop_autograder.lessons import LESSONS, ROOT, Lesson, lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS, Misconception

OUT = ROOT / "build" / "demo"
Notebook = nbformat.NotebookNode


def blank(the_lesson: Lesson) -> Notebook:
    return nbformat.read(the_lesson.notebook, as_version=4)


def perfect(the_lesson: Lesson) -> Notebook:
    return solved(blank(the_lesson), the_lesson.reference())


def exercise_cell(nb: Notebook, name: str) -> Notebook:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)


def exercise_names(nb: Notebook) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if is_exercise(c)]


def with_body(the_lesson: Lesson, body: str) -> Notebook:
    """The perfect notebook with its last exercise's answer replaced by ``body``.

    The last one, because no demo cell of the lesson calls it: only its own
    check runs into the trouble.
    """
    nb = perfect(the_lesson)
    name = exercise_names(nb)[-1]
    cell = exercise_cell(nb, name)
    header, _ = split_function(cell.source, name)
    cell.source = f"{header}    {body}\n"
    return nb


def split_function(source: str, name: str) -> tuple[str, str]:
    """The cell's ``def name(...):`` lines (a signature may span several) and the rest."""
    tree = ast.parse(source)
    function = next(
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == name
    )
    lines = source.splitlines(keepends=True)
    first_statement = function.body[0].lineno - 1
    return "".join(lines[:first_statement]), "".join(lines[first_statement:])


def half_finished(the_lesson: Lesson) -> Notebook:
    """The first half of the exercises answered, the rest left as stubs."""
    nb, stubs = perfect(the_lesson), blank(the_lesson)
    exercises = [i for i, cell in enumerate(nb.cells) if is_exercise(cell)]
    for i in exercises[len(exercises) // 2 :]:
        nb.cells[i].source = stubs.cells[i].source
    return nb


def warnings_only(the_lesson: Lesson) -> Notebook:
    """Right answers whose first exercise also warns and writes to stderr."""
    nb = perfect(the_lesson)
    name = exercise_names(nb)[0]
    cell = exercise_cell(nb, name)
    header, body = split_function(cell.source, name)
    noise = (
        "    import sys, warnings\n"
        "    warnings.warn('this is only a warning', RuntimeWarning)\n"
        "    warnings.warn('so is this', DeprecationWarning)\n"
        "    print('a note on stderr', file=sys.stderr)\n"
    )
    cell.source = f"{header}{noise}{body}"
    return nb


def edited_tests(the_lesson: Lesson) -> Notebook:
    """Right answers; every test cell emptied and given 100 points, one renamed."""
    nb = perfect(the_lesson)
    tests = [cell for cell in nb.cells if is_test(cell)]
    for cell in tests:
        cell.source = "pass  # no checks here"
        cell.metadata["nbgrader"]["points"] = 100
    tests[0].metadata["nbgrader"]["grade_id"] = "check_free_points"
    return nb


def deleted_tests(the_lesson: Lesson) -> Notebook:
    """Right answers; every test cell deleted."""
    nb = perfect(the_lesson)
    nb.cells = [cell for cell in nb.cells if not is_test(cell)]
    return nb


def with_misconception(case: Misconception) -> Callable[[Lesson], Notebook]:
    """The hand-in of a student who makes ``case``'s mistake and no other."""

    def make(the_lesson: Lesson) -> Notebook:
        nb = perfect(the_lesson)
        exercise_cell(nb, case.exercise).source = case.source
        return nb

    return make


def student_id(*parts: str) -> str:
    """LMS file names use "_" between their parts: ids use "-" only."""
    return "-".join(parts).replace("_", "-")


def mistakes(the_lesson: Lesson) -> dict[str, Callable[[Lesson], Notebook]]:
    """One student per known mistake of the lesson."""
    return {
        student_id("mistake", case.mistake, case.exercise): with_misconception(case)
        for case in MISCONCEPTIONS
        if case.topic == the_lesson.topic
    }


COMMON_EXTRA = 2  # students besides its own mistake-* student who make the common mistake


def common_mistake(the_lesson: Lesson) -> Misconception:
    """The known mistake the demo class makes most: of the lesson's misconceptions, the first
    whose mistake the most of them share (each mistake-* student makes one)."""
    cases = [case for case in MISCONCEPTIONS if case.topic == the_lesson.topic]
    shared = {case.mistake: sum(c.mistake == case.mistake for c in cases) for case in cases}
    return next(case for case in cases if shared[case.mistake] == max(shared.values()))


def common(the_lesson: Lesson) -> dict[str, Callable[[Lesson], Notebook]]:
    """Two more students who make the common mistake, so that it is strictly the class's
    most common one (their mistake-* classmate makes it too)."""
    case = common_mistake(the_lesson)
    return {
        student_id(f"common-{number}", case.mistake, case.exercise): with_misconception(case)
        for number in range(1, COMMON_EXTRA + 1)
    }


def students(the_lesson: Lesson) -> dict[str, Callable[[Lesson], Notebook]]:
    """The demo class: student id -> the notebook that student hands in."""
    return {
        "perfect": perfect,
        "blank": blank,
        "half-finished": half_finished,
        "kernel-killer": lambda x: with_body(x, "import os; os._exit(1)"),
        "segfault": lambda x: with_body(x, "import ctypes; ctypes.string_at(0)"),
        "infinite-loop": lambda x: with_body(x, "while True: pass"),
        "warnings-only": warnings_only,
        "edited-tests": edited_tests,
        "deleted-tests": deleted_tests,
        **mistakes(the_lesson),
        **common(the_lesson),
    }


SMALL_CLASS = ("perfect", "half-finished", "blank")


def small_class(the_lesson: Lesson) -> dict[str, Callable[[Lesson], Notebook]]:
    """A class of five (perfect, half-finished, blank, and the two common-* students, so its
    item analysis has a misconception): every lesson graded in a minute or two."""
    return {
        name: make
        for name, make in students(the_lesson).items()
        if name in SMALL_CLASS or name in common(the_lesson)
    }


# Files that are not gradable notebooks: student id -> (file name suffix, content).
BROKEN_FILES = {
    "malformed-json": ("{notebook}", '{"cells": [ this is not json'),
    "empty-file": ("{notebook}", ""),
}
MISNAMED = "misnamed_homework.ipynb"
WRONG_NOTEBOOK = "wrong-notebook"  # hands in another lesson's notebook


def pack(the_lesson: Lesson, archive: Path, small: bool = False) -> None:
    """The class as an LMS download: <student>_<submission number>_<notebook>.

    The full class also hands in files that are not gradable notebooks.
    """
    notebook = f"{the_lesson.name}.ipynb"
    roster = small_class if small else students
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        for number, (student, make) in enumerate(roster(the_lesson).items(), start=1001):
            zipped.writestr(f"{student}_{number}_{notebook}", nbformat.writes(make(the_lesson)))
        if small:
            return
        for student, (suffix, content) in BROKEN_FILES.items():
            zipped.writestr(f"{student}_{suffix.format(notebook=notebook)}", content)
        zipped.writestr(MISNAMED, nbformat.writes(perfect(the_lesson)))
        other = next(x for x in LESSONS if x != the_lesson)
        zipped.writestr(f"{WRONG_NOTEBOOK}_{other.name}.ipynb", nbformat.writes(blank(other)))


def run(
    lessons: list[Lesson],
    out: Path = OUT,
    timeout: int = 10,
    small: bool = False,
    db_url: str | None = None,
    workers: int | None = None,
) -> dict[str, reporting.Report]:
    """Build the assignments, then pack and grade the class's hand-ins of each lesson.

    One nbgrader course in ``out/course`` holds every lesson, as an
    instructor's would. Per lesson: ``downloads_<lesson>.zip``,
    ``grades_<lesson>.csv``, ``summary_<lesson>.txt`` and the item analysis
    ``report_<lesson>.html`` and ``.csv`` in ``out``; the feedback of all goes to
    ``out/feedback``. Returns the reports by lesson.
    ``db_url``: the course's gradebook (written into its nbgrader_config.py, where the
    formgrader reads it too); SQLite in the course directory by default.
    ``workers``: submissions graded at once (default: one per core).
    """
    shutil.rmtree(out, ignore_errors=True)
    course_dir = out / "course"
    if db_url:
        use_gradebook(course_dir, db_url)
    builder.build(lessons, course_dir)
    reports = {}
    for the_lesson in lessons:
        reports[the_lesson.name] = grade_class(the_lesson, course_dir, out, timeout, small,
                                               workers)  # fmt: skip
    shutil.copytree(course_dir / "feedback", out / "feedback", dirs_exist_ok=True)
    return reports


def use_gradebook(course_dir: Path, db_url: str) -> None:
    """Name the course's gradebook in its nbgrader_config.py, as an instructor would."""
    builder.prepare_course_dir(course_dir)
    with (course_dir / "nbgrader_config.py").open("a") as config:
        config.write(f"c.CourseDirectory.db_url = {db_url!r}\n")


def grade_class(
    the_lesson: Lesson,
    course_dir: Path,
    out: Path,
    timeout: int,
    small: bool,
    workers: int | None = None,
) -> reporting.Report:
    name = the_lesson.name
    downloads = out / f"downloads_{name}.zip"
    pack(the_lesson, downloads, small)
    at_once = ["--workers", str(workers)] if workers else []
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "--timeout", str(timeout), *at_once, "grade", name,
         "--from", str(downloads), "--csv", str(out / f"grades_{name}.csv")]
    )  # fmt: skip
    args.lesson = name
    report = pipeline.grade(args)
    (out / f"summary_{name}.txt").write_text(reporting.summary(report) + "\n")
    item_analysis.write_report(course_dir, name, out)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", help="one lesson (default: every lesson)")
    parser.add_argument(
        "--small",
        action="store_true",
        help=f"a class of five: {', '.join(SMALL_CLASS)} and two with the common mistake",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timeout", type=int, default=10)
    parser.add_argument("--db-url", help="the gradebook (default: SQLite in the course)")
    args = parser.parse_args(argv)
    lessons = [lesson(args.lesson)] if args.lesson else list(LESSONS)
    reports = run(lessons, args.out, args.timeout, args.small, args.db_url)
    for name, report in reports.items():
        print(f"== {name}\n{reporting.summary(report)}")
    print(f"grades: {args.out}/grades_<lesson>.csv   feedback: {args.out / 'feedback'}")
    print(f"what the class got wrong: {args.out}/report_<lesson>.html (and .csv)")
    print(f"formgrader: cd {args.out / 'course'} && jupyter lab, then Nbgrader > Formgrader")


if __name__ == "__main__":
    main()
