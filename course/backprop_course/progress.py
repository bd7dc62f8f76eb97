"""Where you stand: which exercises your *saved* lesson notebooks pass.

Each lesson notebook is run from top to bottom in a fresh kernel, as nbgrader's
Validate runs it, and each exercise gets one of four statuses from what its
visible check cell did:

============  ======================================================================
passed        the check cell ran without an error
not started   the exercise still raises ``NotImplementedError``, as the stub does
              (its check says "… is not written yet")
failed        the check cell ended in an error; the note keeps the first line of
              its message (or of the error the exercise's own cell raised)
not run       the check cell never finished: an earlier cell ran out of time or
              stopped the kernel, or the check itself ran out of time
============  ======================================================================

The exercises are found in the notebook itself: a solution cell carries the
nbgrader metadata ``solution: true`` and ``grade_id: "<exercise>"``, its check
cell ``grade_id: "check_<exercise>"``.

Three ways in, from the smallest to the largest:

* :func:`run_notebook` runs one notebook in this process and returns its
  :class:`LessonProgress`;
* :func:`progress` runs every lesson of a folder, each in its own
  ``python -m backprop_course.progress`` subprocess (never in the caller's
  kernel), as many at once as there are CPUs;
* :class:`backprop_course.widgets.ProgressView` shows the result in a notebook
  as a table, with a button that runs it again.

From a terminal::

    python -m backprop_course.progress course/            # a table
    python -m backprop_course.progress course/ --json     # the same, as JSON

Nothing is ever written back to a notebook: the run works on a copy in memory.
While it runs, the kernels have ``NBGRADER_EXECUTION=validate`` set, as under
nbgrader's Validate: the long demos take their short versions and the widgets
are not built, which changes no check's verdict and saves most of the time.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

Status = Literal["passed", "failed", "not started", "not run"]
MARKS: dict[str, str] = {"passed": "✔", "failed": "✘", "not started": "·", "not run": "?"}

CELL_TIMEOUT = 30  # seconds one cell may run before it is interrupted (nbgrader grades with 30)
LESSON_PATTERN = "[0-9][0-9]_*.ipynb"  # lesson notebooks; 00_* is the front door, not a lesson
NOT_WRITTEN = "is not written yet"  # how a check says that its exercise still is the stub
NOTE_LENGTH = 240  # a failure's note is cut to this many characters
RESTORE = "Restore it from the course repository or from your download."

# Set in every process a progress run starts, so that a ProgressView met there does not
# start a progress run of its own.
RUN_MARKER = "BACKPROP_COURSE_PROGRESS_RUN"
KERNEL_ENVIRONMENT = {"NBGRADER_EXECUTION": "validate", RUN_MARKER: "1"}
# Kernels started here keep no command history: the learner's own history stays theirs.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


# -- what a progress run finds ------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseStatus:
    """One exercise of one notebook: its name, its status, and a note saying why.

    ``note`` is empty for ``passed`` and ``not started``; for ``failed`` it is the
    first line of the check's message (or of the error in the exercise's own cell),
    for ``not run`` the reason the check cell never finished.
    """

    exercise: str
    status: Status
    note: str = ""

    @property
    def mark(self) -> str:
        """One character for tables: ✔ passed, ✘ failed, · not started, ? not run."""
        return MARKS[self.status]


@dataclass
class LessonProgress:
    """One notebook's exercises in notebook order, or the ``problem`` that kept it from
    being checked at all (then ``exercises`` is empty)."""

    notebook: str  # the file's name, "01_forward_pass.ipynb"
    path: str  # where it was read from
    exercises: list[ExerciseStatus] = field(default_factory=list)
    problem: str = ""
    seconds: float = 0.0  # how long the run took

    @property
    def lesson(self) -> str:
        """The notebook's name without ``.ipynb``: "01_forward_pass"."""
        return self.notebook.removesuffix(".ipynb")

    @property
    def passed(self) -> int:
        return sum(exercise.status == "passed" for exercise in self.exercises)

    @property
    def total(self) -> int:
        return len(self.exercises)

    def statuses(self) -> dict[str, Status]:
        """Exercise name -> status: what the tests compare."""
        return {exercise.exercise: exercise.status for exercise in self.exercises}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LessonProgress:
        exercises = [ExerciseStatus(**item) for item in data.get("exercises", [])]
        return cls(**{**data, "exercises": exercises})


class NotebookProblem(Exception):
    """A notebook that cannot be checked: missing, not JSON, not a valid notebook."""


# -- finding the lessons and their exercises ------------------------------------------------


def lesson_notebooks(folder: Path) -> list[Path]:
    """The lesson notebooks in ``folder``, in order: ``01_*.ipynb`` … (never ``00_*``)."""
    found = (path for path in folder.glob(LESSON_PATTERN) if not path.name.startswith("00_"))
    return sorted(found, key=lambda path: path.name)


def expand(targets: Iterable[str | Path]) -> list[Path]:
    """Folders become their lesson notebooks; anything else is taken as a notebook (a
    missing one is reported by the run, not skipped)."""
    notebooks: list[Path] = []
    for target in targets:
        path = Path(target).expanduser().resolve()
        notebooks += lesson_notebooks(path) if path.is_dir() else [path]
    return notebooks


@dataclass(frozen=True)
class Exercise:
    """Where an exercise lives in its notebook: its solution cell and its check cell
    (as cell indices; None when the notebook has lost that cell)."""

    name: str
    solution_cell: int | None
    check_cell: int | None


CHECK_PREFIX = "check_"


def grade_id(cell: nbformat.NotebookNode) -> str:
    """The cell's nbgrader ``grade_id``, or "" for a cell nbgrader does not know."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return str(nbgrader.get("grade_id", "")) if cell.get("cell_type") == "code" else ""


def find_exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """Every exercise of a notebook, in the order its cells come, from nbgrader's metadata.

    A solution cell has ``solution: true`` and ``grade_id == "<exercise>"``; its visible
    check has ``grade_id == "check_<exercise>"``.
    """
    solutions: dict[str, int] = {}
    checks: dict[str, int] = {}
    order: list[str] = []
    for index, cell in enumerate(nb.cells):
        name = grade_id(cell)
        if not name:
            continue
        if cell.metadata.nbgrader.get("solution"):
            solutions.setdefault(name, index)
        elif name.startswith(CHECK_PREFIX):
            name = name.removeprefix(CHECK_PREFIX)
            checks.setdefault(name, index)
        else:
            continue
        if name not in order:
            order.append(name)
    return [Exercise(name, solutions.get(name), checks.get(name)) for name in order]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, or :class:`NotebookProblem` saying what is wrong with it."""
    if not path.is_file():
        raise NotebookProblem(f"{path.name} is missing from {path.parent}. {RESTORE}")
    try:
        with warnings.catch_warnings():  # a missing cell id, say: nothing the learner can act on
            warnings.simplefilter("ignore")
            nb = nbformat.read(path, as_version=4)
            nbformat.validate(nb)
    except UnicodeDecodeError:
        raise NotebookProblem(f"{path.name} is not a text file. {RESTORE}") from None
    except Exception as error:  # nbformat's NotJSONError, ValidationError, a wrong version
        cause = error.__cause__ or error.__context__
        if isinstance(cause, json.JSONDecodeError):
            raise NotebookProblem(
                f"{path.name} is not valid JSON (line {cause.lineno}, column {cause.colno}: "
                f"{cause.msg}); it may have been cut short while it was saved. {RESTORE}"
            ) from None
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise NotebookProblem(
            f"{path.name} is not a valid notebook ({shorten(lines[0], 120)}). {RESTORE}"
        ) from None
    return nb


# -- running a notebook ---------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """Where a run ended early: the cell that never finished, and why."""

    cell: int
    why: Literal["timed out", "kernel died"]


class Client(NotebookClient):
    """nbclient's client, noting which cells ran out of time. The first time a cell does,
    the kernel is interrupted; if the cell ignores that and runs out of time again, the
    client gives up on it (:class:`~nbclient.exceptions.CellTimeoutError`)."""

    def __init__(self, nb: nbformat.NotebookNode, **options: Any) -> None:
        super().__init__(nb, **options)
        self.running = -1  # the index of the cell being run
        self.timed_out: set[int] = set()

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
        if self.running in self.timed_out:
            raise CellTimeoutError(f"cell {self.running} ignored the interrupt")
        self.timed_out.add(self.running)
        return await super()._async_handle_timeout(timeout, cell)


def new_client(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> Client:
    """A client that runs every cell however it ends (errors are what we look at), gives
    each ``timeout`` seconds, and starts its kernel in ``folder``, silently."""
    quiet = logging.getLogger(f"{__name__}.nbclient")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False  # nbclient logs every timeout and interrupt as an error
    return Client(
        nb,
        timeout=timeout,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",  # this interpreter's own kernel
        extra_arguments=KERNEL_ARGUMENTS,
        resources={"metadata": {"path": str(folder)}},
        shutdown_kernel="immediate",  # a kernel stuck in a loop would not stop gracefully
        log=quiet,
    )


def run_cells(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> Stop | None:
    """Run ``nb``'s code cells in order in a new kernel started in ``folder``, keeping
    each cell's outputs in ``nb`` (in memory only). An error does not stop the run; a cell
    that runs out of time is interrupted and ends it, as does a kernel that dies."""
    client = new_client(nb, folder, timeout)
    environment = {**os.environ, **KERNEL_ENVIRONMENT}
    # The kernel's own stdout and stderr (start-up notices, crash dumps) are not a cell's.
    devnull = subprocess.DEVNULL
    with client.setup_kernel(env=environment, stdout=devnull, stderr=devnull):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            client.running = index
            try:
                client.execute_cell(cell, index)
            except DeadKernelError:
                return Stop(index, "kernel died")
            except CellTimeoutError:  # the cell ignored the interrupt
                return Stop(index, "timed out")
            if index in client.timed_out:
                return Stop(index, "timed out")
    return None


def first_error(cell: nbformat.NotebookNode | None) -> tuple[str, str] | None:
    """``(error name, first line of its message)`` of a cell's error output, if any.

    A first line that ends with a colon ("For gradients W (2, 3), …:") only introduces the
    next one, which says what is wrong; then both are kept, joined.
    """
    for output in (cell or {}).get("outputs", []):
        if output.get("output_type") == "error":
            lines = [line.strip() for line in str(output.get("evalue", "")).splitlines()]
            lines = [line for line in lines if line] or [""]
            first = lines[0]
            if first.endswith(":") and len(lines) > 1:
                first += " " + lines[1]
            return str(output.get("ename", "Error")), first
    return None


def shorten(text: str, limit: int = NOTE_LENGTH) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_note(error: tuple[str, str]) -> str:
    """A check's own message as it is; any other error with its name in front."""
    name, message = error
    # "expected ':' (3521946613.py, line 2)": the file is IPython's name for the cell
    message = re.sub(r"\(\S+\.py, line (\d+)\)", r"(line \1 of the cell)", message)
    return shorten(message if name == "CheckFailed" else f"{name}: {message}".rstrip(": "))


def describe_cell(nb: nbformat.NotebookNode, index: int) -> str:
    """A cell as a learner can find it: 'the cell starting `while True:` (cell 21 of 53)'."""
    lines = [line.strip() for line in nb.cells[index].source.splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    start = f"starting `{shorten(code[0], 50)}` " if code else ""
    return f"the cell {start}(cell {index + 1} of {len(nb.cells)})"


def classify(
    exercise: Exercise, nb: nbformat.NotebookNode, stop: Stop | None, timeout: int
) -> ExerciseStatus:
    """One exercise's status, from the outputs its cells got in the run."""
    name = exercise.name
    if exercise.check_cell is None:
        return ExerciseStatus(
            name, "not run", f"its check cell (check_{name}) is missing from the notebook"
        )
    if stop is not None and exercise.check_cell >= stop.cell:
        return ExerciseStatus(name, "not run", stop_note(exercise, nb, stop, timeout))
    checked = first_error(nb.cells[exercise.check_cell])
    if checked is None:
        return ExerciseStatus(name, "passed")
    if NOT_WRITTEN in checked[1]:
        return ExerciseStatus(name, "not started")
    solution = exercise.solution_cell
    own = first_error(nb.cells[solution]) if solution is not None else None
    if own is not None:  # the root cause: the exercise's own cell failed to run
        return ExerciseStatus(name, "failed", "its cell raised " + error_note(own))
    return ExerciseStatus(name, "failed", error_note(checked))


def stop_note(exercise: Exercise, nb: nbformat.NotebookNode, stop: Stop, timeout: int) -> str:
    """Why a check cell at or after the cell where the run stopped never finished."""
    if stop.cell == exercise.check_cell:
        if stop.why == "timed out":
            return (
                f"its check ran longer than {timeout} s and was stopped: "
                f"does {exercise.name} loop forever?"
            )
        return "the kernel stopped while its check ran (a crash, or too much memory)"
    what = (
        f"ran longer than {timeout} s and was stopped"
        if stop.why == "timed out"
        else "stopped the kernel (a crash, or too much memory)"
    )
    return f"{describe_cell(nb, stop.cell)} {what}, so the run ended there"


def run_notebook(path: str | Path, *, timeout: int = CELL_TIMEOUT) -> LessonProgress:
    """Run one saved notebook top to bottom in a new kernel, in this process, and tell
    each exercise's status. The file is read, never written."""
    path = Path(path).expanduser().resolve()
    started = time.monotonic()
    result = LessonProgress(path.name, str(path))
    try:
        nb = read_notebook(path)
        exercises = find_exercises(nb)
        if not exercises:
            raise NotebookProblem(
                f"{path.name} has no exercises: its cells lost their nbgrader metadata. {RESTORE}"
            )
        stop = run_cells(nb, path.parent, timeout)
    except NotebookProblem as problem:
        result.problem = str(problem)
    except Exception as error:  # the kernel would not start, or nbclient failed
        result.problem = f"could not run {path.name}: {type(error).__name__}: {error}"
    else:
        result.exercises = [classify(exercise, nb, stop, timeout) for exercise in exercises]
    result.seconds = round(time.monotonic() - started, 2)
    return result


# -- many notebooks, each in its own process ------------------------------------------------


def available_cpus() -> int:
    """How many CPUs this process may use: os.cpu_count(), fewer if the machine's
    scheduler or a container's quota (Binder's, say) allows fewer."""
    count = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        count = min(count, len(os.sched_getaffinity(0)))
    try:  # cgroup v2: "max 100000", or "200000 100000" for two CPUs' worth
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            count = min(count, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def _child_environment() -> dict[str, str]:
    """The environment of a child run: this one, with this package importable for sure."""
    environment = {**os.environ, RUN_MARKER: "1"}
    root = str(Path(__file__).resolve().parent.parent)
    if root not in {str(Path(entry).resolve()) for entry in sys.path if entry}:
        known = environment.get("PYTHONPATH")
        environment["PYTHONPATH"] = root + (os.pathsep + known if known else "")
    return environment


def run_in_subprocess(path: Path, *, timeout: int = CELL_TIMEOUT) -> LessonProgress:
    """:func:`run_notebook` in a new Python process (this interpreter), read back as JSON.

    A notebook that cannot even be read is reported at once, without a process."""
    try:
        read_notebook(path)
    except NotebookProblem as problem:
        return LessonProgress(path.name, str(path), problem=str(problem))
    command = [
        sys.executable, "-m", "backprop_course.progress",
        "--in-process", "--json", "--timeout", str(timeout), str(path),
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(
        command, capture_output=True, text=True, env=_child_environment(), check=False
    )
    try:
        (found,) = json.loads(done.stdout)
        return LessonProgress.from_json(found)
    except (ValueError, TypeError, KeyError):
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return LessonProgress(
            path.name,
            str(path),
            problem=f"the run of {path.name} stopped unexpectedly: {shorten(said)}",
            seconds=round(time.monotonic() - started, 2),
        )


def progress(
    targets: Iterable[str | Path] = (".",),
    *,
    timeout: int = CELL_TIMEOUT,
    jobs: int | None = None,
    on_result: Callable[[LessonProgress], None] | None = None,
) -> list[LessonProgress]:
    """Every lesson of the folders (or the notebooks) in ``targets``, in order.

    Each notebook runs in its own subprocess, ``jobs`` at a time (default: one per
    CPU), so six lessons take about as long as the slowest two on two CPUs. A notebook
    that cannot be read or run gets a row with its ``problem``; the others go on.
    ``on_result`` is called with each lesson as soon as it is done, in this thread.
    """
    targets = list(targets)
    notebooks = expand(targets)
    if not notebooks:
        folders = ", ".join(str(Path(target)) for target in targets)
        return [
            LessonProgress(
                "(none)", folders, problem=f"no lesson notebooks ({LESSON_PATTERN}) in {folders}"
            )
        ]
    results: dict[int, LessonProgress] = {}
    workers = max(1, min(jobs or available_cpus(), len(notebooks)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running = {
            pool.submit(run_in_subprocess, notebook, timeout=timeout): number
            for number, notebook in enumerate(notebooks)
        }
        for future in as_completed(running):
            results[running[future]] = future.result()
            if on_result is not None:
                on_result(results[running[future]])
    return [results[number] for number in range(len(notebooks))]


# -- showing it -----------------------------------------------------------------------------


def totals(lessons: Sequence[LessonProgress]) -> tuple[int, int]:
    """(exercises passed, exercises) over all lessons."""
    return sum(lesson.passed for lesson in lessons), sum(lesson.total for lesson in lessons)


def grouped_notes(lesson: LessonProgress) -> list[tuple[ExerciseStatus, list[str]]]:
    """The exercises that have a note, those in a row with the same note told once:
    [(the first of them, all their names)]. A run that stopped early leaves every later
    check with one and the same reason."""
    groups: list[tuple[ExerciseStatus, list[str]]] = []
    for exercise in lesson.exercises:
        if not exercise.note:
            continue
        last = groups[-1][0] if groups else None
        if last is not None and (last.status, last.note) == (exercise.status, exercise.note):
            groups[-1][1].append(exercise.exercise)
        else:
            groups.append((exercise, [exercise.exercise]))
    return groups


def format_table(lessons: Sequence[LessonProgress]) -> str:
    """A plain-text table: one row per lesson, then a line for every exercise that failed
    or did not run, with its note."""
    width = max([len(lesson.lesson) for lesson in lessons] + [len("lesson")])
    legend = "  ".join(f"{mark} {status}" for status, mark in MARKS.items())
    lines = [f"{'lesson':<{width}}  passed  exercises ({legend})"]
    for lesson in lessons:
        if lesson.problem:
            lines.append(f"{lesson.lesson:<{width}}  {'-':>6}  {lesson.problem}")
            continue
        marks = "".join(exercise.mark for exercise in lesson.exercises)
        score = f"{lesson.passed}/{lesson.total}"
        lines.append(f"{lesson.lesson:<{width}}  {score:>6}  {marks}")
        lines += [
            f"{'':<{width}}          {first.mark} {', '.join(names)}: {first.note}"
            for first, names in grouped_notes(lesson)
        ]
    passed, total = totals(lessons)
    lines.append(f"{passed} of {total} exercises pass.")
    return "\n".join(lines)


# -- the command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backprop_course.progress",
        description="Which exercises do your saved lesson notebooks pass? Each notebook is "
        "run from top to bottom in a fresh kernel; nothing is written back to it.",
    )
    parser.add_argument(
        "targets", nargs="*", default=["."], metavar="FOLDER_OR_NOTEBOOK",
        help="folders of lesson notebooks (their 01_*.ipynb … files), or notebooks; "
        "default: this folder",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT,
        help=f"seconds a cell may run before it is stopped (default {CELL_TIMEOUT})",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=None, help="notebooks run at once (default: one per CPU)"
    )
    parser.add_argument(
        "--in-process", action="store_true",
        help="run the notebooks one after another in this process (what each subprocess does)",
    )  # fmt: skip
    options = parser.parse_args(argv)
    if options.in_process:
        lessons = [run_notebook(path, timeout=options.timeout) for path in expand(options.targets)]
    else:
        lessons = progress(options.targets, timeout=options.timeout, jobs=options.jobs)
    if options.json:
        print(json.dumps([lesson.to_json() for lesson in lessons], indent=1))
    else:
        print(format_table(lessons))
    return 0


if __name__ == "__main__":
    sys.exit(main())
