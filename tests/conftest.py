"""Shared test settings: hypothesis profiles, the Mazur network, the graded demo class,
a PostgreSQL server."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (the machine is shared and noisy),
# a fixed database-free run in CI so a failure reproduces from its seed.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=60,
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


# The slowest groups, slowest first (pytest --durations, this 2-core machine): handed
# out first, so that the two processes finish together instead of one waiting for the
# other's last long file. The rest follow in file order.
SLOWEST_FIRST = [
    "demo_class",
    "tests/test_assignments.py",
    "tests/test_adversarial.py",
    "tests/test_stand_ins.py",
    "tests/test_journey_self_learner.py",
    "tests/test_browser_widgets.py",
    "tests/test_journey_instructor.py",
    "tests/test_bench.py",
    "tests/test_fuzz_grading.py",
    "tests/test_make.py",
    "tests/test_progress.py",
]


def pytest_itemcollected(item):
    """With ``make test``'s ``-n 2 --dist loadgroup``, each test file runs on one process:
    its module fixtures (a built course, a graded class) are made once. Files that share
    a costly session fixture name one ``xdist_group`` for all of them (``demo_class``).

    The mark goes on as each test is collected: xdist turns the marks into the work units
    in its own ``pytest_collection_modifyitems``, which may run before this file's."""
    if item.get_closest_marker("xdist_group") is None:
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The slowest groups first (:data:`SLOWEST_FIRST`), in xdist's workers, which collect."""
    if getattr(config.option, "loadgroup", False):
        rank = {group: number for number, group in enumerate(SLOWEST_FIRST)}
        items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: file order


def pytest_xdist_node_collection_finished(node, ids):
    """Refuse to run scattered: under ``--dist loadgroup`` every test's id must carry its
    group, which is how xdist keeps a group on one process (some pytest and xdist
    versions together lose it, and every module fixture is then made twice)."""
    lost = [nodeid for nodeid in ids if "@" not in nodeid]
    if node.config.getoption("dist") == "loadgroup" and lost:
        raise pytest.UsageError(
            f"pytest-xdist did not group {len(lost)} tests (first: {lost[0]}): this pytest and"
            " pytest-xdist do not work together; install the versions pyproject.toml allows"
        )


def _group(item) -> str:
    return item.get_closest_marker("xdist_group").args[0]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo class of lesson 01 graded on this machine by three workers at once (SQLite
    gradebook): its folder (downloads zip, grades CSV, summary) and report. Shared by the
    grading tests and the distributed ones, which must reproduce it."""
    from backprop_autograder import demo
    from backprop_autograder.lessons import lesson

    out = tmp_path_factory.mktemp("demo")
    the_lesson = lesson("01_forward_pass")
    report = demo.run([the_lesson], out, timeout=10, workers=3)[the_lesson.name]
    return out, report


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server for the session (tests/services.py); each test module
    takes a database of its own with ``postgres.new_database(name)``."""
    from services import Postgres

    server = Postgres(tmp_path_factory.mktemp("postgres")).start()
    yield server
    server.stop()


@pytest.fixture
def mazur():
    """Mazur's 2-2-2 network: parameters, input, target, activations, loss."""
    params = {
        "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
        "b1": np.full((2, 1), 0.35),
        "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
        "b2": np.full((2, 1), 0.60),
    }
    x = np.array([[0.05], [0.10]])
    y = np.array([[0.01], [0.99]])
    return params, x, y, ["sigmoid", "sigmoid"], "half_squared_error"
