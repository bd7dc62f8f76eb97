"""What grading found in each cell, as structured metadata: the grader writes, the summary reads.

The messages a student sees in a graded cell are prose; the summary of a
grading run must not parse them. So each step that finds something also
writes it, as data, into the graded notebook under :data:`KEY`:

``cell.metadata["backprop_grading"]``, any of:

- ``"stopped"``: the cell stopped the kernel or ran out of time, one of
  :data:`STOPPED` (``ResilientExecute``);
- ``"hidden_checks"``: a test cell's hidden checks (``ScoreOutsideKernel``):
  ``{"ran": bool, "passed": int, "total": int, "score": float, "points": float,
  "reason": str or null, "unreadable_results": bool, "mistakes": {str: int}}``;
  ``reason`` says why they did not run (no results, or none that could be judged),
  ``unreadable_results`` that some result was not plain data, ``mistakes`` how many
  failed cases named each known mistake (keys of ``backprop_course.checking.MISTAKES``;
  empty when none did, and in notebooks graded before it was recorded);
- ``"locked_change"``: what the student did to this locked cell before it was
  restored, one of :data:`LOCKED_CHANGES`, with ``"submitted_cell_type"`` for
  ``"retyped"`` (``NoteLockedChanges`` and ``MarkLockedChanges``).

``nb.metadata["backprop_grading"]``: ``{"locked_cells_compared": bool,
"locked_changes": [{"grade_id", "change", "submitted_cell_type"}, ...]}``, every
change in the assignment's order, also those of deleted cells nbgrader does not
put back (only test cells come back), which have no cell to carry them.

Student code cannot write any of it: the kernel has no access to the notebook's
metadata, and whatever a submission brings under :data:`KEY` is removed before
grading (:func:`clear`). :func:`read_verdicts` reads it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from nbformat import NotebookNode

KEY = "backprop_grading"
STOPPED = ("timed_out", "out_of_cpu", "killed_kernel")
LOCKED_CHANGES = ("deleted", "retyped", "edited", "metadata_changed")


@dataclass(frozen=True)
class HiddenChecksRecord:
    """A test cell's hidden checks, as the grader scored them.

    ``mistakes``: known mistake -> how many failed cases named it.
    """

    ran: bool
    passed: int
    total: int
    score: float
    points: float
    reason: str | None = None
    unreadable_results: bool = False
    mistakes: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class LockedChange:
    """A locked cell of the assignment the student deleted, retyped, edited or relabelled."""

    grade_id: str
    change: str
    submitted_cell_type: str | None = None


@dataclass(frozen=True)
class CellVerdict:
    """Everything grading recorded about one cell.

    ``index`` is the cell's position in the graded notebook, None for a deleted
    cell that was not put back.
    """

    index: int | None
    grade_id: str | None
    stopped: str | None = None
    hidden_checks: HiddenChecksRecord | None = None
    locked_change: str | None = None
    submitted_cell_type: str | None = None

    @property
    def name(self) -> str:
        """How the summary names the cell: its grade id, else its position."""
        return self.grade_id or f"cell {self.index}"


# -- writing --------------------------------------------------------------------------------------


def note(cell: NotebookNode, **fields: Any) -> None:
    """Record ``fields`` in the cell's metadata (None removes a field)."""
    metadata = cell.setdefault("metadata", {})
    record = metadata.get(KEY)
    record = dict(record) if isinstance(record, Mapping) else {}
    for name, value in fields.items():
        if value is None:
            record.pop(name, None)
        else:
            record[name] = value
    if record:
        metadata[KEY] = record
    else:
        metadata.pop(KEY, None)


def note_stopped(cell: NotebookNode, how: str | None) -> None:
    """The cell stopped the kernel, or ran out of time (None: it did not)."""
    if how is not None and how not in STOPPED:
        raise ValueError(f"not a way to stop: {how!r}")
    note(cell, stopped=how)


def note_hidden_checks(cell: NotebookNode, record: HiddenChecksRecord) -> None:
    note(cell, hidden_checks=asdict(record))


def clear(nb: NotebookNode) -> None:
    """Remove every record: a submission may bring its own, and only the grader's count."""
    for holder in [nb, *nb.get("cells", [])]:
        metadata = holder.get("metadata") if isinstance(holder, dict) else None
        if isinstance(metadata, dict):
            metadata.pop(KEY, None)


def note_locked_changes(nb: NotebookNode, changes: list[LockedChange] | None) -> None:
    """The assignment's locked cells the student changed (None: they could not be compared)."""
    nb.setdefault("metadata", {})[KEY] = {
        "locked_cells_compared": changes is not None,
        "locked_changes": [asdict(change) for change in changes or []],
    }


def mark_locked_changes(nb: NotebookNode) -> None:
    """Copy each recorded change onto the cell with its grade id, restored or put back."""
    changes = {change.grade_id: change for change in recorded_locked_changes(nb)}
    for cell in nb.cells:
        change = changes.get(grade_id_of(cell))
        if change is not None:
            note(cell, locked_change=change.change,
                 submitted_cell_type=change.submitted_cell_type)  # fmt: skip


# -- reading --------------------------------------------------------------------------------------


def read_verdicts(nb: NotebookNode) -> list[CellVerdict]:
    """Every cell grading recorded something about, in notebook order, then the deleted
    locked cells that were not put back."""
    verdicts = [_cell_verdict(index, cell) for index, cell in enumerate(nb.cells)]
    found = [verdict for verdict in verdicts if verdict is not None]
    on_cells = {verdict.grade_id for verdict in found if verdict.locked_change}
    for change in recorded_locked_changes(nb):
        if change.grade_id not in on_cells:
            found.append(CellVerdict(None, change.grade_id, locked_change=change.change,
                                     submitted_cell_type=change.submitted_cell_type))  # fmt: skip
    return found


def locked_cells_compared(nb: NotebookNode) -> bool:
    """Whether the submitted locked cells were compared with the assignment's."""
    return bool(_notebook_record(nb).get("locked_cells_compared"))


def recorded_locked_changes(nb: NotebookNode) -> list[LockedChange]:
    """The changes to locked cells recorded in the notebook's metadata, in assignment order."""
    found = []
    for item in _notebook_record(nb).get("locked_changes", []):
        if isinstance(item, Mapping) and item.get("change") in LOCKED_CHANGES:
            found.append(LockedChange(str(item.get("grade_id")), item["change"],
                                      _text(item.get("submitted_cell_type"))))  # fmt: skip
    return found


def _cell_verdict(index: int, cell: NotebookNode) -> CellVerdict | None:
    record = cell.get("metadata", {}).get(KEY)
    if not isinstance(record, Mapping):
        return None
    change = record.get("locked_change")
    return CellVerdict(
        index=index,
        grade_id=grade_id_of(cell),
        stopped=record.get("stopped") if record.get("stopped") in STOPPED else None,
        hidden_checks=_hidden_checks(record.get("hidden_checks")),
        locked_change=change if change in LOCKED_CHANGES else None,
        submitted_cell_type=_text(record.get("submitted_cell_type")),
    )


def _hidden_checks(value: Any) -> HiddenChecksRecord | None:
    if not isinstance(value, Mapping):
        return None
    return HiddenChecksRecord(
        ran=bool(value.get("ran")),
        passed=int(value.get("passed", 0)),
        total=int(value.get("total", 0)),
        score=float(value.get("score", 0.0)),
        points=float(value.get("points", 0.0)),
        reason=_text(value.get("reason")),
        unreadable_results=bool(value.get("unreadable_results")),
        mistakes=_counts(value.get("mistakes")),
    )


def _counts(value: Any) -> dict[str, int]:
    """A recorded ``{mistake: count}``; entries that are not a name and a positive count
    are left out, and anything else (an older notebook has none) reads as empty."""
    if not isinstance(value, Mapping):
        return {}
    return {
        key: count
        for key, count in value.items()
        if isinstance(key, str) and key and isinstance(count, int) and not isinstance(count, bool)
        and count > 0
    }  # fmt: skip


def _notebook_record(nb: NotebookNode) -> Mapping[str, Any]:
    record = nb.get("metadata", {}).get(KEY)
    return record if isinstance(record, Mapping) else {}


def grade_id_of(cell: Mapping[str, Any]) -> str | None:
    """The cell's nbgrader grade id; None if it has none, or a malformed one."""
    meta = cell.get("metadata", {}).get("nbgrader")
    grade_id = meta.get("grade_id") if isinstance(meta, Mapping) else None
    return grade_id if isinstance(grade_id, str) and grade_id else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
