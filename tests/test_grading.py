"""The instructor's pipeline end to end: the demo class graded by backprop-grade.

One run of the demo (lesson 01, the session's ``demo_run`` in conftest.py):
every student's scores, the summary's lines, the CSV's shape and the
feedback's contents. A second, small class checks that grading is repeatable
and that a late submission changes only its own row.
"""

from __future__ import annotations

import ast
import csv
import glob
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from backprop_autograder import cli, demo, pipeline
from backprop_autograder.assemble import BEGIN_HIDDEN, END_HIDDEN
from backprop_autograder.build import build, nbgrader_env
from backprop_autograder.lessons import LESSONS, lesson
from backprop_autograder.misconceptions import MISCONCEPTIONS
from backprop_course.checking import MISTAKES

pytestmark = [pytest.mark.grading, pytest.mark.slow,
              pytest.mark.xdist_group("demo_class")]  # they share demo_run

LESSON = lesson("01_forward_pass")
GRADES = f"grades_{LESSON.name}.csv"


def rows(path: Path) -> dict[str, dict[str, float]]:
    with path.open() as f:
        return {
            row["student_id"]: {k: float(v) for k, v in row.items() if k != "student_id"}
            for row in csv.DictReader(f)
        }


def points() -> dict[str, float]:
    nb = nbformat.read(LESSON.notebook, as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"].removeprefix("check_"): c.metadata["nbgrader"]["points"]
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def test_grades_csv_has_one_column_per_exercise_then_raw_penalty_total_and_max(demo_run):
    out, _ = demo_run
    with (out / GRADES).open() as f:
        header = next(csv.reader(f))
    assert header == ["student_id", *points(), "raw", "late_penalty", "total", "max"]


def test_every_student_gets_exactly_the_expected_scores(demo_run):
    out, _ = demo_run
    grades, worth = rows(out / GRADES), points()
    full = sum(worth.values())
    exercises = list(worth)
    last = exercises[-1]

    def expect(student, lost=()):
        row = grades[student]
        for name in exercises:
            assert row[name] == (0 if name in lost else worth[name]), (student, name)
        assert row["total"] == full - sum(worth[name] for name in lost)
        assert row["max"] == full

    expect("perfect")
    expect("blank", lost=exercises)
    expect("half-finished", lost=exercises[len(exercises) // 2 :])
    for student in ("kernel-killer", "segfault", "infinite-loop"):
        expect(student, lost=[last])
    for student in ("warnings-only", "edited-tests", "deleted-tests"):
        expect(student)
    for case in MISCONCEPTIONS:
        if case.topic == LESSON.topic:
            student = f"mistake-{case.mistake}-{case.exercise}".replace("_", "-")
            row = grades[student]
            assert row[case.exercise] < worth[case.exercise], student
            others = [name for name in exercises if name != case.exercise]
            assert all(row[name] == worth[name] for name in others), student
    # Two more students make the lesson's first mistake (its most common one in the class).
    first = next(case for case in MISCONCEPTIONS if case.topic == LESSON.topic)
    twin = f"mistake-{first.mistake}-{first.exercise}".replace("_", "-")
    common = [student for student in grades if student.startswith("common-")]
    assert len(common) == 2 and all(grades[student] == grades[twin] for student in common)
    # A softmax that overflows for large inputs loses every case: each hidden case holds a
    # column where exp overflows without the shift (no share kept by accident).
    assert grades["mistake-unstable-softmax-softmax"]["softmax"] == 0


def test_broken_files_are_named_and_kept_out_of_the_grades(demo_run):
    out, report = demo_run
    grades = rows(out / GRADES)
    text = "\n".join(report.attention)
    assert re.search(r"malformed-json: .*not a valid notebook", text)
    assert re.search(r"empty-file: .*is empty", text)
    assert re.search(rf"{demo.MISNAMED}: file name does not match", text)
    assert re.search(rf"{demo.WRONG_NOTEBOOK}: .*not a notebook of {LESSON.name}", text)
    assert re.search(rf"{demo.WRONG_NOTEBOOK}: no {LESSON.name}.ipynb in the submission", text)
    for student in ("malformed-json", "empty-file", demo.WRONG_NOTEBOOK):
        assert student not in grades
    assert re.search(r"kernel-killer: check_parameter_count killed the kernel", text)
    assert re.search(r"segfault: check_parameter_count killed the kernel", text)
    assert re.search(r"infinite-loop: check_parameter_count ran out of time", text)
    assert re.search(r"^edited-tests: check_\w+ was edited; the original was graded", text, re.M)
    assert re.search(r"^deleted-tests: check_\w+ was deleted or relabelled", text, re.M)
    assert not re.search(r"^(perfect|warnings-only|blank|half-finished):", text, re.M)


def test_summary_reports_students_means_and_distribution(demo_run):
    out, report = demo_run
    summary = (out / f"summary_{LESSON.name}.txt").read_text()
    assert f"{len(report.scores)} students graded" in summary
    for name in points():
        assert re.search(rf"^{name}\s+\d+\.\d\d\s+\d+\s+\d+\s+\d+$", summary, re.M), name


def hidden_texts(out: Path) -> list[str]:
    source = out / "course" / "source" / LESSON.name / f"{LESSON.name}.ipynb"
    found = []
    for cell in nbformat.read(source, as_version=4).cells:
        for region in cell.source.split(BEGIN_HIDDEN)[1:]:
            found += [line.strip() for line in region.split(END_HIDDEN)[0].splitlines()]
    return [line for line in found if len(line) > 20]


def test_feedback_shows_messages_but_no_hidden_code_or_expected_values(demo_run):
    out, _ = demo_run
    pages = {
        Path(p).parts[-3]: Path(p).read_text() for p in glob.glob(f"{out}/feedback/*/*/*.html")
    }
    assert {"perfect", "blank", "mistake-transposed-dense-forward"} <= set(pages)
    hidden = hidden_texts(out)
    assert hidden
    for student, page in pages.items():
        for line in hidden:
            assert line not in page, (student, line[:60])
        assert "BEGIN HIDDEN" not in page and "_replay" not in page
    mistaken = pages["mistake-transposed-dense-forward"]
    assert "hidden check: dense_forward(array of shape" in mistaken
    assert re.search(r"dense_forward: 0 of \d+ hidden checks passed, 0 of \d+ points", mistaken)
    assert "likely mistake: transposed" in mistaken
    assert MISTAKES["transposed"].split(":")[0] in mistaken
    assert "✘" not in pages["perfect"]


# -- repeatable, and a late submission changes one row only -------------------------------


def small_class(tmp_path: Path, students: dict[str, nbformat.NotebookNode]) -> Path:
    archive = tmp_path / f"class{len(students)}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for student, nb in students.items():
            zipped.writestr(f"{student}_{LESSON.name}.ipynb", nbformat.writes(nb))
    return archive


def grade(course_dir: Path, archive: Path, csv_path: Path) -> str:
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "grade", LESSON.name,
         "--from", str(archive), "--csv", str(csv_path)]
    )  # fmt: skip
    args.lesson = LESSON.name
    pipeline.grade(args)
    return csv_path.read_text()


def test_grading_twice_is_the_same_and_a_late_submission_changes_its_row_only(tmp_path):
    course_dir = tmp_path / "course"
    build([LESSON], course_dir)
    mistake = next(case for case in MISCONCEPTIONS if case.topic == LESSON.topic)
    wrong = demo.perfect(LESSON)
    demo.exercise_cell(wrong, mistake.exercise).source = mistake.source
    on_time = {"ann": demo.perfect(LESSON), "bob": demo.blank(LESSON), "cy": wrong}
    first = grade(course_dir, small_class(tmp_path, on_time), tmp_path / "a.csv")
    again = grade(course_dir, small_class(tmp_path, on_time), tmp_path / "b.csv")
    assert first == again
    late = {**on_time, "dee": demo.half_finished(LESSON)}
    after = grade(course_dir, small_class(tmp_path, late), tmp_path / "c.csv")
    before_rows, after_rows = first.splitlines(), after.splitlines()
    assert [line for line in after_rows if not line.startswith("dee,")] == before_rows
    assert len(after_rows) == len(before_rows) + 1


def test_parallel_workers_give_exactly_the_serial_grades(demo_run, tmp_path):
    """The demo class (crashes, timeouts, broken files included): one worker gives exactly
    the grades demo_run's three workers gave."""
    out, _ = demo_run
    course_dir, serial_csv = tmp_path / "serial", tmp_path / "serial.csv"
    build([LESSON], course_dir)
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "--timeout", "10", "--workers", "1",
         "grade", LESSON.name, "--from", str(out / f"downloads_{LESSON.name}.zip"),
         "--csv", str(serial_csv)]
    )  # fmt: skip
    args.lesson = LESSON.name
    pipeline.grade(args)
    parallel = (out / GRADES).read_text()
    assert serial_csv.read_text() == parallel
    ids = [line.split(",")[0] for line in parallel.splitlines()[1:]]
    assert len(ids) == len(set(ids)) >= len(demo.students(LESSON))  # every student, once


# Handed in beside the notebook, they would break every import if the kernel found them.
SHADOWS = {
    "numpy.py": "raise ImportError('the numpy.py handed in')\n",
    "backprop_course/__init__.py": "raise ImportError('the backprop_course/ handed in')\n",
}


def coalesced(outputs: list) -> list:
    """Outputs with neighbouring text of one stream joined: how the kernel splits a
    printed line into messages depends on timing, not on the code."""
    joined: list = []
    for out in outputs:
        if (joined and out.get("output_type") == "stream" == joined[-1].get("output_type")
                and out.get("name") == joined[-1].get("name")):  # fmt: skip
            joined[-1] = {**joined[-1], "text": joined[-1]["text"] + out["text"]}
        else:
            joined.append(dict(out))
    return joined


def test_release_and_collect_through_the_nbgrader_exchange(tmp_path):
    """Release, students' fetch and submit (nbgrader's own commands), collect, grade.

    Both hand in the same notebook; alice's folder also holds files named like the
    modules the notebook imports, which must change nothing (the kernel's working
    folder is not on its sys.path) and stay as she handed them in.
    """
    course_dir, exchange, home = tmp_path / "course", tmp_path / "exchange", tmp_path / "home"
    exchange.mkdir(mode=0o777)
    home.mkdir()
    build([LESSON], course_dir)
    cli.main(["--course-dir", str(course_dir), "--exchange", str(exchange),
                   "release", LESSON.name])  # fmt: skip
    options = ["--course", "backprop", f"--Exchange.root={exchange}"]

    def nbgrader_as_student(*command: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", *command, *options],
            cwd=home, env=nbgrader_env(), capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    nbgrader_as_student("fetch_assignment", LESSON.name)
    fetched = home / LESSON.name / f"{LESSON.name}.ipynb"
    assert fetched.exists()
    nbformat.write(demo.perfect(LESSON), fetched)
    nbgrader_as_student("submit", LESSON.name, "--student=bob")
    for name, text in SHADOWS.items():
        (fetched.parent / name).parent.mkdir(exist_ok=True)
        (fetched.parent / name).write_text(text)
    nbgrader_as_student("submit", LESSON.name, "--student=alice")
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "--exchange", str(exchange), "grade", LESSON.name,
         "--csv", str(tmp_path / "grades.csv")]
    )  # fmt: skip
    args.lesson = LESSON.name
    report = pipeline.grade(args)
    assert not report.attention
    grades = rows(tmp_path / "grades.csv")
    assert set(grades) == {"alice", "bob"}
    assert grades["alice"] == grades["bob"]
    assert grades["alice"]["total"] == grades["alice"]["max"] == sum(points().values())
    outputs = {
        student: [coalesced(cell.get("outputs"))
                  for cell in read_autograded(course_dir, student).cells
                  if cell.metadata.get("nbgrader", {}).get("grade")]
        for student in grades
    }  # fmt: skip
    assert outputs["alice"] == outputs["bob"]
    for name, text in SHADOWS.items():
        assert (course_dir / "submitted" / "alice" / LESSON.name / name).read_text() == text
    assert not (course_dir / "submitted" / "bob" / LESSON.name / "numpy.py").exists()
    # the feedback goes back the same way: released by the instructor, fetched by alice
    cli.main(["--course-dir", str(course_dir), "--exchange", str(exchange),
              "release-feedback", LESSON.name])  # fmt: skip
    nbgrader_as_student("fetch_feedback", LESSON.name, "--student=alice")
    fetched_feedback = list((home / LESSON.name / "feedback").glob(f"*/{LESSON.name}.html"))
    assert fetched_feedback  # one per submission this home folder made
    assert all("hidden check" in page.read_text() for page in fetched_feedback)


def read_autograded(course_dir: Path, student: str) -> nbformat.NotebookNode:
    path = course_dir / "autograded" / student / LESSON.name / f"{LESSON.name}.ipynb"
    return nbformat.read(path, as_version=4)


@pytest.mark.parametrize("the_lesson", LESSONS, ids=lambda x: x.name)
def test_every_demo_hand_in_is_the_python_it_claims_to_be(the_lesson):
    """The demo's students break their code on purpose, but never by a syntax error."""
    for student, make in demo.students(the_lesson).items():
        for cell in make(the_lesson).cells:
            if cell.cell_type == "code":
                try:
                    ast.parse(cell.source)
                except SyntaxError as error:
                    pytest.fail(f"{student}: {error}\n{cell.source}")
