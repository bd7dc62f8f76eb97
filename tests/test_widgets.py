"""The widgets, headless: set values, click buttons, and check what theory says."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_course.widgets import SURFACES, DescentExplorer, descend

pytestmark = pytest.mark.widgets


def steps_to_floor(momentum: float, eta: float = 0.03, tolerance: float = 1e-3) -> int:
    """Steps until the valley's loss falls below ``tolerance`` (or the step budget)."""
    path = descend(SURFACES["valley"], (-2.5, 2.0), eta, momentum, 1000)
    below = np.flatnonzero(path.losses < tolerance)
    return int(below[0]) if below.size else 1000


def test_a_small_learning_rate_on_the_bowl_reaches_the_minimum():
    explorer = DescentExplorer(surface="bowl", eta=0.1, steps=200)
    assert not explorer.descent.diverged
    np.testing.assert_allclose(explorer.descent.path[-1], [0.0, 0.0], atol=1e-6)
    assert "Diverged" not in explorer.status.value


def test_above_two_over_the_largest_curvature_it_diverges_and_says_so():
    explorer = DescentExplorer(surface="valley", eta=0.07, steps=200)  # 2 / 25 = 0.08
    assert not explorer.descent.diverged
    explorer.eta.value = 0.09
    assert explorer.descent.diverged
    assert "Diverged" in explorer.status.value and "Lower it" in explorer.status.value


def test_momentum_reaches_the_valley_floor_in_fewer_steps():
    assert steps_to_floor(momentum=0.8) < steps_to_floor(momentum=0.0) < 1000


def test_every_surface_draws_and_plays():
    explorer = DescentExplorer()
    for name in SURFACES:
        explorer.surface.value = name
        before = bytes(explorer.image.value)
        assert before.startswith(b"\x89PNG")
        explorer.reset_button.click()
        assert explorer.current.value == 0
        explorer.step_button.click()
        assert explorer.current.value == min(1, explorer.current.max)
        assert bytes(explorer.image.value) != before or explorer.current.max == 0
        assert explorer.caption.value == f"<i>{SURFACES[name].caption}</i>"


def test_a_slider_change_redraws_the_plot():
    explorer = DescentExplorer(surface="valley", eta=0.01)
    before = bytes(explorer.image.value)
    explorer.momentum.value = 0.9
    assert bytes(explorer.image.value) != before


def test_the_saddle_keeps_a_start_on_its_axis_and_lets_others_escape():
    saddle = SURFACES["saddle"]
    on_axis = descend(saddle, (2.0, 0.0), 0.1, 0.0, 200)
    off_axis = descend(saddle, (2.0, 1e-6), 0.1, 0.0, 400)
    np.testing.assert_allclose(on_axis.path[-1], [0.0, 0.0], atol=1e-6)
    assert abs(off_axis.path[-1][1]) > 1.0 or off_axis.diverged


def test_the_neuron_surface_gradient_matches_its_loss():
    neuron = SURFACES["a neuron's loss (w1, w2)"]
    p = np.array([0.7, -0.3])
    h = 1e-5
    numeric = [(neuron.loss(p + d) - neuron.loss(p - d)) / (2 * h) for d in np.eye(2) * h]
    np.testing.assert_allclose(neuron.gradient(p), numeric, rtol=1e-5)


def test_the_tiny_network_has_two_mirror_minima_and_the_start_picks_one():
    tiny = SURFACES["tiny network (w1, w2)"]
    assert tiny.loss(np.array([2.0, -0.5])) == tiny.loss(np.array([-0.5, 2.0])) == 0.0
    above = descend(tiny, (1.0, 1.2), 0.1, 0.0, 300).path[-1]  # above the diagonal w1 = w2
    below = descend(tiny, (1.2, 1.0), 0.1, 0.0, 300).path[-1]
    assert above[1] > above[0] and below[0] > below[1]
    np.testing.assert_allclose(above, below[::-1], atol=1e-9)  # mirror images
    # the chain rule by hand: dC/dw_j = mean(2 r (1 - tanh^2(w_j x)) x), r the residual
    w = np.array([0.3, -1.1])
    x = np.linspace(-2.0, 2.0, 50)
    r = np.tanh(w[0] * x) + np.tanh(w[1] * x) - np.tanh(2.0 * x) - np.tanh(-0.5 * x)
    by_hand = [np.mean(2 * r * (1 - np.tanh(wj * x) ** 2) * x) for wj in w]
    np.testing.assert_allclose(tiny.gradient(w), by_hand, rtol=1e-6)


def test_while_nbgrader_grades_no_widget_is_built(monkeypatch):
    from ipywidgets.widgets.widget import _instances  # every live widget model

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    opened = len(_instances)
    placeholder = DescentExplorer(surface="bowl")
    assert not isinstance(placeholder, DescentExplorer)
    assert "not built while the notebook is graded" in repr(placeholder)
    assert len(_instances) == opened  # no comm, nothing stored in the notebook
    placeholder.eta.value = 0.5  # whatever a cell does next runs without effect
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert isinstance(DescentExplorer(surface="bowl"), DescentExplorer)


def every_widget():
    """One of each lesson widget, built as the lessons build them (finished exercises)."""
    from backprop_course.checks.chain_rule import micrograd_example
    from backprop_course.widgets import (
        BatchNoiseExplorer,
        GraphView,
        NetworkTrainer,
        ThroughTimeExplorer,
    )
    from backprop_reference.chain_rule import Value
    from backprop_reference.mini_batch import backprop_batch

    return [
        DescentExplorer(),
        BatchNoiseExplorer(),
        GraphView(micrograd_example(Value)[2]),
        NetworkTrainer(backprop_batch),
        ThroughTimeExplorer(),
    ]


def controls_of(widget):
    """Every ipywidgets control inside ``widget`` (boxes opened recursively)."""
    import ipywidgets

    if isinstance(widget, ipywidgets.Box):
        return [control for child in widget.children for control in controls_of(child)]
    return [widget]


# Palettes that stay distinguishable with the common colour-vision deficiencies.
COLOUR_BLIND_SAFE_MAPS = {"cividis", "viridis", "PuOr", "PuOr_r", "BrBG", "BrBG_r"}


def test_every_widget_is_labelled_captioned_and_usable_from_the_keyboard():
    import ipywidgets
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage

    for lesson_widget in every_widget():
        name = type(lesson_widget).__name__
        assert len(lesson_widget.caption.value) > 80, f"{name}: a caption says what to try"
        controls = controls_of(lesson_widget.widget)
        for control in controls:
            if isinstance(control, ipywidgets.Button):
                assert control.description and control.tooltip, f"{name}: {control} unnamed"
            elif isinstance(control, ipywidgets.ValueWidget) and not isinstance(
                control, (ipywidgets.HTML, ipywidgets.Play, ipywidgets.Image)
            ):
                # the description is the label a screen reader and the keyboard user get
                assert control.description, f"{name}: a {type(control).__name__} has no label"
        for ax in lesson_widget.figure.axes:
            if not (ax.get_visible() and ax.axison and ax.has_data()):  # a diagram has no axes
                continue
            assert ax.get_xlabel() or ax.get_ylabel(), f"{name}: unlabelled axes {ax.get_title()}"
            for artist in ax.get_children():
                if isinstance(artist, (AxesImage, Collection)) and artist.get_array() is not None:
                    cmap = artist.get_cmap().name
                    assert cmap in COLOUR_BLIND_SAFE_MAPS, f"{name}: colour map {cmap}"
