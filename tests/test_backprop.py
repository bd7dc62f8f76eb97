"""Lessons 04 and 05 reference: every gradient against centred differences,
batch against per-example, and Mazur's one-step update."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import min_abs_preactivation, problems

from backprop_reference import forward_pass as fp
from backprop_reference import gradcheck as gc
from backprop_reference import matrix_form as mf
from backprop_reference import mini_batch as mb

# Centred differences with h = 1e-6 perturb z by about 1e-6: keep ReLU kinks
# clear of that, or the "numerical gradient" straddles a corner.
KINK_MARGIN = 1e-4


# -- Mazur's worked example ----------------------------------------------------

MAZUR_UPDATED = {
    "W1": [[0.149780716, 0.19956143], [0.24975114, 0.29950229]],
    "W2": [[0.35891648, 0.408666186], [0.511301270, 0.561370121]],
}


def test_mazur_one_step_update(mazur):
    params, x, y, activations, loss = mazur
    grads, cost = mf.backprop(x, y, params, activations, loss)
    assert cost == pytest.approx(0.298371109, abs=1e-8)
    weights_only = {k: g for k, g in grads.items() if k.startswith("W")}  # biases held fixed
    updated = mf.gradient_descent_update(params, weights_only, eta=0.5)
    for key, expected in MAZUR_UPDATED.items():
        np.testing.assert_allclose(updated[key], expected, atol=1e-8, err_msg=key)
    np.testing.assert_array_equal(updated["b1"], params["b1"])
    np.testing.assert_array_equal(updated["b2"], params["b2"])
    out, _ = fp.forward(x, updated, activations)
    new_error = fp.half_squared_error(out, y)
    assert new_error == pytest.approx(0.291027924, abs=2e-7)  # as published (rounded)
    assert new_error == pytest.approx(0.2910277737, abs=1e-10)  # exact float64


def test_mazur_output_error_is_bp1(mazur):
    params, x, y, activations, loss = mazur
    out, caches = fp.forward(x, params, activations)
    delta = mf.output_error(out, y, caches[-1].z, "sigmoid", loss)
    # Mazur: dE/dout_o1 = 0.74136507 and dout_o1/dnet_o1 = 0.186815602
    assert delta[0, 0] == pytest.approx(0.74136507 * 0.186815602, rel=1e-7)


def test_update_leaves_params_untouched(mazur):
    params, x, y, activations, loss = mazur
    before = {k: v.copy() for k, v in params.items()}
    grads, _ = mf.backprop(x, y, params, activations, loss)
    mf.gradient_descent_update(params, grads, 0.5)
    assert all(np.array_equal(params[k], before[k]) for k in params)


# -- every gradient against centred differences --------------------------------


@given(problem=problems())
def test_batch_backprop_matches_centred_differences(problem):
    assume(min_abs_preactivation(problem) > KINK_MARGIN)
    errors = gc.check_network_gradients(*problem)
    assert errors["all"] < 1e-7, errors
    # Each parameter on its own too, so a wrong small gradient (b1, say) cannot
    # hide behind large correct ones; atol covers rounding in tiny entries.
    analytic, _ = mb.backprop_batch(*problem)
    numeric = gc.network_numerical_gradients(*problem)
    for key in analytic:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-8, err_msg=key)


@given(problem=problems(m=1))
def test_single_example_backprop_matches_centred_differences(problem):
    assume(min_abs_preactivation(problem) > KINK_MARGIN)
    grads, cost = mf.backprop(*problem)
    numeric = gc.network_numerical_gradients(*problem)
    keys = list(grads)
    flat = [np.concatenate([g[k].ravel() for k in keys]) for g in (grads, numeric)]
    assert gc.relative_error(*flat) < 1e-7
    out, _ = fp.forward(problem.X, problem.params, problem.activations)
    assert cost == fp.get_loss(problem.loss).cost(out, problem.Y)


@given(problem=problems(max_m=6))
def test_batch_gradient_is_mean_of_per_example_gradients(problem):
    batch, batch_cost = mb.backprop_batch(*problem)
    loop, loop_cost = mb.backprop_loop(*problem)
    assert set(batch) == set(loop) == set(problem.params)
    for key in batch:
        assert batch[key].shape == problem.params[key].shape
        np.testing.assert_allclose(batch[key], loop[key], rtol=1e-10, atol=1e-14, err_msg=key)
    assert batch_cost == pytest.approx(loop_cost, rel=1e-12)


@given(problem=problems(), k=st.integers(2, 3))
def test_repeating_the_batch_leaves_the_gradient_unchanged(problem, k):
    """Mean, not sum: k copies of the same batch have the same gradient (1/m is there once)."""
    grads, _ = mb.backprop_batch(*problem)
    repeated = problem._replace(X=np.tile(problem.X, k), Y=np.tile(problem.Y, k))
    grads_k, _ = mb.backprop_batch(*repeated)
    for key in grads:
        np.testing.assert_allclose(grads_k[key], grads[key], rtol=1e-10, atol=1e-14)


def test_gradient_check_catches_a_transposed_gradient():
    params = fp.init_params([3, 3, 2], seed=1)
    X = np.random.default_rng(0).standard_normal((3, 4))
    Y = np.random.default_rng(1).standard_normal((2, 4))
    grads, _ = mb.backprop_batch(X, Y, params, ["tanh", "identity"], "mean_squared_error")
    numeric = gc.network_numerical_gradients(
        X, Y, params, ["tanh", "identity"], "mean_squared_error"
    )
    assert gc.relative_error(grads["W1"], numeric["W1"]) < 1e-7
    assert gc.relative_error(grads["W1"].T, numeric["W1"]) > 1e-2


def test_backprop_does_not_modify_inputs(mazur):
    params, x, y, activations, loss = mazur
    snapshot = [v.copy() for v in (x, y, *params.values())]
    mb.backprop_batch(np.tile(x, 3), np.tile(y, 3), params, activations, loss)
    mf.backprop(x, y, params, activations, loss)
    for before, after in zip(snapshot, (x, y, *params.values()), strict=True):
        np.testing.assert_array_equal(before, after)


def test_float32_in_float32_out():
    params = fp.init_params([5, 4, 3], seed=0, dtype=np.float32)
    X = np.ones((5, 8), dtype=np.float32)
    Y = np.zeros((3, 8), dtype=np.float32)
    Y[0] = 1
    grads, _ = mb.backprop_batch(X, Y, params, ["sigmoid", "identity"], "softmax_cross_entropy")
    assert all(g.dtype == np.float32 for g in grads.values())


# -- relative error as the notation card defines it ----------------------------


def test_relative_error_reading():
    assert gc.relative_error(0.0, 0.0) == 0.0
    assert gc.relative_error(1.0, 1.0) == 0.0
    assert gc.relative_error(1.0, -1.0) == 1.0
    assert gc.relative_error(np.array([3.0, 0.0]), np.array([0.0, 4.0])) == pytest.approx(
        np.sqrt(2 * 9 + 2 * 16 - 9 - 16) / 7
    )
    assert gc.relative_error(1.0, 1.0 + 1e-9) < gc.GOOD < gc.WRONG


def test_numerical_gradient_restores_its_input():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = gc.numerical_gradient(lambda t: float(np.sum(t**3)), x)
    np.testing.assert_array_equal(x, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
