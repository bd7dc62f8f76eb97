"""What every lesson widget shares: how it shows itself, and staying out of grading.

nbgrader's autograder runs every cell of a submission, widget cells included.
A widget there would only cost time, and nbclient would store its pictures in
the graded notebook. So while ``NBGRADER_EXECUTION`` is set, constructing a
widget gives a :class:`SkippedWhileGrading` placeholder that prints one line
and accepts (and ignores) whatever the notebook does with it next.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets

from backprop_course.widgets._figure import FigureImage


def grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


class SkippedWhileGrading:
    """Stands in for a widget while nbgrader runs the notebook: no controls, no pictures."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"({self._name}: interactive widget, not built while the notebook is graded)"

    def __getattr__(self, attribute: str) -> Any:
        # Lets cells such as `trainer.train_epochs(5)` run without effect.
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> SkippedWhileGrading:
        return self


class LessonWidget:
    """Base of the lesson widgets: ``.widget`` is displayed; a placeholder while grading."""

    widget: widgets.Widget
    drawing: FigureImage  # the picture, drawn in layers
    _busy = False  # set while the widget moves its own controls

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if grading():
            return SkippedWhileGrading(cls.__name__)
        return super().__new__(cls)

    def render(self) -> bytes:
        """The current picture as PNG bytes."""
        return self.drawing.png()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _unless_busy(self, action: Callable[[], None]) -> None:
        """Run ``action`` for a control's change, unless the widget made the change itself."""
        if not self._busy:
            action()

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Move controls without each move recomputing and redrawing."""
        self._busy, was = True, self._busy
        try:
            yield
        finally:
            self._busy = was
