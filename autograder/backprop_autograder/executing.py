"""Autograding on this machine: every submission through nbgrader's autograde, in parallel.

Each worker is a forked process with nbgrader's API of its own; each
grading kernel runs in the bubblewrap sandbox (:mod:`backprop_autograder.sandbox`).
:mod:`backprop_autograder.cluster` does the same on a Dask cluster.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from backprop_autograder.collecting import submitted_students
from backprop_autograder.course import last_line
from backprop_autograder.reporting import Report, incidents


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


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """nbgrader and SQLAlchemy warn about their own internals: not the instructor's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
