"""The progress table of the start page: which exercises the saved lessons pass.

``ProgressView()`` in ``course/00_start_here.ipynb`` shows a button, a status line
and a table with one row per lesson and one mark per exercise; the run itself
(each saved notebook in a fresh kernel of its own) is :mod:`backprop_course.progress`.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from backprop_course.progress import (
    CELL_TIMEOUT,
    MARKS,
    RUN_MARKER,
    ExerciseStatus,
    LessonProgress,
    expand,
    grouped_notes,
    progress,
    totals,
)

# Colours of JupyterLab's theme (light or dark), with neutral fallbacks elsewhere.
COLOURS = {
    "passed": "var(--jp-success-color1, #2e7d32)",
    "failed": "var(--jp-error-color1, #c62828)",
    "not started": "var(--jp-ui-font-color2, #757575)",
    "not run": "var(--jp-warn-color1, #ef6c00)",
}
BORDER = "1px solid var(--jp-border-color2, #bdbdbd)"
CELL_STYLE = f"padding: 2px 10px; border-bottom: {BORDER}"


def mark_html(exercise: ExerciseStatus) -> str:
    """One exercise as a coloured mark, with its name, status and note as the tooltip."""
    tip = f"{exercise.exercise}: {exercise.status}" + (
        f" — {exercise.note}" if exercise.note else ""
    )
    colour = COLOURS[exercise.status]
    return (
        f'<span title="{html.escape(tip)}" style="color: {colour}; font-weight: bold; '
        f'cursor: help; padding: 0 1px">{exercise.mark}</span>'
    )


def row_html(row: LessonProgress | Path) -> str:
    """A lesson's row; a notebook still being run (a Path) says so."""
    if isinstance(row, Path):
        name, score, rest = row.name.removesuffix(".ipynb"), "…", "<i>running…</i>"
    elif row.problem:
        colour = COLOURS["failed"]
        name, score = row.lesson, "–"
        rest = f'<span style="color: {colour}">{html.escape(row.problem)}</span>'
    else:
        name, score = row.lesson, f"{row.passed}/{row.total}"
        rest = "".join(mark_html(exercise) for exercise in row.exercises)
    return (
        f'<tr><td style="{CELL_STYLE}; text-align: left"><code>{html.escape(name)}</code></td>'
        f'<td style="{CELL_STYLE}; text-align: right">{score}</td>'
        f'<td style="{CELL_STYLE}; text-align: left; font-size: 1.15em">{rest}</td></tr>'
    )


def notes_html(lessons: Sequence[LessonProgress | Path]) -> str:
    """The notes of the exercises that failed or did not run, as a list under the table
    (tooltips cannot be read on a touch screen)."""
    items = [
        f"<li>{mark_html(first)} <code>{html.escape(lesson.lesson)}</code> "
        f"<b>{html.escape(', '.join(names))}</b>: {html.escape(first.note)}</li>"
        for lesson in lessons
        if isinstance(lesson, LessonProgress)
        for first, names in grouped_notes(lesson)
    ]
    if not items:
        return ""
    return f'<ul style="margin: 6px 0; padding-left: 1.5em">{"".join(items)}</ul>'


def table_html(rows: Sequence[LessonProgress | Path]) -> str:
    """The progress table as HTML, legible in JupyterLab's light and dark themes."""
    legend = " &nbsp; ".join(
        f'<span style="color: {COLOURS[status]}; font-weight: bold">{mark}</span> {status}'
        for status, mark in MARKS.items()
    )
    head = "".join(
        f'<th style="{CELL_STYLE}; text-align: {align}">{title}</th>'
        for title, align in (("lesson", "left"), ("passed", "right"), ("exercises", "left"))
    )
    body = "".join(row_html(row) for row in rows)
    return (
        '<div style="color: var(--jp-ui-font-color1, inherit)">'
        f'<table style="border-collapse: collapse; margin: 4px 0"><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table>"
        f'<div style="color: var(--jp-ui-font-color2, inherit); font-size: 0.9em">{legend}'
        " &nbsp; (point at a mark for the exercise's name and why)</div>"
        f"{notes_html(rows)}</div>"
    )


class ProgressView:
    """A button, a status line and the progress table of the lessons in ``folder``.

    The table is computed when the view is first displayed and again on every click
    of the button. It runs the *saved* notebooks: save yours first (Ctrl+S). The
    computation blocks the kernel for some seconds; the status line says so first.
    """

    def __init__(self, folder: str | Path = ".", *, timeout: int = CELL_TIMEOUT) -> None:
        import ipywidgets as widgets

        self.folder = Path(folder)
        self.timeout = timeout
        self.lessons: list[LessonProgress] = []
        self.button = widgets.Button(
            description="Check my saved notebooks",
            icon="refresh",
            tooltip="run every saved lesson notebook from top to bottom and list its checks",
            layout=widgets.Layout(width="auto"),
        )
        self.status = widgets.HTML()
        self.table = widgets.HTML()
        self.widget = widgets.VBox([widgets.HBox([self.button, self.status]), self.table])
        self.button.on_click(lambda _: self.refresh())
        self._shown = False

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        if not self._shown:
            self._shown = True
            self.refresh()

    def refresh(self) -> None:
        """Run the saved notebooks again and show the result."""
        if os.environ.get(RUN_MARKER):  # inside a progress run: never start another
            self.status.value = "(not computed inside a progress run)"
            return
        self._start()
        started = time.monotonic()
        try:
            self.lessons = progress([self.folder], timeout=self.timeout, on_result=self._arrived)
        except Exception as error:  # a bug here: say so where the learner is looking
            self.status.value = html.escape(f"The check itself failed: {error!r}")
            raise
        finally:
            self.button.disabled = False
        self.table.value = table_html(self.lessons)
        passed, total = totals(self.lessons)
        self.status.value = (
            f"Checked at {datetime.now():%H:%M:%S} in {time.monotonic() - started:.0f} s: "
            f"<b>{passed} of {total}</b> exercises pass."
        )

    def _start(self) -> None:
        """Say that the run is starting (these updates reach the browser at once), and
        list the notebooks it will run."""
        self.button.disabled = True
        self.status.value = (
            "<i>Running your saved notebooks… (this takes some seconds; the kernel is busy "
            "meanwhile)</i>"
        )
        self._rows: list[LessonProgress | Path] = list(expand([self.folder]))  # Path: running
        self.table.value = table_html(self._rows)

    def _arrived(self, lesson: LessonProgress) -> None:
        """Show a lesson's row as soon as its run is done."""
        paths = [str(row) if isinstance(row, Path) else row.path for row in self._rows]
        if lesson.path in paths:
            self._rows[paths.index(lesson.path)] = lesson
            self.table.value = table_html(self._rows)
