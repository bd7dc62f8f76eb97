"""Late work: due dates, the penalty schedule, extensions and submission times, in nbgrader.

The schedule and the parsing are checked on their own; then a small class is graded
for real (nbgrader's zip_collect with submission times in the file names, its
autograde with AssignLatePenalties, its feedback), and the due date and the
extensions are changed after grading: every penalty follows, in the gradebook,
the grades CSV and the feedback, with or without grading again.
"""

from __future__ import annotations

import csv
import datetime
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import parse_utc

from backprop_autograder import cli, demo, late, pipeline
from backprop_autograder.build import build
from backprop_autograder.course import exercises_of
from backprop_autograder.lessons import lesson

LESSON = lesson("01_forward_pass")
DAY = 24 * 3600


# -- the schedule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds_late", "share"),
    [
        (0, 0.0),
        (15 * 60, 0.0),  # inside the grace period
        (15 * 60 + 1, 0.1),  # a second past it: a day late
        (DAY + 15 * 60, 0.1),
        (DAY + 15 * 60 + 1, 0.2),
        (4 * DAY, 0.4),
        (5 * DAY + 15 * 60 + 1, 0.5),  # six days: capped
        (60 * DAY, 0.5),
    ],
)
def test_schedule_takes_a_share_per_started_day_after_grace_capped(seconds_late, share):
    assert late.schedule_penalty(8.0, seconds_late, 15, 0.1, 0.5) == pytest.approx(8.0 * share)


def test_schedule_never_takes_from_nothing():
    assert late.schedule_penalty(0.0, 10 * DAY, 0, 0.1, 1.0) == 0.0


def test_plugin_reads_its_schedule_from_the_configuration():
    config = cli_config(per_day=0.25, cap=1.0, grace_minutes=0)
    plugin = late.penalty_plugin(config)
    assert isinstance(plugin, late.PenaltySchedule)
    assert plugin.late_submission_penalty("ann", 4.0, 3 * DAY) == pytest.approx(3.0)
    assert plugin.late_submission_penalty("ann", 4.0, 9 * DAY) == pytest.approx(4.0)


def cli_config(**schedule):
    from traitlets.config import Config

    config = Config()
    config.AssignLatePenalties.plugin_class = "backprop_autograder.late.PenaltySchedule"
    for key, value in schedule.items():
        setattr(config.PenaltySchedule, key, value)
    return config


# -- times and files ---------------------------------------------------------------------


def test_times_need_their_offset_and_become_utc():
    assert late.parse_time("2026-12-10T23:59+01:00") == datetime.datetime(2026, 12, 10, 22, 59)
    assert late.parse_time("2026-12-10T23:59Z") == datetime.datetime(2026, 12, 10, 23, 59)
    with pytest.raises(late.LateWorkError, match=r"no UTC offset.*2026-12-10T23:59\+01:00"):
        late.parse_time("2026-12-10T23:59")
    with pytest.raises(late.LateWorkError, match="not a time"):
        late.parse_time("next friday")


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def test_extensions_in_units_or_until_a_time(tmp_path):
    due = datetime.datetime(2026, 12, 10, 22, 0)
    path = write_csv(
        tmp_path / "ext.csv",
        [["student_id", "days", "hours", "until"],
         ["ann", "2", "", ""], ["bob", "", "36", ""], ["cy", "", "", "2026-12-11T00:30+01:00"]],
    )  # fmt: skip
    found = {e.student: e.minutes for e in late.read_extensions(path, due)}
    assert found == {"ann": 2 * 24 * 60, "bob": 36 * 60, "cy": 90}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["name", "days"], ["ann", "1"]], "no 'student_id' column"),
        ([["student_id", "days"], ["ann", "two"]], "line 2: days is 'two', not a number"),
        ([["student_id", "days"], ["ann", "1"], ["ann", "2"]], "more than one extension for ann"),
        ([["student_id", "until"], ["ann", "2026-12-09T00:00Z"]], "ends before the due date"),
        ([["student_id", "until"], ["ann", "2026-12-12"]], "line 2: .* has no UTC offset"),
    ],
)
def test_a_bad_extensions_file_says_where_and_what(tmp_path, rows, message):
    path = write_csv(tmp_path / "ext.csv", rows)
    with pytest.raises(late.LateWorkError, match=message):
        late.read_extensions(path, datetime.datetime(2026, 12, 10))


def test_until_needs_a_due_date(tmp_path):
    path = write_csv(tmp_path / "e.csv", [["student_id", "until"], ["ann", "2026-12-12T00:00Z"]])
    with pytest.raises(late.LateWorkError, match="set it first with `backprop-grade due"):
        late.read_extensions(path, None)


def test_submission_times_from_a_csv_are_what_nbgrader_reads(tmp_path):
    for student in ("ann", "bob"):
        (tmp_path / "submitted" / student / LESSON.name).mkdir(parents=True)
    times = write_csv(
        tmp_path / "times.csv", [["student_id", "submitted_at"], ["ann", "2026-12-11T01:30+02:00"]]
    )
    missing = late.write_submission_times(tmp_path, LESSON.name, times)
    assert missing == ["bob"]
    stamp = (tmp_path / "submitted" / "ann" / LESSON.name / "timestamp.txt").read_text()
    assert parse_utc(stamp) == datetime.datetime(2026, 12, 10, 23, 30)


# -- a class graded for real -----------------------------------------------------------------

STAMPED = (
    r"^(?:.*/)?(?P<student_id>[^_/]+)_(?P<timestamp>\d{4}-\d\d-\d\dT\d\d:\d\dZ)_"
    r"(?P<file_id>\d\d_[a-z_]+\.ipynb)$"
)
DUE = "2026-12-10T23:59+01:00"  # 22:59 UTC
HAND_INS = {  # student -> [(submitted at, UTC, which notebook)]: the latest counts
    "ann": [("2026-12-10T22:00Z", "perfect")],  # on time
    "bob": [("2026-12-11T01:00Z", "perfect")],  # 2 h late: one day
    "cy": [("2026-12-13T23:30Z", "perfect")],  # 3 days and 30 min late: four days
    "dee": [("2026-12-20T00:00Z", "perfect")],  # 9 days late, but has 10 days' extension
    "eve": [("2026-12-10T20:00Z", "perfect"), ("2026-12-11T00:00Z", "half_finished")],
    "fay": [("2026-12-15T00:00Z", "blank")],  # late with nothing to lose
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("late")
    course_dir = tmp / "course"
    build([LESSON], course_dir)
    archive = tmp / "downloads.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for student, hand_ins in HAND_INS.items():
            for when, kind in hand_ins:
                nb = getattr(demo, kind)(LESSON)
                zipped.writestr(f"{student}_{when}_{LESSON.name}.ipynb", nbformat.writes(nb))
    run(course_dir, "due", LESSON.name, DUE)
    extensions = write_csv(tmp / "ext.csv", [["student_id", "days"], ["dee", "10"]])
    run(course_dir, "extensions", LESSON.name, str(extensions))
    return course_dir, archive, extensions


def run(course_dir: Path, *argv: str) -> None:
    cli.main(["--course-dir", str(course_dir), *argv])


def grade(course_dir: Path, archive: Path, out: Path) -> dict[str, dict[str, float]]:
    args = cli.parser().parse_args(
        ["--course-dir", str(course_dir), "grade", LESSON.name, "--from", str(archive),
         "--pattern", STAMPED, "--csv", str(out)]
    )  # fmt: skip
    args.lesson = LESSON.name
    pipeline.grade(args)
    return read_grades(out)


def read_grades(path: Path) -> dict[str, dict[str, float]]:
    with path.open() as f:
        return {
            row["student_id"]: {k: float(v) for k, v in row.items() if k != "student_id"}
            for row in csv.DictReader(f)
        }


def export(course_dir: Path, out: Path) -> dict[str, dict[str, float]]:
    run(course_dir, "export", LESSON.name, "--csv", str(out))
    return read_grades(out)


def feedback_penalty(course_dir: Path, student: str) -> float | None:
    """The late penalty nbgrader's feedback shows the student, None if it shows none."""
    page = course_dir / "feedback" / student / LESSON.name / f"{LESSON.name}.html"
    found = re.search(r"Late submission penalty \(Score: -?([\d.]+)\)", page.read_text())
    return float(found[1]) if found else None


def expected_penalties(shares: dict[str, float], raw: dict[str, float]) -> dict[str, float]:
    return {student: round(raw[student] * shares.get(student, 0.0), 2) for student in raw}


@pytest.mark.grading
@pytest.mark.slow
def test_penalties_follow_due_date_and_extensions_in_gradebook_csv_and_feedback(graded, tmp_path):
    course_dir, archive, extensions = graded
    full = sum(exercises_of(course_dir, LESSON.name).values())
    grades = grade(course_dir, archive, tmp_path / "first.csv")
    raw = {student: row["raw"] for student, row in grades.items()}
    # the latest submission counts: eve's half-finished one, not her earlier perfect one
    assert raw["ann"] == raw["bob"] == raw["cy"] == raw["dee"] == full
    assert 0 < raw["eve"] < full and raw["fay"] == 0
    shares = {"bob": 0.1, "cy": 0.4, "eve": 0.1}  # eve: 1 h late after the due date
    check(course_dir, grades, expected_penalties(shares, raw))

    # a later due date (00:00 on the 12th, UTC), without grading again
    run(course_dir, "due", LESSON.name, "2026-12-12T01:00+01:00")
    moved = {"cy": 0.2}  # bob and eve are now on time; cy 47.5 h late: two days
    check(course_dir, export(course_dir, tmp_path / "moved.csv"), expected_penalties(moved, raw))

    # grading again gives the same, by nbgrader's own late step this time
    again = grade(course_dir, archive, tmp_path / "again.csv")
    check(course_dir, again, expected_penalties(moved, raw))

    # dee's extension withdrawn: 8 days late, capped
    write_csv(extensions, [["student_id", "days"]])
    run(course_dir, "extensions", LESSON.name, str(extensions))
    withdrawn = {**moved, "dee": 0.5}
    check(course_dir, export(course_dir, tmp_path / "w.csv"), expected_penalties(withdrawn, raw))

    # no due date: nothing is late
    run(course_dir, "due", LESSON.name, "none")
    check(course_dir, export(course_dir, tmp_path / "none.csv"), expected_penalties({}, raw))


def check(course_dir: Path, grades: dict[str, dict[str, float]], penalties: dict[str, float]):
    """The CSV's penalty and total, and the feedback's penalty, for every student."""
    assert set(grades) == set(HAND_INS)
    for student, row in grades.items():
        assert row["late_penalty"] == pytest.approx(penalties[student]), student
        assert row["total"] == pytest.approx(row["raw"] - penalties[student]), student
        shown = feedback_penalty(course_dir, student)
        assert (shown or 0.0) == pytest.approx(penalties[student]), student


def test_a_due_date_without_offset_is_refused_by_the_command(graded, capsys):
    course_dir, _, _ = graded
    with pytest.raises(SystemExit, match="no UTC offset"):
        run(course_dir, "due", LESSON.name, "2026-12-10T23:59")
