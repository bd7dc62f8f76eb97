"""Autograding on a Dask cluster: ``backprop-grade grade LESSON --cluster tcp://HOST:8786``.

The coordinator (the instructor's machine, where the course directory is)
sends each submission to the cluster as one task
(:func:`backprop_autograder.remote.grade_submission`) and writes back what
comes back; the workers never see its file system:

1. (before anything is collected, :func:`check_gradebook`, called by the flow:
   the gradebook is a server every worker can reach, not SQLite, and already
   holds the assignment, which ``backprop-grade build`` records there);
2. pack the assignment once and send it to every worker (``scatter``);
3. submit one task per student, grouped as ``grade_<lesson>`` in Dask's
   dashboard, with Dask's retries; a worker lost mid-task has its tasks run
   again elsewhere by the scheduler;
4. as results arrive: the autograded notebook into ``autograded/``, its
   notes into the summary, the bar forward;
5. read Dask's event log: a submission started more than once was retried,
   and the summary says so.

Each worker writes its own student's rows to the gradebook through
nbgrader (see :mod:`backprop_autograder.remote`), which updates the rows it
finds: a retry or a rerun leaves one copy, and grades equal a one-machine run.
"""

from __future__ import annotations

import collections
import os
import uuid
from pathlib import Path

from distributed import Client, as_completed
from distributed.client import Future
from nbgrader.api import Gradebook, MissingEntry
from traitlets.config import Config

from backprop_autograder.collecting import submitted_students
from backprop_autograder.course import gradebook_url, is_sqlite
from backprop_autograder.executing import Progress
from backprop_autograder.remote import (
    EVENTS,
    Assignment,
    Graded,
    Settings,
    files_of,
    grade_submission,
    write_files,
)
from backprop_autograder.reporting import Report

RETRIES = 2  # a task that raised runs again this often (Dask's retries)
CONNECT_SECONDS = 30


def autograde(
    address: str, config: Config, course_dir: Path, assignment: str, report: Report
) -> list[Graded]:
    """Autograde every submission of ``assignment`` on the Dask cluster at ``address``
    (its gradebook checked first: :func:`check_gradebook`)."""
    run = uuid.uuid4().hex[:8]  # two runs of one lesson never share task names or events
    settings = Settings(gradebook_url(config), int(config.Execute.timeout), _sandboxed(), run)
    students = submitted_students(course_dir, assignment)
    with connect(address) as client:
        futures = submit_all(client, Assignment.pack(course_dir, assignment), settings,
                             course_dir, students)  # fmt: skip
        results = gather(client, futures, course_dir, assignment, report)
        note_retries(client, run, report)
    return results


def connect(address: str) -> Client:
    """A client of the scheduler at ``address``; a clear error if none answers or no
    worker is there."""
    try:
        client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except OSError as error:
        raise SystemExit(
            f"error: no Dask scheduler answered at {address} ({error}). Start one "
            "(dask scheduler) and its workers (dask worker ADDRESS --nthreads 1), "
            "or grade on this machine without --cluster."
        ) from None
    if not client.scheduler_info()["workers"]:
        client.close()
        raise SystemExit(f"error: the Dask scheduler at {address} has no workers: start some")
    return client


def check_gradebook(db_url: str, course_id: str, assignment: str) -> None:
    """The gradebook must be a server the workers reach, and hold the assignment."""
    if is_sqlite(db_url):
        raise SystemExit(
            "error: --cluster needs a gradebook every worker can reach, not the SQLite file "
            f"{db_url}. Set c.CourseDirectory.db_url = 'postgresql://USER@HOST/DB' in the "
            "course's nbgrader_config.py (or pass --db-url), then build the assignment."
        )
    with Gradebook(db_url, course_id) as gradebook:  # creates the tables if they are missing
        try:
            gradebook.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(
                f"error: the gradebook {_without_password(db_url)} has no assignment "
                f"{assignment}: run `backprop-grade build {assignment}` (it records it there)"
            ) from None


def submit_all(
    client: Client,
    assignment: Assignment,
    settings: Settings,
    course_dir: Path,
    students: list[str],
) -> dict[Future, str]:
    """One task per student; the assignment travels once to each worker."""
    shipped = client.scatter(assignment, broadcast=True, hash=False)
    return {
        client.submit(
            grade_submission,
            shipped,
            settings,
            student,
            files_of(course_dir / "submitted" / student / assignment.name),
            key=task_key(assignment.name, settings.run, student),
            retries=RETRIES,
            pure=False,
        ): student
        for student in students
    }


def task_key(assignment: str, run: str, student: str) -> tuple[str, str]:
    """A task's name: Dask's dashboard groups them as ``grade_<lesson>`` (the run's
    hex id is dropped from the group's name) and lists each by student."""
    return (f"grade_{assignment}-{run}", student)


def gather(
    client: Client, futures: dict[Future, str], course_dir: Path, assignment: str, report: Report
) -> list[Graded]:
    """Results as they come: autograded files written back, notes recorded, bar moved."""
    bar = Progress("autograde", len(futures))
    results = []
    for future in as_completed(futures, loop=client.loop):
        student = futures[future]
        bar.show(student)
        try:
            graded: Graded = future.result()
        except Exception as error:  # a submission the cluster could not grade: its own loss
            report.note(student, f"not graded on the cluster: {type(error).__name__}: {error}")
            continue
        folder = course_dir / "autograded" / student / assignment
        write_files(folder, graded.autograded)
        for line in graded.notes:
            report.note(student, line)
        results.append(graded)
    bar.finish()
    return results


def note_retries(client: Client, run: str, report: Report) -> None:
    """Submissions whose task started more than once in this run: their worker was lost,
    or the task raised."""
    started = collections.defaultdict(list)
    for _, event in client.get_events(EVENTS):
        if event.get("run") == run and event.get("event") == "started":
            started[event["student"]].append(event["worker"])
    for student, workers in sorted(started.items()):
        if len(workers) > 1:
            report.note(
                student,
                f"graded again after its worker was lost or failed (started on "
                f"{', '.join(workers)}); graded once in the gradebook",
            )


def _sandboxed() -> bool:
    return not os.environ.get("BACKPROP_UNSAFE_NO_SANDBOX")


def _without_password(db_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)
