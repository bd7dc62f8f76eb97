"""`backprop-grade`: the instructor's commands, each a step of real nbgrader.

    backprop-grade build [LESSON ...]           generate_assignment: source and release
    backprop-grade release LESSON               release_assignment (nbgrader exchange)
    backprop-grade collect LESSON [--from ZIP]  collect, or zip_collect from an LMS zip
    backprop-grade autograde LESSON             autograde one student at a time, with progress
    backprop-grade feedback LESSON              generate_feedback (no hidden code inside)
    backprop-grade export LESSON [--csv FILE]   grades: one column per exercise, total, max
    backprop-grade grade LESSON --from ZIP      collect, autograde, feedback, export, summary

The course directory is build/nbgrader unless ``--course-dir`` says otherwise.
In an LMS zip, each notebook is named ``<student_id>_<anything>_<lesson>.ipynb``
or ``<student_id>_<lesson>.ipynb`` (``--pattern`` takes another regular
expression with the groups ``student_id`` and ``file_id``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import multiprocessing
import os
import re
import shutil
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

from backprop_autograder import build as builder
from backprop_autograder import sandbox, scoring
from backprop_autograder.lessons import LESSONS, lesson
from backprop_autograder.preprocessors import KERNEL_DIED

DEFAULT_PATTERN = r"^(?:.*/)?(?P<student_id>[^_/]+)_(?:.*_)?(?P<file_id>\d\d_[a-z_]+\.ipynb)$"
DEFAULT_TIMEOUT = 30


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


# -- the course directory and nbgrader's API ----------------------------------------


def course_api(
    course_dir: Path, timeout: int = DEFAULT_TIMEOUT, exchange: Path | None = None
) -> NbGraderAPI:
    """nbgrader's API on the course directory, with its nbgrader_config.py loaded.

    ``exchange``: the nbgrader exchange folder (nbgrader's default is
    /srv/nbgrader/exchange), for release and collect.
    """
    config_file = course_dir / "nbgrader_config.py"
    if not config_file.exists():
        raise SystemExit(
            f"{course_dir} is not a course directory (no nbgrader_config.py): "
            "run `backprop-grade build` or `make assignments` first"
        )
    os.environ["PATH"] = builder.nbgrader_env()["PATH"]  # nbgrader runs `alembic` from PATH
    config = PyFileConfigLoader(config_file.name, path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    config.Execute.timeout = timeout
    # Parallel workers share the gradebook: a writer waits up to a minute for another.
    config.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}?timeout=60"
    if exchange is not None:
        config.Exchange.root = str(exchange)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def exercises_of(course_dir: Path, assignment: str) -> dict[str, float]:
    """The test cells' grade ids and points of an assignment's source notebook, in order."""
    source = course_dir / "source" / assignment / f"{assignment}.ipynb"
    if not source.exists():
        raise SystemExit(f"no source notebook {source}: build the assignment first")
    nb = nbformat.read(source, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


# -- collecting ---------------------------------------------------------------------------


def collect_zip(course_dir: Path, assignment: str, archive: Path, pattern: str, report: Report):
    """nbgrader zip_collect from an LMS download; names that fit no student are reported."""
    if not zipfile.is_zipfile(archive):
        raise SystemExit(f"{archive} is not a zip file")
    regex = re.compile(pattern)
    with zipfile.ZipFile(archive) as zipped:
        for name in zipped.namelist():
            if name.endswith("/"):
                continue
            found = regex.match(name)
            if not found:
                report.note(name, f"file name does not match the pattern {pattern}")
            elif found["file_id"] != f"{assignment}.ipynb":
                report.note(found["student_id"], f"{name}: not a notebook of {assignment}")
    folder = course_dir / "downloaded" / assignment
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "archive").mkdir(parents=True)
    shutil.copy(archive, folder / "archive" / archive.name)
    builder.nbgrader(
        course_dir,
        "zip_collect",
        assignment,
        "--force",
        f"--FileNameCollectorPlugin.named_regexp={pattern}",
    )


def collect_exchange(api: NbGraderAPI, assignment: str, report: Report) -> None:
    """nbgrader collect: the latest submission of every student from the exchange."""
    result = api.collect(assignment)
    if not result.get("success"):
        report.note("collect", last_line(result))


# -- autograding -------------------------------------------------------------------------


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    root = course_dir / "submitted"
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir())


class Progress:
    """A bar with count and time left, redrawn on stderr as items finish."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.start = time.monotonic()

    def show(self, item: str) -> None:
        """Draw the bar before ``item``; called once per item."""
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        bar = "#" * (20 * self.done // max(self.total, 1))
        sys.stderr.write(
            f"\r{self.label} [{bar:<20}] {self.done}/{self.total}  ETA {left:4.0f} s  {item:<24.24}"
        )
        sys.stderr.flush()
        self.done += 1

    def finish(self) -> None:
        seconds = time.monotonic() - self.start
        sys.stderr.write(
            f"\r{self.label} [{'#' * 20}] {self.total}/{self.total}  {seconds:.0f} s"
            + " " * 30
            + "\n"
        )


def check_readable(path: Path) -> str | None:
    """Why a submitted notebook cannot be graded, or None."""
    if not path.exists():
        return f"no {path.name} in the submission"
    text = path.read_text(errors="replace")
    if not text.strip():
        return f"{path.name} is empty"
    try:
        nbformat.reads(text, as_version=4)
    except Exception as err:  # whatever nbformat cannot read
        return f"{path.name} is not a valid notebook ({type(err).__name__})"
    return None


def autograde(
    api: NbGraderAPI,
    course_dir: Path,
    assignment: str,
    report: Report,
    workers: int | None = None,
) -> None:
    """Autograde every submission, ``workers`` at a time (default: one per core).

    Each worker is a process with nbgrader's API of its own and a sandbox
    user of its own (no other worker of any run on the machine has it; see
    :mod:`backprop_autograder.sandbox`), taking the next student as it finishes one. nbgrader's
    gradebook is one SQLite file: SQLite lets one writer in at a time and the
    others wait (``course_api`` gives them a minute), and each worker writes
    only its own student's rows. A broken submission never stops the others.
    """
    students = submitted_students(course_dir, assignment)
    workers = max(1, min(workers or os.cpu_count() or 1, len(students)))
    bar = Progress("autograde", len(students))
    if workers == 1:
        for student in students:
            bar.show(student)
            _record(report, student, grade_student(api, course_dir, assignment, student))
    else:
        with ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
            initargs=(course_dir, api.config),
        ) as pool:
            jobs = {pool.submit(_worker_grades, course_dir, assignment, s): s for s in students}
            for job in as_completed(jobs):
                student = jobs[job]
                bar.show(student)
                _record(report, student, _outcome(job))
    bar.finish()


def grade_student(api: NbGraderAPI, course_dir: Path, assignment: str, student: str) -> list[str]:
    """Autograde one submission; what the summary should say about it (nothing if all went
    well). Runs in a worker, so that all of a submission's work is done in parallel."""
    submitted = course_dir / "submitted" / student / assignment / f"{assignment}.ipynb"
    problem = check_readable(submitted)
    if problem:
        return [problem]
    with restored_environment("NBGRADER_EXECUTION"):
        result = api.autograde(assignment, student, force=True, create=True)
    if not result.get("success"):
        return ["nbgrader could not grade it: " + last_line(result)]
    return incidents(course_dir, assignment, student)


@contextlib.contextmanager
def restored_environment(*names: str) -> Iterator[None]:
    """Put ``names`` back as they were: nbgrader 0.9 leaves NBGRADER_EXECUTION set
    after a notebook it could not grade, and it would follow our own process."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _record(report: Report, student: str, notes: list[str]) -> None:
    for line in notes:
        report.note(student, line)


def _outcome(job: Future) -> list[str]:
    try:
        return job.result()
    except Exception as error:  # a worker that died is one student's problem
        return [f"the grading worker failed: {type(error).__name__}: {error}"]


_WORKER_API: NbGraderAPI | None = None


def _start_worker(course_dir: Path, config: Any) -> None:
    """A grading worker: nbgrader's API on the course. Its kernels' sandbox user is the
    one the worker process claims (sandbox.process_uid), its own on the whole machine."""
    global _WORKER_API
    _WORKER_API = NbGraderAPI(CourseDirectory(config=config), config=config)


def _worker_grades(course_dir: Path, assignment: str, student: str) -> list[str]:
    assert _WORKER_API is not None, "the worker was not started"
    with quiet_libraries():
        return grade_student(_WORKER_API, course_dir, assignment, student)


def last_line(result: dict) -> str:
    text = (result.get("error") or result.get("log") or "unknown error").strip()
    return text.splitlines()[-1][:200]


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


# -- feedback, grades ------------------------------------------------------------------------


def feedback(api: NbGraderAPI, assignment: str, report: Report) -> None:
    result = api.generate_feedback(assignment, force=True)
    if not result.get("success"):
        report.note("feedback", last_line(result))


def read_scores(course_dir: Path, assignment: str, report: Report) -> None:
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
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


# -- the commands ---------------------------------------------------------------------------


def grade(args: argparse.Namespace) -> Report:
    """The whole flow: collect (zip or exchange), autograde, feedback, export, summary."""
    with quiet_libraries():
        return _grade(args)


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """nbgrader and SQLAlchemy warn about their own internals: not the instructor's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _grade(args: argparse.Namespace) -> Report:
    course_dir = args.course_dir.resolve()
    report = Report(args.lesson, exercises_of(course_dir, args.lesson))
    api = course_api(course_dir, args.timeout, args.exchange)
    if args.source:
        collect_zip(course_dir, args.lesson, args.source, args.pattern, report)
    else:
        collect_exchange(api, args.lesson, report)
    autograde(api, course_dir, args.lesson, report, args.workers)
    feedback(api, args.lesson, report)
    read_scores(course_dir, args.lesson, report)
    export_csv(report, args.csv or course_dir / f"grades_{args.lesson}.csv")
    return report


def choose_isolation(unsafe: bool) -> None:
    """Sandboxed grading, unless asked for in so many words; never silently without."""
    if unsafe:
        os.environ["BACKPROP_UNSAFE_NO_SANDBOX"] = "1"
        sys.stderr.write(
            "WARNING: --unsafe-no-sandbox: student code runs with your permissions. It can "
            "read the hidden checks, change the gradebook and other students' files, and use "
            "the network. Use it only for submissions you trust.\n"
        )
        return
    os.environ.pop("BACKPROP_UNSAFE_NO_SANDBOX", None)
    try:
        sandbox.find_bwrap()
    except sandbox.SandboxUnavailable as error:
        raise SystemExit(f"error: {error}") from None


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="backprop-grade", description="Grade the course's assignments with nbgrader."
    )
    main_parser.add_argument("--course-dir", type=Path, default=builder.DEFAULT_COURSE_DIR)
    main_parser.add_argument("--exchange", type=Path, help="the nbgrader exchange folder")
    main_parser.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                             help="seconds a cell may run (default 30)")  # fmt: skip
    main_parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="submissions graded at once (default: one per core)",
    )
    main_parser.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run student code with your own permissions, without bubblewrap (trusted code only)",
    )
    commands = main_parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the assignments")
    build_cmd.add_argument("lessons", nargs="*")
    build_cmd.add_argument("--seed", type=int, default=builder.DEFAULT_SEED)
    for name in ("release", "autograde", "feedback"):
        commands.add_parser(name).add_argument("lesson")
    collect_cmd = commands.add_parser("collect")
    collect_cmd.add_argument("lesson")
    collect_cmd.add_argument("--from", dest="source", type=Path, help="an LMS zip download")
    collect_cmd.add_argument("--pattern", default=DEFAULT_PATTERN)
    export_cmd = commands.add_parser("export")
    export_cmd.add_argument("lesson")
    export_cmd.add_argument("--csv", type=Path)
    grade_cmd = commands.add_parser("grade", help="collect, autograde, feedback, export")
    grade_cmd.add_argument("lesson")
    grade_cmd.add_argument("--from", dest="source", type=Path, help="an LMS zip download")
    grade_cmd.add_argument("--pattern", default=DEFAULT_PATTERN)
    grade_cmd.add_argument("--csv", type=Path)
    return main_parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "build":
        chosen = [lesson(name) for name in args.lessons] or LESSONS
        builder.build(chosen, args.course_dir.resolve(), args.seed)
        return
    args.lesson = lesson(args.lesson).name
    course_dir = args.course_dir.resolve()
    if args.command in ("grade", "autograde"):
        choose_isolation(args.unsafe_no_sandbox)
    if args.command == "grade":
        print(summary(grade(args)))
        return
    with quiet_libraries():
        run_step(args, course_dir)


def run_step(args: argparse.Namespace, course_dir: Path) -> None:
    """One instructor step on its own."""
    api = course_api(course_dir, args.timeout, args.exchange)
    report = Report(args.lesson, exercises_of(course_dir, args.lesson))
    if args.command == "release":
        result = api.release_assignment(args.lesson)
        if not result.get("success"):
            raise SystemExit(f"release failed: {last_line(result)}")
    elif args.command == "collect" and args.source:
        collect_zip(course_dir, args.lesson, args.source, args.pattern, report)
    elif args.command == "collect":
        collect_exchange(api, args.lesson, report)
    elif args.command == "autograde":
        autograde(api, course_dir, args.lesson, report, args.workers)
        read_scores(course_dir, args.lesson, report)
    elif args.command == "feedback":
        feedback(api, args.lesson, report)
    elif args.command == "export":
        read_scores(course_dir, args.lesson, report)
        export_csv(report, args.csv or course_dir / f"grades_{args.lesson}.csv")
    if args.command in ("autograde", "collect", "export"):
        print(summary(report))


if __name__ == "__main__":
    main()
