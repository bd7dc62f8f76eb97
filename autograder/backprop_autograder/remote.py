"""A Dask worker's side of distributed grading: one submission in, its autograded notebook out.

A worker machine needs the installed course package and bubblewrap, nothing
of the coordinator's file system. Everything else travels with the task:

* the **assignment** (:class:`Assignment`): a gzipped tar of the course's
  ``nbgrader_config.py`` and the lesson's ``source/``, ``release/`` and
  ``hidden_answers/`` folders, unpacked once per worker process into a
  scratch course directory named by its content's hash;
* the **submission**: the files of ``submitted/<student>/<lesson>/``;
* the **gradebook's URL**: the worker's nbgrader writes that student's rows
  (submission, grades, comments) to it, as on one machine. nbgrader
  updates rows it finds, so grading a student again, after a lost worker
  or a rerun, never adds a second copy.

The result (:class:`Graded`) is the autograded folder's files and what the
summary should say about it. The task logs Dask events on the topic
:data:`EVENTS` when it starts and ends, so the coordinator can tell which
submissions were started more than once (their worker was lost).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from backprop_autograder import build as builder
from backprop_autograder import sandbox
from backprop_autograder.course import load_config
from backprop_autograder.executing import grade_student, quiet_libraries

EVENTS = "backprop-grading"
# What of the course directory a worker needs to grade one lesson (besides its config).
ASSIGNMENT_FOLDERS = ("source", "release", "hidden_answers")
# One submission at a time per worker process: nbgrader's apps, the environment
# (NBGRADER_EXECUTION) and the sandbox user are per process. Run workers with
# --nthreads 1 and as many processes as cores (dask worker --nworkers N).
_ONE_AT_A_TIME = threading.Lock()
_UNPACKED: dict[str, Path] = {}  # assignment digest -> its scratch course directory


@dataclass(frozen=True)
class Assignment:
    """What a worker needs of the course to grade one lesson, as one archive."""

    name: str
    archive: bytes  # gzipped tar of nbgrader_config.py and the lesson's folders
    digest: str  # sha256 of the archive: names the worker's unpacked copy

    @classmethod
    def pack(cls, course_dir: Path, name: str) -> Assignment:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(course_dir / "nbgrader_config.py", arcname="nbgrader_config.py")
            for folder in ASSIGNMENT_FOLDERS:
                if (course_dir / folder / name).exists():
                    tar.add(course_dir / folder / name, arcname=f"{folder}/{name}")
        archive = buffer.getvalue()
        return cls(name, archive, hashlib.sha256(archive).hexdigest()[:16])


@dataclass(frozen=True)
class Settings:
    """How the coordinator grades: the gradebook, the cell timeout, and the sandbox."""

    db_url: str
    timeout: int
    sandboxed: bool = True
    run: str = ""  # names this grading run in the Dask events its tasks log


@dataclass
class Graded:
    """A worker's result for one submission."""

    student: str
    notes: list[str]  # what the summary should say about it
    autograded: dict[str, bytes] = field(default_factory=dict)  # autograded/<student>/<lesson>/
    worker: str = ""  # the Dask worker's address
    sandbox_uid: int | None = None  # the kernels' user (run as root), unique on its host


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by its path relative to it."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """``files`` (as :func:`files_of` gives them) into an emptied ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    root = folder.resolve()
    for name, content in files.items():
        path = (folder / name).resolve()
        if not path.is_relative_to(root):  # a name such as ../../x must not leave the folder
            raise ValueError(f"a file name outside its folder: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def grade_submission(
    assignment: Assignment, settings: Settings, student: str, submission: dict[str, bytes]
) -> Graded:
    """The Dask task: autograde one student's submission with nbgrader, here."""
    worker = _log_event("started", student, assignment.name, settings.run)
    with _ONE_AT_A_TIME, quiet_libraries():
        course_dir = unpacked(assignment)
        submitted = course_dir / "submitted" / student / assignment.name
        autograded = course_dir / "autograded" / student / assignment.name
        write_files(submitted, submission)
        try:
            notes = grade_student(_api(course_dir, settings), course_dir, assignment.name, student)
            result = Graded(student, notes, files_of(autograded) if autograded.exists() else {})
        finally:
            shutil.rmtree(course_dir / "submitted" / student, ignore_errors=True)
            shutil.rmtree(course_dir / "autograded" / student, ignore_errors=True)
    result.worker = worker
    result.sandbox_uid = sandbox.process_uid() if os.geteuid() == 0 else None
    _log_event("finished", student, assignment.name, settings.run)
    return result


def unpacked(assignment: Assignment) -> Path:
    """This worker's scratch course directory for ``assignment``, unpacked on first use."""
    if assignment.digest not in _UNPACKED:
        folder = _scratch_root() / f"course-{assignment.digest}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(assignment.archive), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        _UNPACKED[assignment.digest] = folder
    return _UNPACKED[assignment.digest]


def _scratch_root() -> Path:
    """The Dask worker's own local directory (else the system's temporary folder)."""
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory) / "backprop-grading"
    except ValueError:  # not inside a Dask worker (a test calling the task directly)
        import tempfile

        return Path(tempfile.gettempdir()) / f"backprop-grading-{os.getpid()}"


def _api(course_dir: Path, settings: Settings) -> NbGraderAPI:
    """nbgrader's API on the scratch course, writing to the coordinator's gradebook."""
    os.environ["PATH"] = builder.nbgrader_env()["PATH"]  # nbgrader runs `alembic` from PATH
    if settings.sandboxed:  # nbgrader_config.py reads it when it is loaded
        sandbox.find_bwrap()  # a worker without bubblewrap grades nothing: Dask tries another
        os.environ.pop("BACKPROP_UNSAFE_NO_SANDBOX", None)
    else:
        os.environ["BACKPROP_UNSAFE_NO_SANDBOX"] = "1"
    config = load_config(course_dir, settings.timeout, db_url=settings.db_url)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def _log_event(what: str, student: str, assignment: str, run: str) -> str:
    """Log a Dask event on :data:`EVENTS`; the worker's address ("" outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:
        return ""
    worker.log_event(
        EVENTS, {"event": what, "student": student, "assignment": assignment, "run": run,
                 "worker": worker.address}
    )  # fmt: skip
    return worker.address
