"""The through-time explorer, headless: the plotted gradients are right, and the widget says so."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backprop_course.widgets import ThroughTimeExplorer
from backprop_course.widgets.through_time import (
    ACTIVATIONS,
    CLIP_OPTIONS,
    N_H,
    OFF,
    clip_factor,
    draw,
    gradient_through_time,
    verdict,
)
from backprop_reference.through_time import rnn_backward, rnn_forward, state_gradient_norms

pytestmark = pytest.mark.widgets

# independent activations, written out again: the widget's own are under test
FUNCTIONS = {
    "tanh": np.tanh,
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def reference_parts(rho: float, length: int, input_scale: float, seed: int = 0):
    """The widget's network as the reference's params, inputs (T, n_x, 1), h0 and dC/dh_T."""
    d = draw(seed)
    params = {"W_xh": d.W_xh, "W_hh": rho * d.Q, "b_h": np.zeros((N_H, 1))}
    X = input_scale * d.inputs[:length, :, None]
    return params, X, np.zeros((N_H, 1)), d.u[:, None]


def cost_from(h: np.ndarray, t: int, rho: float, activation: str, X: np.ndarray, seed=0) -> float:
    """C = u^T h_T, running the network forward from h_t = h (no biases)."""
    d = draw(seed)
    for x in X[t:]:
        h = FUNCTIONS[activation](rho * d.Q @ h + d.W_xh @ x)
    return float(d.u @ h)


def centred(f, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """The gradient of f at point by centred differences, one coordinate at a time."""
    grad = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        shift = np.zeros_like(point)
        shift[index] = step
        grad[index] = (f(point + shift) - f(point - shift)) / (2 * step)
    return grad


# -- the computation -----------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.6, 1.0, 1.4, 2.0])
@pytest.mark.parametrize("input_scale", [0.01, 0.5, 3.0])
def test_tanh_norms_and_gradients_equal_the_reference_bptt(rho, input_scale):
    flow = gradient_through_time(rho, 40, "tanh", input_scale)
    params, X, h0, dh_last = reference_parts(rho, 40, input_scale)
    H, caches = rnn_forward(X, h0, params)
    # at ρ = 2 tanh is chaotic: rounding differences grow a little along the sequence
    np.testing.assert_allclose(flow.states[1:], H[:, :, 0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(flow.norms, state_gradient_norms(caches, dh_last), rtol=1e-9)
    dH = np.zeros_like(H)
    dH[-1] = dh_last  # only the last state reaches the cost
    _, dh0, grads = rnn_backward(dH, caches)
    np.testing.assert_allclose(flow.dh[0], dh0[:, 0], rtol=1e-9, atol=1e-300)
    for key, value in grads.items():
        np.testing.assert_allclose(flow.grads[key], value, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activations_gradient_equals_centred_differences(activation):
    rho, length, scale = 1.2, 6, 0.8
    flow = gradient_through_time(rho, length, activation, scale)
    for t in (0, 2, 5, 6):
        numeric = centred(lambda h, t=t: cost_from(h, t, rho, activation, flow.X), flow.states[t])
        np.testing.assert_allclose(flow.dh[t], numeric, rtol=1e-6, atol=1e-9)
        assert flow.norms[t] == pytest.approx(np.linalg.norm(numeric), rel=1e-6)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_the_parameter_gradients_equal_centred_differences(activation):
    rho, length, scale, d = 0.9, 5, 0.7, draw(0)
    flow = gradient_through_time(rho, length, activation, scale)
    act = FUNCTIONS[activation]

    def cost(W_hh=rho * d.Q, W_xh=d.W_xh, b=None):
        b = np.zeros(N_H) if b is None else b
        h = np.zeros(N_H)
        for x in flow.X:
            h = act(W_hh @ h + W_xh @ x + b)
        return float(d.u @ h)

    np.testing.assert_allclose(flow.grads["b_h"][:, 0], centred(lambda b: cost(b=b), np.zeros(N_H)),
                               rtol=1e-6, atol=1e-9)  # fmt: skip
    np.testing.assert_allclose(flow.grads["W_xh"], centred(lambda W: cost(W_xh=W), d.W_xh),
                               rtol=1e-6, atol=1e-9)  # fmt: skip
    rows = slice(0, 4)  # a few rows of W_hh: 128 entries are enough
    numeric = centred(lambda W: cost(W_hh=np.vstack([W, rho * d.Q[4:]])), rho * d.Q[rows])
    np.testing.assert_allclose(flow.grads["W_hh"][rows], numeric, rtol=1e-6, atol=1e-9)


def test_the_terms_are_the_sizes_of_the_steps_outer_products():
    flow = gradient_through_time(1.1, 12, "tanh", 0.5)
    deltas = flow.dh[1:] * flow.slopes
    for t in range(1, 13):
        d = deltas[t - 1][:, None]
        term = [d @ flow.X[t - 1][None], d @ flow.states[t - 1][None], d]
        assert flow.terms[t - 1] == pytest.approx(
            math.sqrt(sum(np.sum(a**2) for a in term)), rel=1e-12
        )
    total = sum(np.sum(g**2) for g in flow.grads.values())
    assert flow.global_norm == pytest.approx(math.sqrt(total), rel=1e-12)
    assert flow.global_norm <= flow.terms.sum() * (1 + 1e-12)  # the triangle inequality


@pytest.mark.parametrize("rho", [0.5, 0.9, 1.0, 1.3, 2.0])
@pytest.mark.parametrize("length", [2, 50, 100])
def test_with_the_identity_the_curve_is_rho_to_the_power_t_minus_t_exactly(rho, length):
    flow = gradient_through_time(rho, length, "identity", 0.3)
    exact = rho ** np.arange(length, -1, -1.0)  # ‖∂C/∂h_T‖ = ‖u‖ = 1
    np.testing.assert_allclose(flow.norms, exact, rtol=1e-12)
    np.testing.assert_allclose(flow.guide, exact, rtol=1e-12)


def test_the_curve_never_rises_above_the_guide_line():
    """Every singular value of W_hh is ρ and every slope is at most 1 (sigmoid's 1/4)."""
    for activation, a in ACTIVATIONS.items():
        for rho in (0.5, 1.0, 1.7):
            for scale in (0.01, 1.0, 3.0):
                flow = gradient_through_time(rho, 60, activation, scale)
                assert np.all(flow.slopes <= a.largest_slope) and np.all(flow.slopes >= 0)
                bound = (rho * a.largest_slope) ** np.arange(60, -1, -1.0)
                assert np.all(flow.norms <= bound * (1 + 1e-12)), (activation, rho, scale)
                assert np.all(flow.norms <= flow.guide * (1 + 1e-12))


def test_the_draw_is_fixed_by_its_seed_and_w_hh_is_orthogonal_times_rho():
    d = draw(3)
    np.testing.assert_allclose(d.Q.T @ d.Q, np.eye(N_H), atol=1e-12)
    assert np.linalg.norm(d.u) == pytest.approx(1.0)
    draw.cache_clear()
    again = draw(3)
    assert np.array_equal(again.Q, d.Q) and np.array_equal(again.inputs, d.inputs)
    assert not np.array_equal(draw(4).Q, d.Q)
    singular = np.linalg.svd(1.7 * d.Q, compute_uv=False)
    np.testing.assert_allclose(singular, 1.7, rtol=1e-12)


def test_tanh_vanishes_below_one_and_explodes_above_it():
    assert verdict(gradient_through_time(0.7, 50, "tanh", 0.1).ratio) == "vanishes"
    assert verdict(gradient_through_time(1.6, 50, "tanh", 0.1).ratio) == "explodes"
    # large inputs saturate tanh: slopes 1 − h² near 0 make even ρ = 1.3 vanish
    assert verdict(gradient_through_time(1.3, 50, "tanh", 3.0).ratio) == "vanishes"
    # sigmoid's slopes are at most 1/4: at ρ = 2 every step back still shrinks
    assert verdict(gradient_through_time(2.0, 50, "sigmoid", 0.1).ratio) == "vanishes"


def test_the_verdict_reads_the_ratio_by_factors_of_ten():
    assert verdict(0.0) == verdict(0.099) == "vanishes"
    assert verdict(0.1) == verdict(1.0) == verdict(10.0) == "keeps its size"
    assert verdict(10.1) == verdict(1e30) == "explodes"


def test_clipping_never_increases_a_norm_and_never_turns_the_gradient():
    rng = np.random.default_rng(0)
    for _ in range(200):
        norm, threshold = 10.0 ** rng.uniform(-5, 5, 2)
        factor = clip_factor(norm, threshold)
        assert 0 < factor <= 1
        assert factor * norm == pytest.approx(min(norm, threshold), rel=1e-12)
    assert clip_factor(1e300, OFF) == 1.0
    flow = gradient_through_time(1.6, 60, "identity", 0.5)
    for _, threshold in CLIP_OPTIONS:
        factor = clip_factor(flow.global_norm, threshold)
        clipped = {key: factor * g for key, g in flow.grads.items()}
        new_norm = math.sqrt(sum(np.sum(g**2) for g in clipped.values()))
        assert new_norm <= flow.global_norm * (1 + 1e-12)
        assert new_norm == pytest.approx(min(flow.global_norm, threshold), rel=1e-12)
        flat, clipped_flat = (np.concatenate([g.ravel() for g in gs.values()])
                              for gs in (flow.grads, clipped))  # fmt: skip
        cosine = flat @ clipped_flat / (np.linalg.norm(flat) * np.linalg.norm(clipped_flat))
        assert cosine == pytest.approx(1.0, abs=1e-12)


# -- the widget -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explorer():
    return ThroughTimeExplorer(spectral_radius=1.0, length=50)


@pytest.fixture(autouse=True)
def defaults(request):
    """Put a shared explorer back to its defaults before each test that uses it."""
    if "explorer" in request.fixturenames:
        widget = request.getfixturevalue("explorer")
        widget.seed = 0
        with widget._quietly():
            widget.rho.value, widget.length.value = 1.0, 50
            widget.activation.value, widget.input_scale.value = "tanh", 0.1
            widget.clip.value = OFF
        widget.update()


def test_the_plotted_curves_are_the_reference_norms(explorer):
    explorer.rho.value = 1.3
    params, X, h0, dh_last = reference_parts(1.3, 50, 0.1)
    _, caches = rnn_forward(X, h0, params)
    t, norms = explorer.norm_line.get_data()
    np.testing.assert_array_equal(t, np.arange(51))
    np.testing.assert_allclose(norms, state_gradient_norms(caches, dh_last), rtol=1e-9)
    _, guide = explorer.guide_line.get_data()
    np.testing.assert_allclose(guide, 1.3 ** np.arange(50, -1, -1.0), rtol=1e-12)
    t, terms = explorer.terms_line.get_data()
    np.testing.assert_array_equal(t, np.arange(1, 51))
    np.testing.assert_array_equal(terms, explorer.flow.terms)


def test_the_axes_show_every_point_of_the_curves(explorer):
    for activation in ACTIVATIONS:
        for rho, length in ((0.5, 100), (2.0, 100), (1.0, 7)):
            explorer.activation.value = activation
            explorer.rho.value, explorer.length.value = rho, length
            for ax, line in ((explorer.ax, explorer.norm_line),
                             (explorer.terms_ax, explorer.terms_line)):  # fmt: skip
                low, high = ax.get_ylim()
                _, values = line.get_data()
                shown = values[np.isfinite(values)]
                assert low <= shown.min() and shown.max() <= high, (activation, rho, length)
                assert ax.get_xlim()[0] < 0 and ax.get_xlim()[1] >= length


@pytest.mark.parametrize(("rho", "word"), [(0.9, "vanishes"), (1.0, "keeps its size"),
                                           (1.1, "explodes")])  # fmt: skip
def test_the_status_says_what_happens_on_both_sides_of_one(explorer, rho, word):
    explorer.activation.value = "identity"
    explorer.rho.value = rho
    assert f"the gradient <b>{word}</b>" in explorer.status.value
    assert f"‖∂C/∂h_0‖ = {rho**50:.2g} ‖∂C/∂h_T‖" in explorer.status.value
    assert f"× {rho:.3g} per step back" in explorer.status.value


def test_the_status_near_one_with_long_sequences(explorer):
    explorer.activation.value = "identity"
    explorer.length.value = 100
    explorer.rho.value = 0.95
    assert "<b>vanishes</b>" in explorer.status.value
    explorer.rho.value = 1.05
    assert "<b>explodes</b>" in explorer.status.value


def test_every_control_changes_the_picture(explorer):
    changes = [("rho", 1.2), ("length", 30), ("activation", "relu"), ("input_scale", 1.0),
               ("clip", 0.1)]  # fmt: skip
    for name, value in changes:
        before = bytes(explorer.image.value)
        getattr(explorer, name).value = value
        assert bytes(explorer.image.value) != before, name
    before, status = bytes(explorer.image.value), explorer.status.value
    explorer.draw_button.click()
    assert explorer.seed == 1 and "draw 1" in explorer.status.value
    assert bytes(explorer.image.value) != before and explorer.status.value != status


def test_clipping_an_exploding_gradient_caps_its_size_and_keeps_its_shape(explorer):
    explorer.rho.value = 1.6
    norm = explorer.flow.global_norm
    assert norm > 10 and "<b>explodes</b>" in explorer.status.value
    explorer.clip.value = 1.0
    assert "<b>Clipped at 1</b>" in explorer.status.value
    assert "keeps its direction" in explorer.status.value
    _, clipped = explorer.clipped_line.get_data()
    assert explorer.clipped_line.get_visible() and explorer.threshold_level.get_visible()
    np.testing.assert_allclose(clipped, explorer.flow.terms / norm, rtol=1e-12)
    assert np.all(clipped <= explorer.flow.terms)
    explorer.clip.value = OFF
    assert not explorer.clipped_line.get_visible()
    assert not explorer.threshold_level.get_visible()
    assert "Clip at: off" in explorer.status.value


def test_clipping_does_nothing_for_a_vanishing_gradient(explorer):
    explorer.rho.value = 0.7
    flow = explorer.flow
    assert flow.global_norm < 10 and "<b>vanishes</b>" in explorer.status.value
    explorer.clip.value = 10.0
    np.testing.assert_array_equal(explorer.clipped_terms, flow.terms)
    assert "nothing changes" in explorer.status.value
    assert "cannot bring back a vanishing gradient" in explorer.status.value
    assert not explorer.clipped_line.get_visible()


def test_controls_are_labelled_with_the_courses_symbols_and_the_figure_is_labelled(explorer):
    labels = [explorer.rho, explorer.length, explorer.activation, explorer.input_scale,
              explorer.clip]  # fmt: skip
    assert [c.description for c in labels] == [
        "spectral radius ρ", "steps T", "activation", "input scale", "clip at"
    ]  # fmt: skip
    assert list(explorer.activation.options) == ["tanh", "identity", "relu", "sigmoid"]
    assert explorer.clip.label == "off"
    assert explorer.draw_button.description and explorer.draw_button.tooltip
    assert "Try" in explorer.caption.value and "Notice" in explorer.caption.value
    for ax in (explorer.ax, explorer.terms_ax):
        assert ax.get_xlabel() == "step t" and "log scale" in ax.get_ylabel()
        assert ax.get_yscale() == "log"
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_moving_rho_and_clip_mostly_only_blits(explorer):
    """A ρ sweep and the clip choices must redraw the axes only rarely, the base never:
    that is what keeps a change within the 50 ms budget."""
    counts = {"redraw_all": 0, "rescale": 0}
    drawing = explorer.drawing
    originals = {name: getattr(drawing, name) for name in counts}

    def counted(name):
        def call():
            counts[name] += 1
            originals[name]()

        return call

    for name in counts:
        setattr(drawing, name, counted(name))
    try:
        for rho in np.geomspace(0.8, 1.25, 30):
            explorer.rho.value = float(rho)
        for _, threshold in CLIP_OPTIONS:
            explorer.clip.value = threshold
    finally:
        for name in counts:
            delattr(drawing, name)
    assert counts["redraw_all"] == 0
    assert counts["rescale"] <= 7  # of 35 changes: ρ^50 spans 10 decades over the sweep


def test_values_the_controls_cannot_show_are_refused():
    with pytest.raises(ValueError, match="spectral_radius"):
        ThroughTimeExplorer(spectral_radius=3.0)
    with pytest.raises(ValueError, match="length"):
        ThroughTimeExplorer(length=1)
    with pytest.raises(ValueError, match="activation"):
        ThroughTimeExplorer(activation="softplus")
    with pytest.raises(ValueError, match="input_scale"):
        ThroughTimeExplorer(input_scale=0.0)


def test_while_nbgrader_grades_it_is_a_placeholder(monkeypatch):
    from ipywidgets.widgets.widget import _instances  # every live widget model

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    opened = len(_instances)
    placeholder = ThroughTimeExplorer(spectral_radius=1.0, length=50)
    assert not isinstance(placeholder, ThroughTimeExplorer)
    assert "not built while the notebook is graded" in repr(placeholder)
    assert len(_instances) == opened  # no comm, nothing stored in the notebook
    placeholder.rho.value = 1.5  # whatever a cell does next runs without effect
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert isinstance(ThroughTimeExplorer(), ThroughTimeExplorer)
