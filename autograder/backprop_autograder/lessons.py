"""The lessons: one notebook = one reference module = one hidden-check module, named alike."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "course"


class Lesson(NamedTuple):
    """``01_forward_pass``: notebook, assignment and module names."""

    number: str  # "01"
    topic: str  # "forward_pass": the reference, visible-check and hidden-check module
    stem: str = ""  # the notebook's name after the number, when it is not the topic

    @property
    def name(self) -> str:
        """The notebook's stem, which is also the nbgrader assignment's name."""
        return f"{self.number}_{self.stem or self.topic}"

    @property
    def notebook(self) -> Path:
        return COURSE / f"{self.name}.ipynb"

    def reference(self) -> ModuleType:
        return importlib.import_module(f"backprop_reference.{self.topic}")

    def hidden(self) -> ModuleType:
        return importlib.import_module(f"backprop_autograder.hidden.{self.topic}")


LESSONS = [
    Lesson("01", "forward_pass"),
    Lesson("02", "chain_rule"),
    Lesson("03", "jacobians"),
    Lesson("04", "matrix_form"),
    Lesson("05", "mini_batch"),
    Lesson("06", "through_time", "backprop_through_time"),
]


def lesson(name: str) -> Lesson:
    """Find a lesson by notebook name ("01_forward_pass") or topic ("forward_pass")."""
    for candidate in LESSONS:
        if name in (candidate.name, candidate.topic, candidate.number):
            return candidate
    known = ", ".join(candidate.name for candidate in LESSONS)
    raise ValueError(f"unknown lesson {name!r}; the lessons are: {known}")
