"""nbgrader preprocessors that make grading safe and fair: one job each.

- :class:`ResilientExecute` runs the notebook like nbgrader's Execute, but when
  student code kills the kernel, or runs out of time and ignores the
  interrupt, it marks that cell as failed, starts a fresh kernel and grades
  the rest, instead of losing the whole submission; and it
  keeps at most ``max_output_bytes`` of each cell's output as it arrives.
- :class:`NoteLockedChanges` records which locked cells a student deleted,
  retyped, edited or relabelled, before nbgrader restores them, and
  :class:`MarkLockedChanges` writes that onto the restored cells.
- :class:`RestoreCellFlags` puts back the nbgrader flags of every cell a
  student relabelled (grade id, grade or solution flag, points), so that
  nbgrader restores the original cell instead of refusing the whole
  submission.
- :class:`ScoreOutsideKernel` scores each test cell in the grader's own
  process from the results the kernel sent, against expected answers the
  kernel never sees (:mod:`backprop_autograder.scoring`), so no code in the
  notebook can forge a score; warnings on stderr cost nothing.
- :class:`HideHiddenChecks` removes the hidden checks' code from the notebook
  a student's feedback is made from, and shortens error tracebacks to their
  last line, so that neither code nor expected values reach students.

``autograder/nbgrader_config.py`` puts them in nbgrader's pipelines, so the
formgrader and the command line use them too. What they find, they also write
as data into the graded notebook's metadata (:mod:`backprop_autograder.cell_verdicts`),
which the summary reads.
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, Execute, NbGraderPreprocessor
from traitlets import Integer, Unicode

from backprop_autograder import cell_verdicts, scoring
from backprop_autograder.cell_verdicts import LockedChange

KERNEL_DIED = "KernelDied"

# Files handed in next to the notebook (a numpy.py, a backprop_course/ folder) must not
# shadow the real modules, so the kernel's working folder is never on its sys.path:
# PYTHONSAFEPATH (Python 3.11+) keeps Python from adding it, even while it finds
# ``-m ipykernel_launcher`` itself; IPython 9.7+ respects it too. ``ignore_cwd`` keeps
# IPython from putting it back after ipykernel's launcher took it out, before any cell
# runs. Python 3.10 has no PYTHONSAFEPATH: there only the launcher and ignore_cwd keep
# it off, and an ipykernel_launcher.py handed in would be started instead of the real one.
SAFE_PATH_ENVIRONMENT = {"PYTHONSAFEPATH": "1"}
IGNORE_CWD = "--IPKernelApp.ignore_cwd=True"


class ResilientExecute(Execute):
    """Execute every cell; survive a kernel that dies, cell by cell."""

    max_kernel_deaths = Integer(
        5, help="Give up on a notebook after its code killed this many kernels."
    ).tag(config=True)
    max_output_bytes = Integer(
        1_000_000, help="Output a cell may keep; the rest is dropped as it arrives."
    ).tag(config=True)

    def output(
        self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        """Keep a cell's output up to the limit, then one line that says the rest was cut."""
        size = output_size(msg)
        used = self._output_used.get(cell_index, 0)
        self._output_used[cell_index] = used + size
        room = self.max_output_bytes - used
        if size <= room:
            return super().output(outs, msg, display_id, cell_index)
        if room < 0:  # cut already
            return None
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream" and room > 0:  # keep what fits of this text
            msg = {**msg, "content": {**content, "text": content["text"][:room]}}
            super().output(outs, msg, display_id, cell_index)
        notice = f"\n[output cut: this cell printed more than {self.max_output_bytes} bytes]\n"
        outs.append(NotebookNode(output_type="stream", name="stdout", text=notice))
        self._output_used[cell_index] = self.max_output_bytes + 1
        return None

    def preprocess(
        self, nb: NotebookNode, resources: dict | None = None, km: Any = None
    ) -> tuple[NotebookNode, dict]:
        killers: set[int] = set()
        while True:
            try:
                return self._run_all(nb, resources, km, killers)
            except (DeadKernelError, CellTimeoutError) as error:
                # A timeout that escapes nbclient is a cell that ignored the interrupt.
                index = self._running
                if index is None or len(killers) >= self.max_kernel_deaths:
                    raise
                killers.add(index)
                if isinstance(error, CellTimeoutError):
                    mark_unstoppable(nb.cells[index])
                else:
                    out_of_cpu = getattr(self._kernel_manager, "stopped_for_cpu", False)
                    mark_kernel_death(nb.cells[index], out_of_cpu)
                self.log.warning("cell %d stopped the kernel; grading the rest again", index)

    def _run_all(
        self, nb: NotebookNode, resources: dict | None, km: Any, skip: set[int]
    ) -> tuple[NotebookNode, dict]:
        """nbconvert's preprocess, leaving out the cells that killed a kernel before."""
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._output_used: dict[int, int] = {}
        self._check_assign_resources(resources)
        self._running: int | None = None
        self._kernel_manager: Any = None
        if IGNORE_CWD not in self.extra_arguments:
            self.extra_arguments = [*self.extra_arguments, IGNORE_CWD]
        environment = {**os.environ, **SAFE_PATH_ENVIRONMENT}
        # The kernel's own stdout and stderr (start-up notices, crash dumps) are not the
        # student's output and would only clutter the instructor's terminal.
        with self.setup_kernel(
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
        ):
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            if hasattr(self.km, "seal_sockets"):  # sandboxed: the kernel is up, lock its folder
                self.km.seal_sockets()
            self._kernel_manager = self.km  # nbclient forgets it when the kernel dies
            budget_next_cell = getattr(self.km, "budget_next_cell", None)  # sandboxed only
            for index, cell in enumerate(self.nb.cells):
                if index not in skip:
                    self._running = index
                    cell_verdicts.note_stopped(cell, None)  # what an earlier run found is past
                    if budget_next_cell is not None and cell.cell_type == "code":
                        budget_next_cell()
                    self.preprocess_cell(cell, resources, index)
            self._running = None
        self.set_widgets_metadata()
        return self.nb, self.resources

    async def _async_handle_timeout(
        self, timeout: int, cell: NotebookNode | None = None
    ) -> dict[str, Any] | None:
        """A cell ran out of time: note it in the cell, then nbclient interrupts the kernel."""
        if cell is not None:
            cell_verdicts.note_stopped(cell, "timed_out")
        return await super()._async_handle_timeout(timeout, cell)


def output_size(msg: dict) -> int:
    """Roughly how many bytes an output message adds to the notebook."""
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    return sum(len(str(value)) for value in data.values()) + len(str(content.get("traceback", "")))


def mark_kernel_death(cell: NotebookNode, out_of_cpu: bool = False) -> None:
    """Give the cell an error output saying that it killed the kernel, and how if known."""
    cause = (
        "it used more than its CPU time"
        if out_of_cpu
        else "a crash, os._exit, or more memory than allowed"
    )
    cell_verdicts.note_stopped(cell, "out_of_cpu" if out_of_cpu else "killed_kernel")
    cell.outputs = [
        NotebookNode(
            output_type="error",
            ename=KERNEL_DIED,
            evalue=f"the kernel stopped while this cell ran ({cause}); "
            "the other cells were graded without it",
            traceback=[f"{KERNEL_DIED}: the kernel stopped while this cell ran ({cause})"],
        )
    ]


def mark_unstoppable(cell: NotebookNode) -> None:
    """Give the cell an error output saying that it ran out of time and would not stop."""
    cell_verdicts.note_stopped(cell, "timed_out")
    cell.outputs = [
        NotebookNode(
            output_type="error",
            ename="CellTimeoutError",
            evalue="this cell ran out of time and did not stop when interrupted; the "
            "kernel was stopped and the other cells were graded without it",
            traceback=["CellTimeoutError: this cell ran out of time and did not stop"],
        )
    ]


class ScoreOutsideKernel(NbGraderPreprocessor):
    """Each test cell's score, decided here from its results; the kernel's word counts for nothing.

    Runs just before nbgrader's SaveAutoGrades, which then reads the score
    this step wrote as the cell's value.
    """

    answers_dir = Unicode(
        "", help="Folder of the hidden checks' answers (default: hidden_answers/ in the course)."
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        folder = Path(self.answers_dir or CourseDirectory(config=self.config).root)
        if not self.answers_dir:
            folder = folder / scoring.ANSWERS_FOLDER
        path = scoring.answers_path(folder, info["assignment"], info["notebook"])
        self._answers = scoring.read_answers(path)
        if not self._answers:
            self.log.warning("no hidden checks' answers in %s: test cells score 0", path)
        return super().preprocess(nb, resources)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        if not (utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell)):
            return cell, resources
        meta = cell.metadata["nbgrader"]
        entry = self._answers.get(meta["grade_id"])
        if entry is None:
            verdict = scoring.missing_answers(meta["grade_id"].removeprefix("check_"))
        else:
            verdict = scoring.judge_safely(entry, cell)
        points = float(meta["points"])
        cell.outputs = scoring.verdict_outputs(cell, verdict, points)
        cell_verdicts.note_hidden_checks(cell, verdict.record(points))
        return cell, resources


class HideHiddenChecks(ClearHiddenTests):
    """For feedback: no hidden check code, and tracebacks cut to their last line."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        cell, resources = super().preprocess_cell(cell, resources, index)
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                out.traceback = [f"{out.ename}: {out.evalue}"]
        return cell, resources


class RestoreCellFlags(NbGraderPreprocessor):
    """Every cell's nbgrader flags back as the assignment has them, before OverwriteCells.

    OverwriteCells restores a locked cell's source, points and lock, but a
    cell whose grade or solution flag a student flipped fails its checksum
    and stops the whole notebook. So, from the gradebook: a cell with a grade
    id the assignment does not have becomes a plain cell (the original then
    counts as missing, and OverwriteCells with ``add_missing_cells`` puts it
    back); a known one gets its grade, solution, task and locked flags and
    its points back.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            flags = assignment_flags(gradebook.find_notebook(info["notebook"], info["assignment"]))
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if grade_id is None:
                continue
            if grade_id not in flags:
                self.log.warning("cell %r is not in the assignment: now a plain cell", grade_id)
                del cell.metadata["nbgrader"]
                continue
            points = flags[grade_id].pop("points", None)
            meta.update(flags[grade_id])
            if points is None:
                meta.pop("points", None)
            else:
                meta["points"] = points
        return nb, resources


def assignment_flags(notebook: Any) -> dict[str, dict[str, Any]]:
    """grade id -> its nbgrader flags (and points), from the gradebook's notebook."""
    flags = {
        cell.name: {"grade": False, "solution": False, "task": False, "locked": cell.locked}
        for cell in notebook.source_cells
    }
    for cell in notebook.grade_cells:
        flags[cell.name].update(grade=True, points=float(cell.max_score))
    for cell in notebook.solution_cells:
        flags[cell.name]["solution"] = True
    for cell in notebook.task_cells:
        flags[cell.name].update(task=True, points=float(cell.max_score))
    return flags


# -- locked cells the student changed -----------------------------------------------------------

LOCKED_KEYS = ("grade", "solution", "locked", "points")  # the flags a student may not change


class FromRelease(NbGraderPreprocessor):
    """A step that reads the notebook as students received it, from ``release_dir``."""

    release_dir = Unicode("", help="The course's release/ folder.").tag(config=True)

    def released(self, resources: dict) -> NotebookNode:
        info = resources["nbgrader"]
        path = Path(self.release_dir) / info["assignment"] / f"{info['notebook']}.ipynb"
        return nbformat.read(path, as_version=4)


class NoteLockedChanges(FromRelease):
    """Which locked cells of the assignment the student deleted, retyped, edited or relabelled.

    Runs first among the sanitize steps, on the notebook as handed in: the
    steps after it put the locked cells back. It compares each locked cell of
    the released notebook with the submitted cell of the same grade id, and
    records the changes in the notebook's metadata
    (:func:`cell_verdicts.note_locked_changes`): a deleted cell has no cell to
    carry them until it is put back. Whatever the submission brought under that
    metadata key is removed first.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        cell_verdicts.clear(nb)
        try:
            released = [cell for cell in self.released(resources).cells if utils.is_locked(cell)]
            changes = locked_changes(nb.cells, released)
        except Exception as error:  # noting must never cost the submission its grading
            self.log.warning("could not compare the locked cells: %s", error)
            changes = None
        cell_verdicts.note_locked_changes(nb, changes)
        return nb, resources


def locked_changes(
    submitted: list[NotebookNode], released: list[NotebookNode]
) -> list[LockedChange]:
    """The released locked cells (test cells among them) a student deleted, retyped, edited
    or relabelled; the last submitted cell with a grade id counts, as for nbgrader."""
    theirs = {}
    for cell in submitted:
        grade_id = cell_verdicts.grade_id_of(cell)
        if grade_id is not None:
            theirs[grade_id] = cell
    changes = []
    for cell in released:
        grade_id = cell_verdicts.grade_id_of(cell)
        mine = theirs.get(grade_id)
        if mine is None:
            changes.append(LockedChange(grade_id, "deleted"))
        elif mine.get("cell_type") != cell.cell_type:
            changes.append(LockedChange(grade_id, "retyped", str(mine.get("cell_type"))))
        elif mine.get("source") != cell.source:
            changes.append(LockedChange(grade_id, "edited"))
        elif _locked_flags(mine) != _locked_flags(cell):
            changes.append(LockedChange(grade_id, "metadata_changed"))
    return changes


def _locked_flags(cell: NotebookNode) -> dict[str, Any]:
    meta = cell.get("metadata", {}).get("nbgrader")
    return {key: meta.get(key) for key in LOCKED_KEYS} if isinstance(meta, dict) else {}


class MarkLockedChanges(NbGraderPreprocessor):
    """Each change :class:`NoteLockedChanges` recorded, onto the cell it concerns.

    Runs after OverwriteCells, which has put the deleted test cells back by then.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        cell_verdicts.mark_locked_changes(nb)
        return nb, resources


# -- test cells the student deleted ------------------------------------------------------------

class RestoreDeletedCells(FromRelease):
    """The test cells a student deleted, put back where the released notebook has them.

    Runs after :class:`RestoreCellFlags` and before OverwriteCells, which then
    restores their source (hidden checks included) from the gradebook, as for
    any test cell. nbgrader's own ``OverwriteCells.add_missing_cells`` does
    this from the gradebook's cells, which have no order there: PostgreSQL
    hands them back in any order, and it then stops the whole notebook.
    The released notebook has the order.
    """

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        release = self.released(resources)
        present = {cell_verdicts.grade_id_of(cell) for cell in nb.cells} - {None}
        for index, cell in enumerate(release.cells):
            grade_id = cell_verdicts.grade_id_of(cell)
            if not utils.is_grade(cell) or grade_id in present:
                continue
            self.log.warning("test cell %r was deleted: put back", grade_id)
            nb.cells.insert(self._place(nb, release.cells[:index]), copy.deepcopy(cell))
            present.add(grade_id)
        return nb, resources

    @staticmethod
    def _place(nb: NotebookNode, before: list[NotebookNode]) -> int:
        """Right after the nearest cell among ``before`` that the notebook still has."""
        positions = {cell_verdicts.grade_id_of(cell): i for i, cell in enumerate(nb.cells)}
        positions.pop(None, None)
        for cell in reversed(before):
            place = positions.get(cell_verdicts.grade_id_of(cell))
            if place is not None:
                return place + 1
        return 0

