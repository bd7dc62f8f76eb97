"""The lessons' widgets in a real JupyterLab and Chromium: run the cell, use the controls.

Each case opens a lesson, runs the one cell that shows the widget, then goes
through its steps: an interaction with the controls (keys on a slider's
handle, typing into its readout, a click on a button, a choice in a
dropdown), then what must follow (a new picture, a new status text, a
message). Every step saves screenshots of the page and of the widget under
``build/test-artifacts/browser/``. To cover another widget, add one
:class:`WidgetCase` to ``CASES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from browser_lab import (
    LabPage,
    Picture,
    choose,
    click_button,
    clipped_controls,
    move_slider_with_keys,
    open_notebook,
    picture_of,
    run_all_cells,
    run_cell,
    type_into_slider,
    wait_for_new_picture,
    wait_until_settled,
    widget_image,
    widget_text,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator

pytest_plugins = ("browser_lab",)  # the fixtures, and the logs shown when a test fails
pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Step:
    """One interaction with a widget's controls, and what must follow from it."""

    name: str  # also names the step's screenshots
    act: Callable[[Locator], None]  # gets the cell
    picture_changes: bool = True
    text_changes: bool = False  # the widget's texts (status, caption) change
    text_shows: str | None = None  # the widget's texts then contain this...
    text_lacks: str | None = None  # ... and not this one


@dataclass(frozen=True)
class WidgetCase:
    """A widget shown by one cell of a lesson, and what to do with it."""

    notebook: str  # a lesson, or "solved/<lesson>" for one with every exercise answered
    cell_text: str  # enough of the cell's source to find it
    steps: tuple[Step, ...]
    run_all_first: bool = False  # run the whole notebook first (Run → Run All Cells)
    cells_first: tuple[str, ...] = ()  # or only these cells, in this order
    label: str = ""  # tells cases of the same widget apart

    @property
    def id(self) -> str:  # "04-DescentExplorer"
        lesson = self.notebook.split("/")[-1].split("_")[0]
        return "-".join(filter(None, [lesson, self.cell_text.split("(")[0], self.label]))


ETA = "learning rate η"
DESCENT_EXPLORER = WidgetCase(
    "04_matrix_form.ipynb",
    'DescentExplorer(surface="valley", eta=0.02',
    (
        # Keyboard only: the slider's handle takes the focus and the arrow keys.
        Step(
            "faster-by-keys",
            lambda cell: move_slider_with_keys(cell, ETA, "ArrowRight", 3),
            text_changes=True,
        ),
        Step("reset", lambda cell: click_button(cell, "reset")),
        Step("one-step-by-keys", lambda cell: click_button(cell, "step", keyboard=True)),
        Step("saddle", lambda cell: choose(cell, "surface", "saddle"), text_changes=True),
        # End: the largest learning rate, η = 10^0.5; the saddle's y grows by (1 + η) a step.
        Step(
            "largest-rate-by-keys",
            lambda cell: move_slider_with_keys(cell, ETA, "End"),
            text_shows="Diverged",
        ),
        Step("valley", lambda cell: choose(cell, "surface", "valley"), text_changes=True),
        # The valley's steep curvature is 25: descent is stable for η < 2/25 = 0.08 only.
        Step(
            "just-stable",
            lambda cell: type_into_slider(cell, ETA, "0.07"),
            text_changes=True,
            text_lacks="Diverged",
        ),
        Step(
            "just-unstable",
            lambda cell: type_into_slider(cell, ETA, "0.1"),
            text_shows="Diverged",
        ),
    ),
)

GRAPH_VIEW = WidgetCase(
    "solved/02_chain_rule.ipynb",
    "GraphView(g)",
    (
        Step(
            "forward-by-keys",
            lambda cell: click_button(cell, "step ▶", keyboard=True),
            text_changes=True,
        ),
        Step(
            "to-the-end",
            lambda cell: move_slider_with_keys(cell, "step", "End"),
            text_shows="backward",
        ),
        Step("one-back", lambda cell: click_button(cell, "◀ back"), text_changes=True),
        Step("reset", lambda cell: click_button(cell, "reset"), text_changes=True),
    ),
    run_all_first=True,
    label="solved",
)

BATCH_SIZE = "batch size m"
BATCH_NOISE = WidgetCase(
    "05_mini_batch.ipynb",
    "BatchNoiseExplorer(batch_size=16",
    (
        Step(
            "smaller-batch-by-keys",
            lambda cell: move_slider_with_keys(cell, BATCH_SIZE, "ArrowLeft"),
            text_changes=True,
        ),
        Step("reset", lambda cell: click_button(cell, "reset"), text_shows="step 0 (epoch 0"),
        Step("one-step", lambda cell: click_button(cell, "step", keyboard=True), text_changes=True),
        Step("new-shuffle", lambda cell: click_button(cell, "new shuffle"), text_changes=True),
        Step(
            "largest-rate",
            lambda cell: move_slider_with_keys(cell, ETA, "End"),
            text_shows="diverges",
        ),
    ),
)

TRAINER = WidgetCase(
    "solved/05_mini_batch.ipynb",
    "NetworkTrainer(backprop_batch)",
    (
        Step(
            "one-epoch",
            lambda cell: click_button(cell, "step", keyboard=True),
            text_shows="epoch 1",
        ),
        Step("spirals", lambda cell: choose(cell, "data set", "spirals"), text_shows="epoch 0"),
        Step(
            "deeper-by-keys",
            lambda cell: move_slider_with_keys(cell, "hidden layers", "ArrowRight", 2),
            text_changes=True,
        ),
        Step("play", lambda cell: play_for(cell, seconds=2.0), text_changes=True),
    ),
    run_all_first=True,
    label="your-backprop",
)

TRAINER_BEFORE_THE_EXERCISE = WidgetCase(
    "05_mini_batch.ipynb",
    "NetworkTrainer(backprop_batch)",
    (Step("one-epoch", lambda cell: click_button(cell, "step"), text_shows="epoch 1"),),
    cells_first=("def backprop_batch(X, Y, params, activations, loss):",),
    label="numerical",
)

RHO = "spectral radius ρ"
THROUGH_TIME = WidgetCase(
    "06_backprop_through_time.ipynb",
    "ThroughTimeExplorer(spectral_radius=1.0",
    (
        # identity: the curve is ρ^(T−t) exactly, so at ρ = 1 nothing changes along the way
        Step(
            "identity",
            lambda cell: choose(cell, "activation", "identity"),
            text_shows="gradient keeps its size",
        ),
        # ten steps of 0.01: ρ = 1.1, and 1.1^50 ≈ 117
        Step(
            "larger-rho-by-keys",
            lambda cell: move_slider_with_keys(cell, RHO, "ArrowRight", 10),
            text_shows="gradient explodes",
        ),
        Step("clip-at-1", lambda cell: choose(cell, "clip at", "1"), text_shows="Clipped at 1"),
        Step(
            "smallest-rho-by-keys",
            lambda cell: move_slider_with_keys(cell, RHO, "Home"),
            text_shows="gradient vanishes",
        ),
        Step(
            "longest", lambda cell: type_into_slider(cell, "steps T", "100"), text_shows="T = 100"
        ),
        Step("new-draw", lambda cell: click_button(cell, "new draw"), text_shows="draw 1"),
    ),
)

CASES = [
    DESCENT_EXPLORER,
    GRAPH_VIEW,
    BATCH_NOISE,
    TRAINER,
    TRAINER_BEFORE_THE_EXERCISE,
    THROUGH_TIME,
]


def play_for(cell: Locator, seconds: float) -> None:
    """Press the Play button, let it run, and press pause."""
    cell.locator(".widget-play button").first.click()
    cell.page.wait_for_timeout(seconds * 1000)  # playing is what is tested: it takes time
    cell.locator(".widget-play button").first.click()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_widget_answers_its_controls_in_the_browser(lab: LabPage, case: WidgetCase) -> None:
    lab.name = case.id  # the screenshots: <case>-<step>.png and <case>-<step>-widget.png
    panel = open_notebook(lab.page, case.notebook)
    if case.run_all_first:
        run_all_cells(panel)
    for text in case.cells_first:
        run_cell(panel, text)
    cell = run_cell(panel, case.cell_text)
    output = cell.locator(".jp-OutputArea")
    image = widget_image(cell)
    wait_until_settled(cell)
    before = picture_of(image)
    lab.snap("0-shown", output)
    cut_off = {part: ["shown"] for part in clipped_controls(cell)}  # part -> when
    for number, step in enumerate(case.steps, start=1):
        text_before = widget_text(cell)
        step.act(cell)
        if step.picture_changes:  # the kernel's answer first, then the end of all answers
            wait_for_new_picture(image, before)
        wait_until_settled(cell)
        after = picture_of(image)
        lab.snap(f"{number}-{step.name}", output)
        check_step(step, cell, before, after, text_before)
        for part in clipped_controls(cell):
            cut_off.setdefault(part, []).append(step.name)
        before = after
    assert lab.errors == [], "the browser reported errors:\n" + "\n".join(lab.errors)
    # Checked last, so that a layout fault does not hide the behaviour's faults: on a
    # laptop's screen (1366 x 768, JupyterLab's file browser open) every control shows whole.
    assert not cut_off, "parts of the widget are cut off on a laptop's screen:\n" + "\n".join(
        f"  {part} (when {', '.join(whens)})" for part, whens in cut_off.items()
    )


def check_step(
    step: Step, cell: Locator, before: Picture, after: Picture, text_before: str
) -> None:
    if step.picture_changes:
        assert after.digest != before.digest, f"{step.name}: the kernel sent the same picture"
        assert after.screenshot != before.screenshot, f"{step.name}: the page shows the same"
    text = widget_text(cell)
    if step.text_changes:
        assert text != text_before, f"{step.name}: the texts did not change: {text}"
    if step.text_shows is not None:
        assert step.text_shows in text, f"{step.name}: no {step.text_shows!r} in {text}"
    if step.text_lacks is not None:
        assert step.text_lacks not in text, f"{step.name}: {step.text_lacks!r} in {text}"
