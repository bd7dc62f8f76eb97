"""`make demo-grading`: a synthetic class, graded end to end like a real one.

The class of lesson 01 (``--lesson`` picks another): a perfect submission, a
blank one, one per known mistake of the lesson, a half-finished one, code that
kills the kernel (``os._exit`` and a segfault), an infinite loop, code that
only warns, edited and deleted test cells, and files that are not notebooks
at all or another lesson's. They are packed as an LMS zip download, and ``backprop-grade grade``
grades them. Grades land in ``build/demo/grades.csv``, feedback under
``build/demo/feedback/``.
"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from backprop_autograder import build as builder
from backprop_autograder import pipeline
from backprop_autograder.assemble import is_exercise, is_test, solved
from backprop_autograder.lessons import LESSONS, ROOT, Lesson, lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS

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
    cell = exercise_cell(nb, exercise_names(nb)[-1])
    header = cell.source.split("\n", 1)[0]  # def name(...):
    cell.source = f"{header}\n    {body}\n"
    return nb


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
    cell = exercise_cell(nb, exercise_names(nb)[0])
    header, body = cell.source.split("\n", 1)
    noise = (
        "    import sys, warnings\n"
        "    warnings.warn('this is only a warning', RuntimeWarning)\n"
        "    warnings.warn('so is this', DeprecationWarning)\n"
        "    print('a note on stderr', file=sys.stderr)\n"
    )
    cell.source = f"{header}\n{noise}{body}"
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


def mistakes(the_lesson: Lesson) -> dict[str, Callable[[Lesson], Notebook]]:
    """One student per known mistake of the lesson."""
    students = {}
    for case in MISCONCEPTIONS:
        if case.topic == the_lesson.topic:

            def make(lesson_: Lesson, case=case) -> Notebook:
                nb = perfect(lesson_)
                exercise_cell(nb, case.exercise).source = case.source
                return nb

            # LMS file names use "_" between their parts: ids use "-" only.
            students[f"mistake-{case.mistake}-{case.exercise}".replace("_", "-")] = make
    return students


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
    }


# Files that are not gradable notebooks: student id -> (file name suffix, content).
BROKEN_FILES = {
    "malformed-json": ("{notebook}", '{"cells": [ this is not json'),
    "empty-file": ("{notebook}", ""),
}
MISNAMED = "misnamed_homework.ipynb"
WRONG_NOTEBOOK = "wrong-notebook"  # hands in another lesson's notebook


def pack(the_lesson: Lesson, archive: Path) -> None:
    """The class as an LMS download: <student>_<submission number>_<notebook>."""
    notebook = f"{the_lesson.name}.ipynb"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zipped:
        for number, (student, make) in enumerate(students(the_lesson).items(), start=1001):
            zipped.writestr(f"{student}_{number}_{notebook}", nbformat.writes(make(the_lesson)))
        for student, (suffix, content) in BROKEN_FILES.items():
            zipped.writestr(f"{student}_{suffix.format(notebook=notebook)}", content)
        zipped.writestr(MISNAMED, nbformat.writes(perfect(the_lesson)))
        other = next(x for x in LESSONS if x != the_lesson)
        zipped.writestr(f"{WRONG_NOTEBOOK}_{other.name}.ipynb", nbformat.writes(blank(other)))


def run(the_lesson: Lesson, out: Path = OUT, timeout: int = 10) -> pipeline.Report:
    """Build the assignment, pack the class, grade it; grades and feedback go to ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    course_dir = out / "course"
    builder.build([the_lesson], course_dir)
    pack(the_lesson, out / "downloads.zip")
    args = pipeline.parser().parse_args(
        ["--course-dir", str(course_dir), "--timeout", str(timeout), "grade", the_lesson.name,
         "--from", str(out / "downloads.zip"), "--csv", str(out / "grades.csv")]
    )  # fmt: skip
    args.lesson = the_lesson.name
    report = pipeline.grade(args)
    shutil.copytree(course_dir / "feedback", out / "feedback", dirs_exist_ok=True)
    (out / "summary.txt").write_text(pipeline.summary(report) + "\n")
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", default="01_forward_pass")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--timeout", type=int, default=10)
    args = parser.parse_args(argv)
    report = run(lesson(args.lesson), args.out, args.timeout)
    print(pipeline.summary(report))
    print(f"grades: {args.out / 'grades.csv'}   feedback: {args.out / 'feedback'}")


if __name__ == "__main__":
    main()
