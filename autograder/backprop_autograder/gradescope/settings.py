"""What the packed zip and ``run_autograder`` agree on: the places, the settings, and
:class:`NotGradable`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from backprop_autograder import course

ROOT_VARIABLE = "GRADESCOPE_ROOT"
PYTHON_VARIABLE = "BACKPROP_GRADESCOPE_PYTHON"
DEFAULT_ROOT = Path("/autograder")
DEFAULT_PYTHON = "/autograder/venv/bin/python"

SETTINGS_FILE = "gradescope.json"
COURSE_FOLDER = "course"  # the one-lesson nbgrader course directory, in the zip
PYTHON_FOLDER = "python"  # the grader's own packages, on its PYTHONPATH only
KERNEL_PACKAGE_FOLDER = "course_package"  # installed for the kernel by setup.sh
ASSIGNMENT_FOLDERS = ("source", "release", "hidden_answers")
STUDENT = "student"  # the student's id in the scratch course: Gradescope knows who it is


class NotGradable(Exception):
    """The submission holds no notebook this autograder can grade; the message says why."""


@dataclass(frozen=True)
class Settings:
    """What the zip tells ``run_autograder``: the lesson, and how long a cell may run."""

    assignment: str
    timeout: int = course.DEFAULT_TIMEOUT

    @classmethod
    def read(cls, source: Path) -> Settings:
        data = json.loads((source / SETTINGS_FILE).read_text())
        return cls(str(data["assignment"]), int(data.get("timeout", course.DEFAULT_TIMEOUT)))
