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


# -- lesson 04: Mazur after 10,000 steps ----------------------------------------------
# Mazur: "after repeating this process 10,000 times ... the error plummets to 0.000035085",
# outputs 0.015912196 and 0.984065734 (η = 0.5, biases kept).

MAZUR_10000 = [0.015912196, 0.984065734]


def test_mazur_10000_steps_of_gradient_descent(mazur):
    """Exact gradient descent agrees with his figures to three significant digits."""
    params, x, y, activations, loss = mazur
    for _ in range(10_000):
        grads, _ = mf.backprop(x, y, params, activations, loss)
        weights = {k: g for k, g in grads.items() if k.startswith("W")}
        params = mf.gradient_descent_update(params, weights, 0.5)
    out, _ = fp.forward(x, params, activations)
    error = fp.half_squared_error(out, y)
    assert error == pytest.approx(3.5085e-5, rel=1e-3)  # his figure, to 3 digits
    np.testing.assert_allclose(out.ravel(), MAZUR_10000, atol=2e-6)
    # ... and these are its own digits in float64 (not his: see the next test)
    assert error == pytest.approx(3.510188e-5, rel=1e-6)
    np.testing.assert_allclose(out.ravel(), [0.015913624, 0.984064267], atol=2e-9)


def test_mazur_10000_figures_are_those_of_w2_updated_before_bp2(mazur):
    """His published digits come out exactly when each step computes δ^1 with W^2 already
    updated in that step, instead of with the W^2 the forward pass used."""
    params, x, y, activations, loss = mazur
    params = dict(params)
    for _ in range(10_000):
        a, caches = fp.forward(x, params, activations)
        delta2 = mf.output_error(a, y, caches[1].z, "sigmoid", loss)
        params["W2"] = params["W2"] - 0.5 * mf.weight_gradient(delta2, caches[1].a_prev)
        delta1 = mf.hidden_error(params["W2"], delta2, caches[0].z, "sigmoid")
        params["W1"] = params["W1"] - 0.5 * mf.weight_gradient(delta1, x)
    out, _ = fp.forward(x, params, activations)
    np.testing.assert_allclose(out.ravel(), MAZUR_10000, atol=6e-10)
    assert fp.half_squared_error(out, y) == pytest.approx(3.5085e-5, rel=2e-5)


# -- lesson 04: the binary cross-entropy, the layers, the gradient check ------------------


def test_bce_output_error_is_a_minus_y_and_finite_where_sigmoid_saturates():
    z = np.array([[-60.0, -3.0, 0.0, 2.5, 45.0]])
    y = np.array([[1.0, 0.0, 1.0, 0.3, 0.0]])
    a = fp.sigmoid(z)
    delta = mf.output_error(a, y, z, "sigmoid", "binary_cross_entropy")
    np.testing.assert_array_equal(delta, a - y)
    assert np.isfinite(delta).all() and delta[0, -1] == 1.0  # a rounds to 1, y = 0
    with np.errstate(all="ignore"):  # the uncancelled product: nan where a rounds to 1
        product = mf.binary_cross_entropy_gradient(a, y) * fp.sigmoid_prime(z)
    np.testing.assert_allclose(product[:, 1:4], delta[:, 1:4], rtol=1e-12)
    assert np.isnan(product[0, -1])
    assert mf.binary_cross_entropy(a, y) < 40  # clipped: large, not inf


@given(problem=problems(m=1))
def test_bce_backprop_matches_centred_differences(problem):
    """Every network above, with its output made sigmoid and its loss the cross-entropy."""
    Y = (problem.Y > 0).astype(float)  # labels 0 and 1
    bce = problem._replace(Y=Y, activations=[*problem.activations[:-1], "sigmoid"],
                           loss="binary_cross_entropy")  # fmt: skip
    assume(min_abs_preactivation(bce) > KINK_MARGIN)
    grads, cost = mf.backprop(*bce)

    def cost_of(params):
        return mf.binary_cross_entropy(fp.forward(bce.X, params, bce.activations)[0], Y)

    for key in bce.params:
        np.testing.assert_allclose(grads[key], _numeric(cost_of, bce.params, key),
                                   rtol=1e-5, atol=1e-8, err_msg=key)  # fmt: skip
    assert cost == pytest.approx(cost_of(bce.params))


def _numeric(cost, params, key):
    work = {k: v.copy() for k, v in params.items()}
    return gc.numerical_gradient(lambda value: cost({**work, key: value}), work[key])


def test_layer_backward_passes_are_their_vjps():
    rng = np.random.default_rng(7)
    for activation in ("sigmoid", "tanh", "relu", "identity"):
        da, z = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
        z[np.abs(z) < 1e-3] = 0.5  # away from ReLU's kink
        dz = mf.activation_backward(da, z, activation)
        sigma = fp.ACTIVATIONS[activation]
        numeric = gc.numerical_gradient(
            lambda v, da=da, s=sigma: float(np.sum(da * s(v))), z.copy()
        )
        np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-9, err_msg=activation)
    dz, a_prev, W = rng.normal(size=(3, 1)), rng.normal(size=(5, 1)), rng.normal(size=(3, 5))
    da_prev, dW, db = mf.dense_backward(dz, (a_prev, W))

    def vjp(W_, a_, b_):
        return float(np.sum(dz * (W_ @ a_ + b_)))

    b = rng.normal(size=(3, 1))
    np.testing.assert_allclose(da_prev, gc.numerical_gradient(lambda a: vjp(W, a, b), 1 * a_prev))
    np.testing.assert_allclose(dW, gc.numerical_gradient(lambda w: vjp(w, a_prev, b), W.copy()))
    np.testing.assert_allclose(db, gc.numerical_gradient(lambda c: vjp(W, a_prev, c), b.copy()))
    assert not np.shares_memory(db, dz)


def test_gradient_check_finds_one_wrong_entry_that_the_norms_hide():
    params = fp.init_params([40, 30, 3], seed=2)
    x, y = np.random.default_rng(3).normal(size=(40, 1)), np.array([[1.0], [0.0], [0.0]])
    activations = ["tanh", "identity"]
    grads, _ = mf.backprop(x, y, params, activations, "softmax_cross_entropy")

    def cost(p):
        return fp.softmax_cross_entropy(fp.forward(x, p, activations)[0], y)

    wrong = {"W1": grads["W1"].copy()}
    typical = np.mean(np.abs(wrong["W1"]))
    wrong["W1"][17, 23] += 0.5 * typical
    report = mf.gradient_check(cost, params, wrong)["W1"]
    assert report.relative_error < 1e-2  # the whole array looks no worse than "suspicious"
    assert report.worst_index == (17, 23) and report.worst_error > 0.1
    right = mf.gradient_check(cost, params, grads)
    assert set(right) == set(params)
    assert all(r.relative_error < 1e-7 and r.worst_error < 1e-5 for r in right.values()), right


def test_gradient_check_leaves_params_alone_and_reads_exact_zeros_as_agreement():
    x, t = np.array([[1.0], [-2.0]]), np.array([[0.5]])
    params = {"W": np.array([[0.25, 0.5]]), "b": np.array([[0.0]]), "unused": np.ones((2, 2))}
    before = {k: v.copy() for k, v in params.items()}

    def cost(p):
        return float(0.5 * np.sum((p["W"] @ x + p["b"] - t) ** 2))

    r = params["W"] @ x + params["b"] - t
    grads = {"W": r @ x.T, "b": r, "unused": np.zeros((2, 2))}
    report = mf.gradient_check(cost, params, grads, h=2.0**-8)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    assert report["unused"] == (0.0, (0, 0), 0.0)
    assert report["W"].relative_error < 1e-12 and report["b"].worst_error < 1e-12


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


# -- lesson 05: the batch layer, and sgd's weight decay ---------------------------


def test_batch_layer_is_lesson_04s_layer_averaged_over_the_examples():
    """dense_backward_batch: dA_prev column by column (no 1/m), dW and db the means."""
    rng = np.random.default_rng(3)
    W, A_prev, dZ = rng.normal(size=(3, 5)), rng.normal(size=(5, 4)), rng.normal(size=(3, 4))
    dA_prev, dW, db = mb.dense_backward_batch(dZ, (A_prev, W))
    singles = [mb.dense_backward(dZ[:, [i]], (A_prev[:, [i]], W)) for i in range(4)]
    np.testing.assert_allclose(dA_prev, np.hstack([s[0] for s in singles]), rtol=1e-12)
    np.testing.assert_allclose(dW, np.mean([s[1] for s in singles], axis=0), rtol=1e-12)
    np.testing.assert_allclose(db, np.mean([s[2] for s in singles], axis=0), rtol=1e-12)
    assert dA_prev.shape == (5, 4) and dW.shape == W.shape and db.shape == (3, 1)
    with pytest.raises(ValueError, match="one example"):
        mb.dense_backward(dZ, (A_prev, W))


@given(problem=problems(max_m=5), weight_decay=st.sampled_from([0.5, 4.0]))
def test_sgd_descends_the_penalised_cost(problem, weight_decay):
    """One full-batch step without momentum is p - eta dC/dp for C = C_0 + (lambda/2N) sum ||W||^2,
    the gradient by centred differences: (lambda/N) W for the weights, nothing for the biases."""
    assume(min_abs_preactivation(problem) > KINK_MARGIN)
    X, Y, params, activations, loss = problem
    N, eta = X.shape[1], 0.1
    trained, _ = mb.sgd(params, X, Y, activations, loss, epochs=1, batch_size=N, eta=eta,
                        weight_decay=weight_decay)  # fmt: skip
    numeric = gc.network_numerical_gradients(*problem)
    for key, value in params.items():
        penalty = 0.0 if key.startswith("b") else weight_decay / (2 * N)
        of_p = lambda p, c=penalty: c * np.sum(p**2)  # noqa: E731
        numeric[key] = numeric[key] + gc.numerical_gradient(of_p, value)
        step = (params[key] - trained[key]) / eta
        np.testing.assert_allclose(step, numeric[key], rtol=1e-5, atol=1e-8, err_msg=key)


def test_weight_decay_uses_the_training_set_size_not_the_batch_size():
    """Where C_0 has no gradient, each step multiplies the weights by (1 - eta lambda / N)."""
    params = fp.init_params([3, 2], seed=0)  # zero biases: with X = 0 the output is 0 = Y,
    X, Y = np.zeros((3, 6)), np.zeros((2, 6))  # so dC_0/dp = 0 and only the penalty acts
    trained, _ = mb.sgd(params, X, Y, ["identity"], "half_squared_error", epochs=2, batch_size=4,
                        eta=0.1, weight_decay=3.0)  # fmt: skip
    steps = 2 * 2  # two epochs of batches of 4 and 2
    np.testing.assert_allclose(trained["W1"], (1 - 0.1 * 3.0 / 6) ** steps * params["W1"])
    np.testing.assert_array_equal(trained["b1"], params["b1"])


def test_sgd_refuses_a_negative_weight_decay():
    params = fp.init_params([2, 2], seed=0)
    with pytest.raises(ValueError, match="weight_decay"):
        mb.sgd(params, np.ones((2, 3)), np.ones((2, 3)), ["identity"], "half_squared_error",
               epochs=1, batch_size=1, eta=0.1, weight_decay=-1.0)  # fmt: skip


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
