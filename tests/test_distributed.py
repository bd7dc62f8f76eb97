"""Grading beyond one machine: a real Dask cluster and a real PostgreSQL gradebook.

A PostgreSQL server (conftest.py, tests/services.py) holds the gradebook,
named in the course's nbgrader_config.py as an instructor would. A Dask
scheduler and two ``dask worker`` processes grade, each worker in a scratch
folder of its own, in a mount namespace where the coordinator's folder (the
course directory, the class's zip) is hidden: submissions travel as task
inputs, autograded notebooks come back as results.

The class: lesson 01's demo class (crashes, timeouts, broken files, named
mistakes) and lesson 06's small one. The cluster's grades must equal a
one-machine run with SQLite; killing a worker mid-batch must change nothing;
a second run must change nothing; no worker keeps a gradebook connection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry
from services import DaskCluster

from backprop_autograder import cli, demo, pipeline, remote, sandbox
from backprop_autograder.build import build
from backprop_autograder.lessons import lesson
from backprop_autograder.remote import EVENTS

pytestmark = [pytest.mark.distributed, pytest.mark.grading, pytest.mark.slow,
              pytest.mark.xdist_group("demo_class"),  # they share demo_run
              pytest.mark.timeout(900)]  # setups grade whole classes, on a cluster and not

FULL = lesson("01_forward_pass")  # the whole demo class
SMALL = lesson("06_backprop_through_time")  # perfect, half-finished, blank


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory) -> Path:
    """The instructor's side: everything here is hidden from the workers."""
    return tmp_path_factory.mktemp("coordinator")


@pytest.fixture(scope="module")
def db_url(postgres) -> str:
    return postgres.new_database("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, coordinator) -> DaskCluster:
    dask = DaskCluster(tmp_path_factory.mktemp("dask"), hidden=coordinator).start()
    yield dask
    dask.stop()


@pytest.fixture(scope="module")
def course(coordinator, db_url, demo_run) -> Path:
    """Both lessons built into a course whose nbgrader_config.py names PostgreSQL, and
    both classes' LMS zips."""
    course_dir = coordinator / "course"
    demo.use_gradebook(course_dir, db_url)
    build([FULL, SMALL], course_dir)
    out, _ = demo_run
    shutil.copy(out / f"downloads_{FULL.name}.zip", coordinator / f"{FULL.name}.zip")
    demo.pack(SMALL, coordinator / f"{SMALL.name}.zip", small=True)
    return course_dir


def grade_on_cluster(course: Path, cluster: DaskCluster, the_lesson, csv: Path) -> str:
    """``backprop-grade --cluster ADDRESS grade LESSON``, in a process of its own; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "backprop_autograder.cli", "--course-dir", str(course),
         "--timeout", "10", "--cluster", cluster.address, "grade", the_lesson.name,
         "--from", str(course.parent / f"{the_lesson.name}.zip"), "--csv", str(csv)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def cluster_run(course, cluster, coordinator) -> dict[str, str]:
    """Both classes graded once on the cluster: lesson -> the summary printed."""
    return {
        the_lesson.name: grade_on_cluster(
            course, cluster, the_lesson, coordinator / f"cluster_{the_lesson.name}.csv"
        )
        for the_lesson in (FULL, SMALL)
    }


@pytest.fixture(scope="module")
def one_machine_small(tmp_path_factory, course) -> Path:
    """Lesson 06's small class graded on this machine, SQLite gradebook: its CSV."""
    folder = tmp_path_factory.mktemp("one-machine")
    build([SMALL], folder / "course")
    csv = folder / "grades.csv"
    args = cli.parser().parse_args(
        ["--course-dir", str(folder / "course"), "--timeout", "10", "grade", SMALL.name,
         "--from", str(course.parent / f"{SMALL.name}.zip"), "--csv", str(csv)]
    )  # fmt: skip
    args.lesson = SMALL.name
    pipeline.grade(args)
    assert (folder / "course" / "gradebook.db").exists()  # the one-machine default
    return csv


def attention(summary: str) -> list[str]:
    """The summary's 'needs attention' lines, sorted."""
    return sorted(line for line in summary.splitlines() if line.startswith("  - "))


def gradebook_rows(postgres, db_url: str) -> dict[str, list[tuple]]:
    """What the gradebook holds: submissions, and every grade with its score."""
    database = db_url.rsplit("/", 1)[1]
    return {
        "submissions": postgres.sql(
            "SELECT a.name, s.student_id, s.id FROM submitted_assignment s "
            "JOIN assignment a ON a.id = s.assignment_id ORDER BY 1, 2", database=database),
        "grades": postgres.sql(
            "SELECT a.name, s.student_id, c.name, g.id, g.auto_score FROM grade g "
            "JOIN base_cell c ON c.id = g.cell_id "
            "JOIN submitted_notebook n ON n.id = g.notebook_id "
            "JOIN submitted_assignment s ON s.id = n.assignment_id "
            "JOIN assignment a ON a.id = s.assignment_id ORDER BY 1, 2, 3", database=database),
    }  # fmt: skip


# -- the same grades as one machine -------------------------------------------------------


def test_the_cluster_gives_exactly_the_one_machine_grades(
    cluster_run, coordinator, demo_run, one_machine_small
):
    out, _ = demo_run
    full = (coordinator / f"cluster_{FULL.name}.csv").read_text()
    assert full == (out / f"grades_{FULL.name}.csv").read_text()
    small = (coordinator / f"cluster_{SMALL.name}.csv").read_text()
    assert small == one_machine_small.read_text()
    # the same incidents (crashes, timeouts, edited tests, broken files) are reported
    one_machine = (out / f"summary_{FULL.name}.txt").read_text()
    assert attention(cluster_run[FULL.name]) == attention(one_machine)
    assert len(attention(one_machine)) >= 5


def test_the_gradebook_is_postgresql_and_holds_each_submission_once(
    cluster_run, course, postgres, db_url
):
    assert not (course / "gradebook.db").exists()  # nothing went to SQLite
    rows = gradebook_rows(postgres, db_url)
    submissions = [(name, student) for name, student, _ in rows["submissions"]]
    assert len(submissions) == len(set(submissions))
    graded = {name: sum(1 for n, _ in submissions if n == name) for name in (FULL.name, SMALL.name)}
    assert graded == {FULL.name: len(demo.students(FULL)), SMALL.name: len(demo.small_class(SMALL))}
    cells = [(name, student, cell) for name, student, cell, _, _ in rows["grades"]]
    assert len(cells) == len(set(cells))


def test_workers_share_the_work_and_never_see_the_course(cluster_run, cluster, course):
    with cluster.client() as client:
        assert set(client.run(os.path.exists, str(course)).values()) == {False}
        assert set(client.run(os.path.exists, str(course.parent)).values()) == {True}  # empty
        started = [event for _, event in client.get_events(EVENTS) if event["event"] == "started"]
        assert len({event["worker"] for event in started}) == 2, "one worker did all the work"


def test_two_workers_on_one_host_never_share_a_sandbox_user(cluster_run, cluster):
    if os.geteuid() != 0:
        pytest.skip("only root gives each grading kernel a user of its own")
    with cluster.client() as client:
        uids = client.run(sandbox.process_uid)
    assert len(set(uids.values())) == len(uids) == 2, uids
    assert all(uid in sandbox.SANDBOX_UIDS for uid in uids.values())


def test_no_worker_keeps_a_gradebook_connection(cluster_run, postgres, db_url):
    database = db_url.rsplit("/", 1)[1]
    open_connections = postgres.sql(
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    assert open_connections == [(0,)]


def test_progress_shows_in_the_dask_dashboard(cluster_run, cluster):
    with cluster.client() as client:
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: sorted(dask_scheduler.task_prefixes)
        )
    assert f"grade_{FULL.name}" in prefixes and f"grade_{SMALL.name}" in prefixes, prefixes
    with urllib.request.urlopen(cluster.dashboard + "/status", timeout=30) as page:
        assert page.status == 200


# -- a gradebook the workers cannot use: a clear error before anything is collected ------


def snapshot(folder: Path) -> dict[str, int]:
    return {str(path): path.stat().st_mtime_ns for path in folder.rglob("*")}


def grade_command(course: Path, the_lesson, *options: str) -> list[str]:
    return ["--course-dir", str(course), *options, "grade", the_lesson.name,
            "--from", str(course.parent / f"{the_lesson.name}.zip")]  # fmt: skip


def test_cluster_refuses_a_sqlite_gradebook_and_says_what_to_set(course, one_machine_small):
    sqlite_course = one_machine_small.parent / "course"
    shutil.copy(course.parent / f"{SMALL.name}.zip", one_machine_small.parent)
    before = snapshot(sqlite_course)
    with pytest.raises(SystemExit, match=r"not the SQLite file.*c\.CourseDirectory\.db_url"):
        cli.main(grade_command(sqlite_course, SMALL, "--cluster", "tcp://127.0.0.1:9"))
    assert snapshot(sqlite_course) == before


def test_cluster_autograde_alone_refuses_a_sqlite_gradebook_too(one_machine_small):
    sqlite_course = one_machine_small.parent / "course"
    before = snapshot(sqlite_course)
    with pytest.raises(SystemExit, match=r"not the SQLite file.*c\.CourseDirectory\.db_url"):
        cli.main(["--course-dir", str(sqlite_course), "--cluster", "tcp://127.0.0.1:9",
                  "autograde", SMALL.name])  # fmt: skip
    assert snapshot(sqlite_course) == before


def test_cluster_names_a_gradebook_without_the_assignment(course, postgres):
    empty = postgres.new_database("empty_gradebook")
    before = snapshot(course)
    with pytest.raises(SystemExit, match=rf"has no assignment {SMALL.name}: run `backprop-grade"):
        cli.main(grade_command(course, SMALL, "--db-url", empty, "--cluster", "tcp://127.0.0.1:9"))
    assert snapshot(course) == before


def test_a_worker_without_bubblewrap_grades_nothing(course, db_url, monkeypatch):
    """Its task fails (Dask then tries another worker) instead of grading unsandboxed."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("BACKPROP_UNSAFE_NO_SANDBOX", raising=False)
    assignment = remote.Assignment.pack(course, SMALL.name)
    settings = remote.Settings(db_url, 10, sandboxed=True, run="no-bwrap")
    notebook = {f"{SMALL.name}.ipynb": (course / "release" / SMALL.name / f"{SMALL.name}.ipynb")
                .read_bytes()}  # fmt: skip
    with pytest.raises(sandbox.SandboxUnavailable, match="bwrap was not found"):
        remote.grade_submission(assignment, settings, "no-bwrap", notebook)
    with Gradebook(db_url) as gradebook, pytest.raises(MissingEntry):
        gradebook.find_submission(SMALL.name, "no-bwrap")


# -- again, and with a worker lost -----------------------------------------------------


def test_a_second_run_changes_nothing(cluster_run, course, cluster, coordinator, postgres, db_url):
    before = gradebook_rows(postgres, db_url)
    again = grade_on_cluster(course, cluster, SMALL, coordinator / "again.csv")
    assert (coordinator / "again.csv").read_text() == (
        coordinator / f"cluster_{SMALL.name}.csv"
    ).read_text()
    assert gradebook_rows(postgres, db_url) == before
    assert attention(again) == attention(cluster_run[SMALL.name])


def test_killing_a_worker_mid_batch_loses_nothing(
    cluster_run, course, cluster, coordinator, postgres, db_url
):
    """Worker 1 is killed (SIGKILL, as a lost machine) while it grades a submission; its
    submissions are graded by worker 2, the CSV and the gradebook are as before."""
    before = gradebook_rows(postgres, db_url)
    csv = coordinator / "after_kill.csv"
    started_at = time.time()
    grading = subprocess.Popen(
        [sys.executable, "-m", "backprop_autograder.cli", "--course-dir", str(course),
         "--timeout", "10", "--cluster", cluster.address, "grade", FULL.name,
         "--from", str(coordinator / f"{FULL.name}.zip"), "--csv", str(csv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with cluster.client() as client:
        victim = worker_address(client, "worker-1")
        wait_for_unfinished_task(client, victim, started_at)
    cluster.kill("worker-1")
    stdout, stderr = grading.communicate(timeout=900)
    assert grading.returncode == 0, stdout + stderr
    assert csv.read_text() == (coordinator / f"cluster_{FULL.name}.csv").read_text()
    assert gradebook_rows(postgres, db_url) == before
    retried = [line for line in attention(stdout) if "graded again after its worker" in line]
    assert retried, stdout
    assert [line for line in attention(stdout) if line not in retried] == attention(
        cluster_run[FULL.name]
    )


def worker_address(client, name: str) -> str:
    workers = client.scheduler_info()["workers"]
    return next(address for address, info in workers.items() if info["name"] == name)


def wait_for_unfinished_task(client, worker: str, since: float, seconds: float = 300) -> None:
    """Until ``worker`` has been grading a submission (started after ``since``) for half a
    second: a notebook takes longer than that (its sandboxed kernel alone starts in about
    one), so the kill lands in the middle of it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = [(t, e) for t, e in client.get_events(EVENTS)
                  if t >= since and e["worker"] == worker]  # fmt: skip
        finished = {e["student"] for _, e in events if e["event"] == "finished"}
        running = [t for t, e in events if e["event"] == "started" and e["student"] not in finished]
        if running and time.time() - max(running) > 0.5:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{worker} started no submission in {seconds} s")
