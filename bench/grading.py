"""Grading throughput: stock `nbgrader autograde` against `backprop-grade autograde`.

Both grade the same N solved submissions of lesson 01, each in its own
course directory: stock nbgrader serially, with a minimal configuration and
no isolation; ours sandboxed (bubblewrap) and in parallel, one worker per
core. Each run is a fresh process; the two alternate over the rounds. Prints
one JSON line: notebooks per minute for both, their ratio (ours / stock),
and the sandbox's start-up overhead per notebook (a sandboxed kernel's start
and stop against a plain one's, measured side by side).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from backprop_autograder.build import build, nbgrader_env
from backprop_autograder.demo import perfect
from backprop_autograder.lessons import lesson

STOCK_CONFIG = """c = get_config()
c.CourseDirectory.course_id = "backprop"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.Execute.timeout = 30
"""


def prepare(root: Path, notebooks: int, stock: bool) -> None:
    the_lesson = lesson("01_forward_pass")
    build([the_lesson], root)
    if stock:
        (root / "nbgrader_config.py").write_text(STOCK_CONFIG)
    solved = nbformat.writes(perfect(the_lesson))
    for i in range(notebooks):
        folder = root / "submitted" / f"student{i:02d}" / the_lesson.name
        folder.mkdir(parents=True)
        (folder / f"{the_lesson.name}.ipynb").write_text(solved)


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=nbgrader_env(), check=True, capture_output=True)
    return time.perf_counter() - start


def kernel_round_trip(manager_class: type) -> float:
    """Seconds to start a kernel, run one empty cell in it, and stop it."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("pass")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    with tempfile.TemporaryDirectory() as scratch:
        client = NotebookClient(
            nb, kernel_manager_class=manager_class, resources={"metadata": {"path": scratch}}
        )
        start = time.perf_counter()
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def sandbox_overhead_ms(rounds: int = 5) -> float:
    """Median extra start-up time of a sandboxed kernel, alternating with a plain one."""
    from jupyter_client.manager import AsyncKernelManager

    from backprop_autograder.sandbox import SandboxedKernelManager

    extra = []
    for _ in range(rounds):
        plain = kernel_round_trip(AsyncKernelManager)
        sandboxed = kernel_round_trip(SandboxedKernelManager)
        extra.append(sandboxed - plain)
    return round(1e3 * statistics.median(extra), 1)


def run(notebooks: int = 20, rounds: int = 2) -> dict:
    assignment = lesson("01_forward_pass").name
    with tempfile.TemporaryDirectory() as tmp:
        stock_dir, ours_dir = Path(tmp) / "stock", Path(tmp) / "ours"
        prepare(stock_dir, notebooks, stock=True)
        prepare(ours_dir, notebooks, stock=False)
        stock_cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]
        ours_cmd = [sys.executable, "-m", "backprop_autograder.cli",
                    "--course-dir", str(ours_dir), "autograde", assignment]  # fmt: skip
        stock_times, ours_times = [], []
        for _ in range(rounds):
            stock_times.append(timed(stock_cmd, stock_dir))
            ours_times.append(timed(ours_cmd, ours_dir))
        shutil.rmtree(tmp, ignore_errors=True)
    stock_per_min = notebooks / statistics.median(stock_times) * 60
    ours_per_min = notebooks / statistics.median(ours_times) * 60
    return {
        "bench": "grading",
        "notebooks": notebooks,
        "stock_per_min": round(stock_per_min, 1),
        "ours_per_min": round(ours_per_min, 1),
        "ratio": round(ours_per_min / stock_per_min, 2),
        "rounds": rounds,
        "workers": os.cpu_count(),
        "sandbox_startup_overhead_ms": sandbox_overhead_ms(),
    }


if __name__ == "__main__":
    print(json.dumps(run()))
