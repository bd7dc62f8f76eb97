"""Distributed grading's cost on one machine: two Dask workers against the local pool of two.

The same N solved submissions of lesson 01 are autograded, with the same
PostgreSQL gradebook (a real server, started for the bench), two ways:
``backprop-grade --workers 2 autograde`` (this machine's process pool) and
``backprop-grade --cluster ADDRESS autograde`` (a real Dask scheduler and two
``dask worker`` processes, one thread each, started with ``--preload
backprop_autograder.remote`` as autograder/README.md says). Each run is a fresh process;
the two alternate over the rounds. Prints one JSON line: notebooks per minute
both ways, their ratio (target: at least 0.9), and what shipping one
submission to a worker and its result back costs (a task that only returns
how many files the submission has, timed over N).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from backprop_autograder.build import build
from backprop_autograder.demo import perfect, use_gradebook
from backprop_autograder.lessons import lesson
from backprop_autograder.remote import files_of
from bench.grading import timed
from tests.services import DaskCluster, Postgres

LESSON = lesson("01_forward_pass")
WORKERS = 2


def prepare(course: Path, db_url: str, notebooks: int) -> None:
    """A course on ``db_url`` with ``notebooks`` copies of a solved submission."""
    use_gradebook(course, db_url)
    build([LESSON], course)
    solved = nbformat.writes(perfect(LESSON))
    for i in range(notebooks):
        folder = course / "submitted" / f"student{i:02d}" / LESSON.name
        folder.mkdir(parents=True)
        (folder / f"{LESSON.name}.ipynb").write_text(solved)


def shipping_ms(cluster: DaskCluster, course: Path) -> float:
    """Milliseconds per submission to send it to a worker and a small result back."""
    submissions = [
        files_of(folder / LESSON.name) for folder in sorted((course / "submitted").iterdir())
    ]
    with cluster.client() as client:
        start = time.perf_counter()
        # A builtin as the task: the workers import nothing of this folder (not on their path).
        futures = [client.submit(len, files, pure=False) for files in submissions]
        client.gather(futures)
        return round(1e3 * (time.perf_counter() - start) / len(submissions), 1)


def run(notebooks: int = 12, rounds: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        postgres = Postgres(root / "postgres").start()
        (root / "courses").mkdir()  # hidden from the workers, as a coordinator's would be
        cluster = DaskCluster(root / "dask", hidden=root / "courses", workers=WORKERS)
        try:
            cluster.start()
            courses = {way: root / "courses" / way for way in ("local", "cluster")}
            for way, course in courses.items():
                prepare(course, postgres.new_database(way), notebooks)
            base = [sys.executable, "-m", "backprop_autograder.cli"]
            commands = {
                "local": [*base, "--course-dir", str(courses["local"]),
                          "--workers", str(WORKERS), "autograde", LESSON.name],
                "cluster": [*base, "--course-dir", str(courses["cluster"]),
                            "--cluster", cluster.address, "autograde", LESSON.name],
            }  # fmt: skip
            times = {way: [] for way in commands}
            for _ in range(rounds):
                for way, command in commands.items():
                    times[way].append(timed(command, root))
            ship = shipping_ms(cluster, courses["cluster"])
        finally:
            cluster.stop()
            postgres.stop()
    per_min = {way: notebooks / statistics.median(t) * 60 for way, t in times.items()}
    return {
        "bench": "distributed",
        "workers": WORKERS,
        "notebooks": notebooks,
        "local_pool_per_min": round(per_min["local"], 1),
        "dask_per_min": round(per_min["cluster"], 1),
        "ratio_vs_local_pool": round(per_min["cluster"] / per_min["local"], 2),
        "ship_ms_per_notebook": ship,
        "rounds": rounds,
    }


if __name__ == "__main__":
    print(json.dumps(run()))
