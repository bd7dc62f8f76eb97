"""The course directory: its nbgrader configuration, nbgrader's API on it, and its gradebook.

The gradebook is wherever the course's ``nbgrader_config.py`` says
(``c.CourseDirectory.db_url``, a PostgreSQL server for a course graded on
several machines) or ``--db-url`` overrides; without either, it is the
SQLite file ``gradebook.db`` in the course directory (:func:`default_db_url`).
Every command reads and writes it through nbgrader's own API on that URL.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from backprop_autograder import build as builder

DEFAULT_TIMEOUT = 30
SQLITE_WAIT_SECONDS = 60


def default_db_url(course_dir: Path) -> str:
    """The one-machine gradebook: SQLite in the course directory.

    Parallel workers share it: SQLite lets one writer in at a time, and the
    others wait for it up to a minute.
    """
    return f"sqlite:///{course_dir / 'gradebook.db'}?timeout={SQLITE_WAIT_SECONDS}"


def is_sqlite(db_url: str) -> bool:
    return db_url.startswith("sqlite:")


def load_config(
    course_dir: Path,
    timeout: int = DEFAULT_TIMEOUT,
    exchange: Path | None = None,
    db_url: str | None = None,
) -> Config:
    """The course's nbgrader_config.py, with the command line's choices on top.

    ``exchange``: the nbgrader exchange folder (nbgrader's default is
    /srv/nbgrader/exchange), for release and collect. ``db_url``: a gradebook
    other than the one the configuration names.
    """
    config_file = course_dir / "nbgrader_config.py"
    if not config_file.exists():
        raise SystemExit(
            f"{course_dir} is not a course directory (no nbgrader_config.py): "
            "run `backprop-grade build` or `make assignments` first"
        )
    config = PyFileConfigLoader(config_file.name, path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    config.Execute.timeout = timeout
    if db_url is not None:
        config.CourseDirectory.db_url = db_url
    elif "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = default_db_url(course_dir)
    if exchange is not None:
        config.Exchange.root = str(exchange)
    return config


def gradebook_url(config: Config) -> str:
    """The gradebook a loaded configuration names (see :func:`load_config`)."""
    return str(config.CourseDirectory.db_url)


def course_api(
    course_dir: Path,
    timeout: int = DEFAULT_TIMEOUT,
    exchange: Path | None = None,
    db_url: str | None = None,
) -> NbGraderAPI:
    """nbgrader's API on the course directory, configured by :func:`load_config`."""
    os.environ["PATH"] = builder.nbgrader_env()["PATH"]  # nbgrader runs `alembic` from PATH
    config = load_config(course_dir, timeout, exchange, db_url)
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


def last_line(result: dict) -> str:
    """The last line of what an nbgrader API call said when it failed."""
    text = (result.get("error") or result.get("log") or "unknown error").strip()
    return text.splitlines()[-1][:200]
