"""What a grading run found, and how it is told: the summary, the grades CSV, the incidents.

Scores come from nbgrader's gradebook (wherever the course keeps it, see
:mod:`backprop_autograder.course`); what went wrong with a submission comes from
the verdicts grading wrote into its autograded notebook's metadata
(:mod:`backprop_autograder.cell_verdicts`), never from the prose of its messages.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from backprop_autograder.cell_verdicts import (
    CellVerdict,
    locked_cells_compared,
    read_verdicts,
    recorded_locked_changes,
)


@dataclass
class Report:
    """What a grading run found: scores, and the submissions that need a look."""

    assignment: str
    exercises: dict[str, float]  # test cell grade id -> its points
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    penalties: dict[str, float] = field(default_factory=dict)  # late penalty, when there is one
    attention: list[str] = field(default_factory=list)

    def note(self, student: str, reason: str) -> None:
        self.attention.append(f"{student}: {reason}")

    def raw(self, student: str) -> float:
        """The student's points before any late penalty."""
        return sum(self.scores[student].values())

    def final(self, student: str) -> float:
        """The points that count: the raw points less the late penalty (nbgrader's score)."""
        return round(self.raw(student) - self.penalties.get(student, 0.0), 2)


def incidents(course_dir: Path, assignment: str, student: str) -> list[str]:
    """What went wrong while grading, and what the student changed in the locked cells.

    Read from what the grader recorded, as data, in the autograded notebook's
    metadata (:mod:`backprop_autograder.cell_verdicts`), never from the messages
    in its cells, which student code can print too.
    """
    nb = read_notebook(course_dir / "autograded" / student / assignment / f"{assignment}.ipynb")
    return notebook_incidents(nb)


def notebook_incidents(nb: nbformat.NotebookNode) -> list[str]:
    """:func:`incidents`, from an autograded notebook already read."""
    notes = []
    no_results: dict[str, list[str]] = {}  # why a test cell sent no results -> those cells
    for verdict in read_verdicts(nb):
        if verdict.stopped:  # the kernel was stopped in this cell: that is its note
            notes.append(STOPPED_NOTES[verdict.stopped].format(name=verdict.name))
        # Every test cell without results, whatever stopped it: an error in the cell
        # (raised outside the graded part, or caused by an earlier cell), or nothing.
        reason = no_results_reason(verdict)
        if reason is not None and not verdict.stopped:
            no_results.setdefault(reason, []).append(verdict.name)
        if verdict.hidden_checks and verdict.hidden_checks.unreadable_results:
            notes.append(f"{verdict.name}: results that are not plain data scored 0")
    for reason, names in no_results.items():
        notes.append(
            f"the hidden checks of {', '.join(names)} sent no results (scored 0): {reason}"
        )
    return notes + locked_cell_changes(nb)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook nbgrader has already read, without validating it again (that is slow)."""
    text = path.read_text()
    try:
        return nbformat.v4.reads(text)
    except Exception:  # another format version: nbformat converts it
        return nbformat.reads(text, as_version=4)


STOPPED_NOTES = {
    "out_of_cpu": "{name} used up its CPU time; the other cells were graded",
    "killed_kernel": "{name} killed the kernel; the other cells were graded",
    "timed_out": "{name} ran out of time; the other cells were graded",
}
LOCKED_CHANGE_NOTES = {
    "deleted": "{name} was deleted or relabelled; the original was graded",
    "retyped": "{name} was made a {cell_type} cell; the original was graded",
    "edited": "{name} was edited; the original was graded",
    "metadata_changed": "{name}'s nbgrader metadata was changed; the original was graded",
}


def no_results_reason(verdict: CellVerdict) -> str | None:
    """Why a test cell's hidden checks sent no results (the error that stopped it, or the
    grader's guess), on one line, or None if they ran."""
    checks = verdict.hidden_checks
    if checks is None or checks.ran:
        return None
    lines = (checks.reason or "").splitlines()
    return lines[0] if lines else ""


def locked_cell_changes(nb: nbformat.NotebookNode) -> list[str]:
    """The released locked cells (test cells among them) a student deleted, retyped, edited
    or relabelled, as noted before nbgrader restored them; the summary says so."""
    if not locked_cells_compared(nb):
        return ["its cells could not be compared with the released ones"]
    return [
        LOCKED_CHANGE_NOTES[change.change].format(
            name=change.grade_id, cell_type=change.submitted_cell_type
        )
        for change in recorded_locked_changes(nb)
    ]


def read_scores(db_url: str, assignment: str, report: Report) -> None:
    """Each student's score per exercise, and the assignment's maximum, from the gradebook."""
    with Gradebook(db_url) as gradebook:
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            cells = {grade.name: grade.score for nb in submission.notebooks for grade in nb.grades}
            report.scores[student.id] = {name: cells.get(name, 0.0) for name in report.exercises}
            report.max_scores[student.id] = submission.max_score
            penalty = submission.late_submission_penalty  # nbgrader's sum over the notebooks
            if penalty:
                report.penalties[student.id] = penalty


def export_csv(report: Report, path: Path) -> None:
    """student_id, one column per exercise (its points), then raw (their sum), late_penalty,
    total (raw less the penalty: what counts) and max; sorted by student."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [name.removeprefix("check_") for name in report.exercises]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", *names, "raw", "late_penalty", "total", "max"])
        for student in sorted(report.scores):
            values = [report.scores[student][name] for name in report.exercises]
            penalty = report.penalties.get(student, 0.0)
            last = [report.raw(student), penalty, report.final(student), report.max_scores[student]]
            writer.writerow([student, *map(_number, values + last)])


def _number(value: float) -> str:
    return f"{value:g}"


def summary(report: Report) -> str:
    """Students graded, mean and distribution per exercise, and what needs attention."""
    lines = [f"{report.assignment}: {len(report.scores)} students graded"]
    if report.scores:
        lines.append(f"{'exercise':<26} {'mean':>6}  {'full':>5} {'part':>5} {'zero':>5}")
        for name, worth in report.exercises.items():
            values = [row[name] for row in report.scores.values()]
            full = sum(v >= worth for v in values)
            zero = sum(v == 0 for v in values)
            lines.append(
                f"{name.removeprefix('check_'):<26} {sum(values) / len(values):6.2f}  "
                f"{full:5d} {len(values) - full - zero:5d} {zero:5d}"
            )
        totals = [report.final(student) for student in report.scores]
        lines.append(f"{'total':<26} {sum(totals) / len(totals):6.2f}")
    if report.penalties:
        lines.append(f"late penalties: {len(report.penalties)}")
        lines += [f"  - {student}: -{points:g} points" for student, points in
                  sorted(report.penalties.items())]  # fmt: skip
    lines.append(f"needs attention: {len(report.attention)}")
    lines += [f"  - {line}" for line in report.attention]
    return "\n".join(lines)
