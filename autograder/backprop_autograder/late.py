"""Late work: due dates, a penalty schedule, extensions and submission times, all in nbgrader.

Nothing here keeps its own books. nbgrader already has every part:

- the due date is the gradebook assignment's ``duedate`` (:func:`set_due_date`);
- an extension is the gradebook submission's ``extension`` (:func:`apply_extensions`);
- the time of a submission is its ``timestamp.txt``, which nbgrader's exchange
  ``collect`` writes, and :func:`write_submission_times` writes for an LMS zip;
- the penalty is worked out by nbgrader's ``AssignLatePenalties`` step while
  autograding, with the plugin this module defines (:class:`PenaltySchedule`),
  and stored per notebook (``late_submission_penalty``): nbgrader's feedback
  shows it, and its score is ``score - penalty``.

A due date or an extension that changes after grading would leave the stored
penalties stale (nbgrader issue #723 is that bug in another form), so every
change here works them out again for the whole assignment
(:func:`reapply_penalties`), without grading anything twice.

Times are given with their UTC offset (``2026-12-10T23:59+01:00``): a bare
clock time would mean UTC to nbgrader and an hour's difference to a student.
"""

from __future__ import annotations

import collections
import csv
import datetime
import math
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float
from traitlets.config import Config
from traitlets.utils.importstring import import_item

SECONDS_PER_DAY = 24 * 3600
EXTENSIONS_FOLDER = "extensions"  # in the course directory: <lesson>.csv, as last given
EXTENSION_UNITS = ("weeks", "days", "hours", "minutes")


class LateWorkError(ValueError):
    """A due date, an extension or a submission time that cannot be used as given."""


# -- the penalty schedule -----------------------------------------------------------------


def schedule_penalty(
    score: float, seconds_late: float, grace_minutes: float, per_day: float, cap: float
) -> float:
    """The points a late notebook loses: ``per_day`` of its score for each day or part of a
    day after the grace period, at most ``cap`` of its score.

    A minute past the grace period is a day late: students can read the rule off a
    calendar, and a submission 23 hours late is not 4% better than one 24 hours late.
    """
    late = seconds_late - 60 * grace_minutes
    if late <= 0 or score <= 0:
        return 0.0
    days = math.ceil(late / SECONDS_PER_DAY)
    return round(score * min(cap, per_day * days), 2)


class PenaltySchedule(LateSubmissionPlugin):
    """nbgrader's late-submission plugin for this course (``AssignLatePenalties.plugin_class``).

    Set the schedule in the course's nbgrader_config.py, below the line that keeps
    the course's own settings: ``c.PenaltySchedule.per_day = 0.2`` and so on.
    """

    grace_minutes = Float(15.0, help="Minutes after the due date that still count as on time.").tag(
        config=True
    )
    per_day = Float(
        0.10, help="Share of the notebook's score lost per day, or part of a day, late."
    ).tag(config=True)
    cap = Float(0.50, help="The largest share of the score a late notebook loses.").tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float:
        return schedule_penalty(
            score, total_seconds_late, self.grace_minutes, self.per_day, self.cap
        )

    def describe(self) -> str:
        return (
            f"{self.grace_minutes:g} minutes' grace, then {self.per_day:.0%} of the score "
            f"per day or part of a day late, at most {self.cap:.0%}"
        )


def penalty_plugin(config: Config) -> LateSubmissionPlugin:
    """The late-submission plugin the course's configuration names, configured by it."""
    plugin = config.AssignLatePenalties.get("plugin_class", PenaltySchedule)
    plugin_class = import_item(plugin) if isinstance(plugin, str) else plugin
    return plugin_class(config=config)


# -- reading times ------------------------------------------------------------------------


def parse_time(text: str, where: str = "") -> datetime.datetime:
    """An ISO 8601 time with its UTC offset, as naive UTC (how nbgrader stores times)."""
    text = text.strip()
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise LateWorkError(
            f"{where}{text!r} is not a time: write it as 2026-12-10T23:59+01:00"
        ) from None
    if moment.tzinfo is None:
        raise LateWorkError(
            f"{where}{text!r} has no UTC offset: add one, as in {text}+01:00 or {text}Z, "
            "so that it means the same time everywhere"
        )
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)


def read_rows(path: Path, *required: str) -> list[tuple[int, dict[str, str]]]:
    """A CSV file's rows with their line numbers; each of ``required`` must be a column."""
    if not path.is_file():
        raise LateWorkError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        for column in required:
            if column not in columns:
                raise LateWorkError(
                    f"{path}: no {column!r} column (its columns: {', '.join(columns) or 'none'})"
                )
        return [
            (number, {key.strip(): (value or "").strip() for key, value in row.items() if key})
            for number, row in enumerate(reader, start=2)
        ]


# -- due dates ----------------------------------------------------------------------------


def set_due_date(db_url: str, assignment: str, when: str | None) -> datetime.datetime | None:
    """Set (``when``: ISO time with offset) or remove (None) the assignment's due date."""
    duedate = parse_time(when, "the due date ") if when is not None else None
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment(assignment, duedate=duedate)
    return duedate


def due_date(db_url: str, assignment: str) -> datetime.datetime | None:
    with Gradebook(db_url) as gradebook:
        try:
            return gradebook.find_assignment(assignment).duedate
        except MissingEntry:
            return None


# -- extensions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    student: str
    minutes: float


def read_extensions(path: Path, duedate: datetime.datetime | None) -> list[Extension]:
    """``student_id`` with either ``until`` (a time with its offset) or any of weeks, days,
    hours, minutes; an ``until`` needs the assignment's due date to measure from."""
    extensions = []
    for line, row in read_rows(path, "student_id"):
        where = f"{path}, line {line}: "
        student = row["student_id"]
        if not student:
            raise LateWorkError(f"{where}no student_id")
        if row.get("until"):
            if duedate is None:
                raise LateWorkError(
                    f"{where}an extension 'until' a time needs the assignment's due date: "
                    "set it first with `backprop-grade due LESSON TIME`"
                )
            minutes = (parse_time(row["until"], where) - duedate).total_seconds() / 60
        else:
            minutes = sum(_amount(row, unit, where) * _MINUTES[unit] for unit in EXTENSION_UNITS)
        if minutes < 0:
            raise LateWorkError(f"{where}the extension of {student} ends before the due date")
        extensions.append(Extension(student, minutes))
    counts = collections.Counter(e.student for e in extensions)
    duplicates = [student for student, count in counts.items() if count > 1]
    if duplicates:
        raise LateWorkError(f"{path}: more than one extension for {', '.join(sorted(duplicates))}")
    return extensions


_MINUTES = {"weeks": 7 * 24 * 60, "days": 24 * 60, "hours": 60, "minutes": 1}


def _amount(row: dict[str, str], unit: str, where: str) -> float:
    text = row.get(unit, "")
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        raise LateWorkError(f"{where}{unit} is {text!r}, not a number") from None


def store_extensions(course_dir: Path, assignment: str, extensions: list[Extension]) -> Path:
    """Keep the assignment's extensions in the course directory: the students who have not
    been graded yet have no submission in the gradebook to carry theirs."""
    path = course_dir / EXTENSIONS_FOLDER / f"{assignment}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", "minutes"])
        writer.writerows([e.student, f"{e.minutes:g}"] for e in extensions)
    return path


def stored_extensions(course_dir: Path, assignment: str) -> list[Extension]:
    path = course_dir / EXTENSIONS_FOLDER / f"{assignment}.csv"
    if not path.exists():
        return []
    return read_extensions(path, None)


def apply_extensions(
    db_url: str, assignment: str, extensions: list[Extension], students: list[str]
) -> None:
    """Give each of ``students`` (those being graded and those already graded) exactly the
    extension stored for them, and no other: a student left out of a new file loses theirs.

    A student about to be graded gets a submission in the gradebook first, where nbgrader
    keeps the extension; autograding then finds it there.
    """
    minutes = {e.student: e.minutes for e in extensions}
    with Gradebook(db_url) as gradebook:
        graded = {s.student.id: s for s in gradebook.find_assignment(assignment).submissions}
        for student in sorted(set(students) | set(graded)):
            wanted = minutes.get(student, 0)
            given = graded[student].extension if student in graded else None
            if (given.total_seconds() / 60 if given else 0) == wanted:
                continue  # already so: no write
            if student not in graded:
                gradebook.update_or_create_student(student)
                gradebook.update_or_create_submission(assignment, student)
            gradebook.grant_extension(assignment, student, minutes=wanted)


# -- submission times for an LMS zip --------------------------------------------------------


def write_submission_times(course_dir: Path, assignment: str, path: Path) -> list[str]:
    """Each collected student's ``submitted/<student>/<lesson>/timestamp.txt`` from a CSV
    (``student_id``, ``submitted_at`` with its offset), as nbgrader's collect writes it.

    LMS downloads do not carry submission times; this is how they reach nbgrader.
    Returns the collected students the file has no time for (graded as on time).
    """
    times = {}
    for line, row in read_rows(path, "student_id", "submitted_at"):
        times[row["student_id"]] = parse_time(row["submitted_at"], f"{path}, line {line}: ")
    missing = []
    for folder in sorted((course_dir / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        if student in times:
            (folder / "timestamp.txt").write_text(times[student].isoformat(" "))
        else:
            missing.append(student)
    return missing


# -- penalties, worked out again --------------------------------------------------------------


@dataclass(frozen=True)
class Lateness:
    """One graded submission: how late, and what it lost."""

    student: str
    seconds_late: float
    penalty: float


def reapply_penalties(db_url: str, config: Config, assignment: str) -> list[Lateness]:
    """Every graded submission's penalty worked out again from the gradebook's due date,
    extensions and timestamps, as nbgrader's AssignLatePenalties does while autograding:
    per notebook, from its score, never below 0 or above the score."""
    plugin = penalty_plugin(config)
    found = []
    with Gradebook(db_url) as gradebook:
        for submission in gradebook.find_assignment(assignment).submissions:
            seconds = submission.total_seconds_late
            total = 0.0
            for notebook in submission.notebooks:
                penalty = None
                if seconds > 0:
                    penalty = plugin.late_submission_penalty(
                        submission.student.id, notebook.score, seconds
                    )
                if penalty is not None:
                    penalty = min(max(penalty, 0.0), notebook.score)
                notebook.late_submission_penalty = penalty
                total += penalty or 0.0
            found.append(Lateness(submission.student.id, seconds, total))
        gradebook.db.commit()
    return sorted(found, key=lambda late: late.student)


def describe_lateness(found: list[Lateness]) -> list[str]:
    """One line per late submission: who, how late, what it lost."""
    return [
        f"{late.student}: {_duration(late.seconds_late)} late, -{late.penalty:g} points"
        for late in found
        if late.seconds_late > 0
    ]


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), SECONDS_PER_DAY)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"]
    return " ".join(parts[:2])
