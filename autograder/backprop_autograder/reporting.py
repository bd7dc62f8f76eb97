"""What a grading run found, and how it is told: the summary, the grades CSV, the incidents.

Scores come from nbgrader's gradebook (wherever the course keeps it, see
:mod:`backprop_autograder.course`); what went wrong with a submission comes from
its autograded notebook and its submitted one.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from backprop_autograder import scoring
from backprop_autograder.preprocessors import KERNEL_DIED


@dataclass
class Report:
    """What a grading run found: scores, and the submissions that need a look."""

    assignment: str
    exercises: dict[str, float]  # test cell grade id -> its points
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    max_scores: dict[str, float] = field(default_factory=dict)
    attention: list[str] = field(default_factory=list)

    def note(self, student: str, reason: str) -> None:
        self.attention.append(f"{student}: {reason}")


def incidents(course_dir: Path, assignment: str, student: str) -> list[str]:
    """What went wrong while grading, from the autograded notebook, and what the student
    changed in the locked cells, from the submitted one."""
    nb = read_notebook(course_dir / "autograded" / student / assignment / f"{assignment}.ipynb")
    notes = []
    no_results: dict[str, list[str]] = {}  # why a test cell sent no results -> those cells
    for index, cell in enumerate(nb.cells):
        name = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        stopped = False  # the kernel was stopped in this cell: that is its note
        for out in cell.get("outputs", []):
            if out.output_type != "error":
                continue
            stopped = stopped or out.ename == KERNEL_DIED or "Timeout" in out.ename
            if out.ename == KERNEL_DIED and "CPU time" in out.evalue:
                notes.append(f"{name} used up its CPU time; the other cells were graded")
            elif out.ename == KERNEL_DIED:
                notes.append(f"{name} killed the kernel; the other cells were graded")
            elif "Timeout" in out.ename:
                notes.append(f"{name} ran out of time; the other cells were graded")
        # Every test cell without results, whatever stopped it: an error in the cell
        # (raised outside the graded part, or caused by an earlier cell), or nothing.
        reason = no_results_reason(cell)
        if reason is not None and not stopped:
            no_results.setdefault(reason, []).append(name)
        if _says(cell, f"likely mistake: {scoring.mistake_title('uncheckable_result')}"):
            notes.append(f"{name}: results that are not plain data scored 0")
    for reason, names in no_results.items():
        notes.append(
            f"the hidden checks of {', '.join(names)} sent no results (scored 0): {reason}"
        )
    submitted = course_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    release = course_dir / "release" / assignment / f"{assignment}.ipynb"
    try:
        notes += locked_cell_changes(read_notebook(submitted), read_notebook(release))
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        notes.append("its cells could not be compared with the released ones")
    return notes


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A notebook nbgrader has already read, without validating it again (that is slow)."""
    text = path.read_text()
    try:
        return nbformat.v4.reads(text)
    except Exception:  # another format version: nbformat converts it
        return nbformat.reads(text, as_version=4)


def no_results_reason(cell: nbformat.NotebookNode) -> str | None:
    """Why a test cell's hidden checks sent no results (the error that stopped it, or the
    grader's guess), or None if they did. Read from the verdict the grader wrote last into
    the cell, so that nothing the student printed before it counts."""
    if not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
        return None
    texts = [out.text for out in cell.get("outputs", []) if out.output_type == "stream"]
    if not texts or not texts[-1].startswith(scoring.DID_NOT_RUN):
        return None
    return texts[-1].splitlines()[0].removeprefix(scoring.DID_NOT_RUN).removeprefix(": ")


def _says(cell: nbformat.NotebookNode, text: str) -> bool:
    return any(out.output_type == "stream" and text in out.text for out in cell.get("outputs", []))


LOCKED_KEYS = ("grade", "solution", "locked", "points", "grade_id")


def locked_cell_changes(
    submitted: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> list[str]:
    """The released locked cells (test cells among them) a student deleted, edited or
    relabelled. nbgrader restores them before grading; the summary says so."""

    def meta(cell: nbformat.NotebookNode) -> dict:
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        return {key: nbgrader.get(key) for key in LOCKED_KEYS}

    theirs = {meta(c)["grade_id"]: c for c in submitted.cells if meta(c)["grade_id"]}
    changes = []
    for cell in release.cells:
        grade_id = meta(cell)["grade_id"]
        if not (grade_id and meta(cell)["locked"]):
            continue
        mine = theirs.get(grade_id)
        if mine is None:
            changes.append(f"{grade_id} was deleted or relabelled; the original was graded")
        elif mine.cell_type != cell.cell_type:
            changes.append(f"{grade_id} was made a {mine.cell_type} cell; the original was graded")
        elif mine.source != cell.source:
            changes.append(f"{grade_id} was edited; the original was graded")
        elif meta(mine) != meta(cell):
            changes.append(f"{grade_id}'s nbgrader metadata was changed; the original was graded")
    return changes


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


def export_csv(report: Report, path: Path) -> None:
    """student_id, one column per exercise (its points), total, max; sorted by student."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [name.removeprefix("check_") for name in report.exercises]
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", *names, "total", "max"])
        for student in sorted(report.scores):
            row = report.scores[student]
            values = [row[name] for name in report.exercises]
            writer.writerow(
                [student, *map(_number, values), _number(sum(values)),
                 _number(report.max_scores[student])]
            )  # fmt: skip


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
        totals = [sum(row.values()) for row in report.scores.values()]
        lines.append(f"{'total':<26} {sum(totals) / len(totals):6.2f}")
    lines.append(f"needs attention: {len(report.attention)}")
    lines += [f"  - {line}" for line in report.attention]
    return "\n".join(lines)
