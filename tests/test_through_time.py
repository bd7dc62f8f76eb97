"""Lesson 06 reference: backpropagation through time against centred differences, truncation
against chunked BPTT, clipping by the global norm, the gradient norms through time, the
argument checks, and the binary-addition data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from backprop_course.datasets import binary_addition, bits_to_numbers
from backprop_course.structures import StepCache
from backprop_reference import through_time as tt

LOSSES = sorted(tt.LOSSES)
KEYS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


# -- helpers ---------------------------------------------------------------------------


def problem(seed: int, T: int, loss: str, m: int | None = None) -> tuple:
    """(X, Y, h0, params, loss) of random sizes 1..5 (n_y >= 2 for the softmax), biases and h0
    not zero, so that every term of every gradient is there."""
    rng = np.random.default_rng(seed)
    n_x, n_h = (int(n) for n in rng.integers(1, 6, size=2))
    n_y = int(rng.integers(2 if loss == "softmax_cross_entropy" else 1, 6))
    m = int(rng.integers(1, 5)) if m is None else m
    params = tt.init_rnn(n_x, n_h, n_y, seed=seed, spectral_radius=float(rng.uniform(0.5, 1.5)))
    params["b_h"] = rng.normal(0.0, 0.5, (n_h, 1))
    params["b_y"] = rng.normal(0.0, 0.5, (n_y, 1))
    X = rng.normal(0.0, 1.0, (T, n_x, m))
    h0 = np.tanh(rng.normal(0.0, 1.0, (n_h, m)))
    if loss == "softmax_cross_entropy":
        Y = np.stack([np.eye(n_y)[:, rng.integers(0, n_y, size=m)] for _ in range(T)])
    else:
        Y = rng.normal(0.0, 1.0, (T, n_y, m))
    return X, Y, h0, params, loss


def centred(f, array: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """∂f/∂array by centred differences, entry by entry (array restored after each)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + h
        up = f()
        array[index] = original - h
        down = f()
        array[index] = original
        grad[index] = (up - down) / (2 * h)
    return grad


# -- BPTT against centred differences ----------------------------------------------------


@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 5), loss=st.sampled_from(LOSSES))
@example(seed=0, T=1, loss="softmax_cross_entropy")
@example(seed=1, T=1, loss="half_squared_error")
@example(seed=2, T=1, loss="mean_squared_error")
@example(seed=3, T=4, loss="mean_squared_error")
def test_bptt_agrees_with_centred_differences(seed, T, loss):
    X, Y, h0, params, loss = problem(seed, T, loss)
    grads, cost, h_T = tt.bptt(X, Y, h0, params, loss)
    assert cost == pytest.approx(tt.sequence_cost(X, Y, h0, params, loss), rel=1e-12)
    assert set(grads) == set(KEYS)
    for key in KEYS:
        numeric = centred(lambda: tt.sequence_cost(X, Y, h0, params, loss), params[key])
        assert grads[key].shape == params[key].shape
        assert tt.relative_error(grads[key], numeric) < 1e-7, key
    H, _ = tt.rnn_forward(X, h0, params)
    np.testing.assert_array_equal(h_T, H[-1])


@pytest.mark.parametrize("loss", LOSSES)
def test_bptt_with_m_1_and_t_1(loss):
    """The smallest sequence batch: one step, one example."""
    X, Y, h0, params, loss = problem(7, 1, loss, m=1)
    grads, _, _ = tt.bptt(X, Y, h0, params, loss)
    for key in KEYS:
        numeric = centred(lambda: tt.sequence_cost(X, Y, h0, params, loss), params[key])
        assert tt.relative_error(grads[key], numeric) < 1e-7, key


def test_the_cost_is_summed_over_time_and_averaged_over_examples():
    X, Y, h0, params, loss = problem(11, 4, "half_squared_error", m=3)
    total = tt.sequence_cost(X, Y, h0, params, loss)
    per_step = [tt.sequence_cost(X[: t + 1], Y[: t + 1], h0, params, loss) for t in range(4)]
    H, _ = tt.rnn_forward(X, h0, params)
    columns = [
        tt.sequence_cost(X[:, :, [j]], Y[:, :, [j]], h0[:, [j]], params, loss) for j in range(3)
    ]
    assert total == pytest.approx(per_step[-1])
    assert total == pytest.approx(np.mean(columns), rel=1e-12)  # mean over examples
    last = tt.LOSSES[loss].cost(params["W_hy"] @ H[-1] + params["b_y"], Y[-1])
    assert per_step[-1] - per_step[-2] == pytest.approx(last, rel=1e-9)  # sum over steps


@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 5))
@example(seed=0, T=1)
def test_rnn_backward_dX_dh0_and_grads_agree_with_centred_differences(seed, T):
    """L = Σ_t Σ (G_t ⊙ h_t) summed over the batch: dX and dh0 are ∂L/∂X and ∂L/∂h0 (per
    example, not divided by m), and m times each gradient is ∂L/∂W (the mean over m)."""
    X, _, h0, params, _ = problem(seed, T, "half_squared_error")
    G = np.random.default_rng(seed + 1).normal(0.0, 1.0, (T, *h0.shape))
    m = X.shape[2]

    def L() -> float:
        H, _ = tt.rnn_forward(X, h0, params)
        return float(np.sum(G * H))

    _, caches = tt.rnn_forward(X, h0, params)
    dX, dh0, grads = tt.rnn_backward(G, caches)
    assert dX.shape == X.shape and dh0.shape == h0.shape
    assert tt.relative_error(dX, centred(L, X)) < 1e-7
    assert tt.relative_error(dh0, centred(L, h0)) < 1e-7
    for key in ("W_xh", "W_hh", "b_h"):
        assert tt.relative_error(m * grads[key], centred(L, params[key])) < 1e-7, key


def test_rnn_forward_is_one_step_after_another_and_caches_the_step():
    X, _, h0, params, _ = problem(5, 4, "half_squared_error", m=3)
    H, caches = tt.rnn_forward(X, h0, params)
    h = h0
    for t in range(4):
        h_next, cache = tt.rnn_step_forward(X[t], h, params)
        np.testing.assert_array_equal(H[t], h_next)
        assert isinstance(caches[t], StepCache)
        for got, want in zip(caches[t], cache, strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(cache.h_prev, h)
        expected = np.tanh(params["W_hh"] @ h + params["W_xh"] @ X[t] + params["b_h"])
        np.testing.assert_allclose(h_next, expected, rtol=1e-14)
        h = h_next
    assert H.shape == (4, h0.shape[0], 3)


def test_nothing_given_is_changed():
    X, Y, h0, params, loss = problem(3, 5, "softmax_cross_entropy")
    before = [a.copy() for a in (X, Y, h0)], {k: v.copy() for k, v in params.items()}
    tt.truncated_bptt(X, Y, h0, params, loss, 2)
    tt.clip_by_global_norm(tt.bptt(X, Y, h0, params, loss)[0], 0.1)
    for now, then in zip((X, Y, h0), before[0], strict=True):
        np.testing.assert_array_equal(now, then)
    for key, value in params.items():
        np.testing.assert_array_equal(value, before[1][key])


# -- truncated BPTT ----------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("T", [1, 3, 5])
def test_truncated_bptt_with_k_at_least_T_is_bptt(loss, T):
    X, Y, h0, params, loss = problem(T, T, loss)
    expected = tt.bptt(X, Y, h0, params, loss)
    for k in (T, T + 1, T + 5):
        grads, cost, h_T = tt.truncated_bptt(X, Y, h0, params, loss, k)
        assert cost == pytest.approx(expected[1], rel=1e-12)
        np.testing.assert_allclose(h_T, expected[2], rtol=1e-12)
        for key in KEYS:
            np.testing.assert_allclose(grads[key], expected[0][key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(("T", "k"), [(5, 2), (7, 3), (4, 1), (6, 3), (6, 5)])
def test_truncated_bptt_is_the_sum_of_bptt_over_chunks_with_the_state_carried(loss, T, k):
    X, Y, h0, params, loss = problem(10 * T + k, T, loss)
    grads, cost, h_T = tt.truncated_bptt(X, Y, h0, params, loss, k)
    total, h = {key: 0.0 for key in KEYS}, h0
    for start in range(0, T, k):
        chunk, _, h = tt.bptt(X[start : start + k], Y[start : start + k], h, params, loss)
        total = {key: total[key] + chunk[key] for key in KEYS}
    for key in KEYS:
        np.testing.assert_allclose(grads[key], total[key], rtol=1e-12, atol=1e-15)
    # The forward pass is not cut: the cost and the last state are those of the whole sequence.
    _, full_cost, full_h = tt.bptt(X, Y, h0, params, loss)
    assert cost == pytest.approx(full_cost, rel=1e-12)
    np.testing.assert_allclose(h_T, full_h, rtol=1e-12)
    np.testing.assert_allclose(h, h_T, rtol=1e-12)
    # ... but the gradient is: the recurrent weights get less than the whole of BPTT.
    assert tt.relative_error(grads["W_hh"], tt.bptt(X, Y, h0, params, loss)[0]["W_hh"]) > 1e-6
    # The output layer sees every step either way.
    np.testing.assert_allclose(grads["W_hy"], tt.bptt(X, Y, h0, params, loss)[0]["W_hy"])


# -- clipping by the global norm -----------------------------------------------------------


def _gradients(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=(3, 1)), "v": rng.normal(size=5)}


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


@pytest.mark.parametrize("seed", range(5))
def test_clipping_above_max_norm_keeps_the_direction_and_gives_max_norm(seed):
    grads = _gradients(seed)
    norm = _global_norm(grads)
    max_norm = norm / 3.7
    clipped, reported = tt.clip_by_global_norm(grads, max_norm)
    assert reported == pytest.approx(norm, rel=1e-15)  # the norm before clipping
    assert _global_norm(clipped) == pytest.approx(max_norm, rel=1e-14)
    scale = max_norm / norm  # one factor for every array: the direction is kept
    for key, g in grads.items():
        assert clipped[key].shape == g.shape
        np.testing.assert_allclose(clipped[key], scale * g, rtol=1e-14)
    assert clipped is not grads


@pytest.mark.parametrize("ratio", [0.2, 0.99, 1.0])
def test_clipping_at_or_below_max_norm_changes_nothing(ratio):
    grads = _gradients(7)
    norm = _global_norm(grads)
    clipped, reported = tt.clip_by_global_norm(grads, norm / ratio)
    assert reported == pytest.approx(norm, rel=1e-15)
    for key, g in grads.items():
        np.testing.assert_array_equal(clipped[key], g)
    assert set(clipped) == set(grads) and clipped is not grads


def test_clipping_zero_gradients_leaves_zeros():
    clipped, norm = tt.clip_by_global_norm({"a": np.zeros((2, 3)), "b": np.zeros(4)}, 1.0)
    assert norm == 0.0
    assert all(not np.any(g) for g in clipped.values())


# -- the gradient norms through time ------------------------------------------------------
# n_h = 32 units, m = 8 examples, h0 = 0, one cost on h_T with a random ∂C/∂h_T. The ratios
# below were measured over 50 seeds first; each bound keeps a wide margin from what was seen.

N_X, N_H, M = 4, 32, 8


def _norm_ratios(rho: float, scale: float, T: int, seed: int) -> np.ndarray:
    """||∂C/∂h_t|| / ||∂C/∂h_T|| for t = 0..T, inputs of standard deviation ``scale``."""
    params = tt.init_rnn(N_X, N_H, 2, seed=seed, spectral_radius=rho)
    rng = np.random.default_rng(1000 + seed)
    _, caches = tt.rnn_forward(scale * rng.normal(size=(T, N_X, M)), np.zeros((N_H, M)), params)
    norms = tt.state_gradient_norms(caches, rng.normal(size=(N_H, M)))
    return norms / norms[-1]


@pytest.mark.parametrize("rho", [0.5, 0.8, 1.0, 1.5])
def test_init_rnn_scales_an_orthogonal_matrix(rho):
    params = tt.init_rnn(3, 6, 2, seed=4, spectral_radius=rho)
    np.testing.assert_allclose(np.linalg.svd(params["W_hh"], compute_uv=False), rho, rtol=1e-12)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(params["W_hh"])), rho, rtol=1e-10)
    assert {k: v.shape for k, v in params.items()} == {
        "W_xh": (6, 3), "W_hh": (6, 6), "b_h": (6, 1), "W_hy": (2, 6), "b_y": (2, 1)
    }  # fmt: skip


@pytest.mark.parametrize("rho", [0.8, 1.0, 1.5])
def test_a_linear_recurrence_scales_the_gradient_by_rho_per_step(rho):
    """With X = 0, h0 = 0 and b_h = 0 every state is 0, so 1 - h² = 1: the recurrence is linear,
    each step back multiplies by ρ Qᵀ, and the norm ratio is exactly ρ^(T-t)."""
    T = 12
    params = tt.init_rnn(N_X, N_H, 2, seed=2, spectral_radius=rho)
    _, caches = tt.rnn_forward(np.zeros((T, N_X, M)), np.zeros((N_H, M)), params)
    norms = tt.state_gradient_norms(caches, np.random.default_rng(0).normal(size=(N_H, M)))
    np.testing.assert_allclose(norms / norms[-1], rho ** (T - np.arange(T + 1)), rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_below_radius_1_the_gradient_vanishes_geometrically(seed):
    """ρ = 0.8: each step back shrinks the norm by ρ at least (|tanh'| ≤ 1, every singular
    value of W_hh is ρ), so ||∂C/∂h_t|| ≤ ρ^(T-t) ||∂C/∂h_T||."""
    T = 20
    ratios = _norm_ratios(0.8, 0.1, T, seed)
    bound = 0.8 ** (T - np.arange(T + 1))
    assert np.all(ratios <= bound * (1 + 1e-12))
    assert ratios[0] < 0.02  # measured 0.006 to 0.009


@pytest.mark.parametrize("seed", range(5))
def test_at_radius_1_with_small_inputs_it_decays_slowly(seed):
    T = 20
    ratios = _norm_ratios(1.0, 0.1, T, seed)
    assert np.all(np.diff(ratios) >= -1e-12)  # never grows back in time
    assert ratios[0] > 0.15  # measured 0.27 to 0.46 ...
    assert _norm_ratios(0.8, 0.1, T, seed)[0] < ratios[0] / 10  # ... against 0.006 for ρ = 0.8
    assert _norm_ratios(1.0, 1.0, T, seed)[0] < 0.01  # large inputs: saturated, it vanishes


@pytest.mark.parametrize("seed", range(5))
def test_above_radius_1_with_small_inputs_it_explodes(seed):
    short = _norm_ratios(1.5, 0.1, 6, seed)
    assert np.all(np.diff(short) < 0)  # grows at every step back (measured: by 3% at least)
    assert short[0] > 3  # measured 4.9 at least
    long = _norm_ratios(1.5, 0.1, 30, seed)
    assert long[0] > 10  # measured 19.5 at least
    assert long[0] == pytest.approx(long.max())


@pytest.mark.parametrize("seed", range(5))
def test_above_radius_1_with_large_inputs_saturation_makes_it_vanish(seed):
    """The same weights, inputs ten times larger: the states saturate, 1 - h² is small, and
    the gradient vanishes although every singular value of W_hh is 1.5."""
    assert _norm_ratios(1.5, 1.0, 30, seed)[0] < 0.3  # measured 0.16 at most
    assert _norm_ratios(1.5, 1.0, 50, seed)[0] < 0.05  # measured 0.015 at most
    assert _norm_ratios(1.5, 0.1, 30, seed)[0] > 10


def test_state_gradient_norms_follow_rnn_step_backward():
    X, _, h0, params, _ = problem(9, 5, "half_squared_error", m=3)
    _, caches = tt.rnn_forward(X, h0, params)
    dh = np.random.default_rng(2).normal(size=h0.shape)
    norms = tt.state_gradient_norms(caches, dh)
    assert norms.shape == (6,)
    assert norms[-1] == pytest.approx(np.linalg.norm(dh) / np.sqrt(3))
    # Only h_T feeds the cost: rnn_backward with dH zero but at the last step gives dh0.
    dH = np.zeros((5, *h0.shape))
    dH[-1] = dh
    _, dh0, _ = tt.rnn_backward(dH, caches)
    assert norms[0] == pytest.approx(np.linalg.norm(dh0) / np.sqrt(3), rel=1e-12)


# -- argument checks ----------------------------------------------------------------------------


def _good():
    """Sizes all different (n_x 3, n_h 4, n_y 2, m 5, T 6), so a wrong axis never fits."""
    rng = np.random.default_rng(1)
    params = tt.init_rnn(3, 4, 2, seed=1)
    X, h0 = rng.normal(size=(6, 3, 5)), np.zeros((4, 5))
    Y = np.stack([np.eye(2)[:, rng.integers(0, 2, size=5)] for _ in range(6)])
    _, caches = tt.rnn_forward(X, h0, params)
    return X, Y, h0, params, "softmax_cross_entropy", caches


def _bad_calls():
    X, Y, h0, params, loss, caches = _good()
    T, n_x, m = X.shape
    n_h = h0.shape[0]
    cache = caches[0]
    recurrent = {k: params[k] for k in ("W_xh", "W_hh", "b_h")}
    return {
        "X without a time axis": (lambda: tt.rnn_forward(X[0], h0, params), "X must have shape"),
        "X time last": (lambda: tt.rnn_forward(np.moveaxis(X, 0, 2), h0, params), "time first"),
        "X with no step": (lambda: tt.rnn_forward(X[:0], h0, params), "at least one time step"),
        "h0 of another m": (lambda: tt.rnn_forward(X, h0[:, :1], params), "h0 must have shape"),
        "h0 as 1-D": (lambda: tt.rnn_step_forward(X[0], h0[:, 0], params), "h_prev must"),
        "x of another n_x": (lambda: tt.rnn_step_forward(np.ones((n_x + 1, m)), h0, params),
                             "x must have shape"),
        "params missing a key": (lambda: tt.rnn_forward(X, h0, {"W_xh": params["W_xh"]}),
                                 "params must be a dict holding"),
        "b_h as a row": (lambda: tt.rnn_forward(X, h0, {**params, "b_h": params["b_h"].T}),
                         "params\\['b_h'\\] must have shape"),
        "Y of another T": (lambda: tt.bptt(X, Y[:-1], h0, params, loss), "Y must have shape"),
        "Y of another m": (lambda: tt.bptt(X, Y[:, :, :1], h0, params, loss), "Y must have"),
        "bptt without the output layer": (lambda: tt.bptt(X, Y, h0, recurrent, loss), "W_hy"),
        "unknown loss": (lambda: tt.bptt(X, Y, h0, params, "hinge"), "unknown loss"),
        "cache not a cache": (lambda: tt.rnn_step_backward(h0, (cache.x, cache.h)), "StepCache"),
        "cache of another m": (lambda: tt.rnn_step_backward(h0[:, :1], cache), "cache.h must"),
        "dH of another T": (lambda: tt.rnn_backward(np.zeros((T + 1, n_h, m)), caches),
                            "dH must have shape"),
        "no caches": (lambda: tt.rnn_backward(np.zeros((0, n_h, m)), []), "caches must hold"),
        "k = 0": (lambda: tt.truncated_bptt(X, Y, h0, params, loss, 0), "k, the number"),
        "k negative": (lambda: tt.truncated_bptt(X, Y, h0, params, loss, -2), ">= 1"),
        "k not whole": (lambda: tt.truncated_bptt(X, Y, h0, params, loss, 1.5), "integer"),
        "max_norm 0": (lambda: tt.clip_by_global_norm({"a": np.ones(2)}, 0.0), "positive"),
        "max_norm negative": (lambda: tt.clip_by_global_norm({"a": np.ones(2)}, -1.0),
                              "max_norm must be positive"),
        "no gradients": (lambda: tt.clip_by_global_norm({}, 1.0), "non-empty dict"),
    }  # fmt: skip


@pytest.mark.parametrize("name", list(_bad_calls()))
def test_wrong_arguments_raise_a_clear_value_error(name):
    call, message = _bad_calls()[name]
    with pytest.raises(ValueError, match=message):
        call()


def test_shape_messages_name_the_expected_and_the_received_shape():
    X, _, h0, params, _, _ = _good()
    with pytest.raises(ValueError) as raised:
        tt.rnn_forward(np.moveaxis(X, 0, 2), h0, params)  # (n_x, m, T): time last
    text = str(raised.value)
    assert "(?, 3, ?) (T, n_x, m)" in text, text
    assert "(3, 5, 6)" in text, text


# -- the binary-addition data --------------------------------------------------------------------


@pytest.mark.parametrize(("m", "bits"), [(1, 1), (5, 3), (64, 8), (7, 60)])
def test_binary_addition_adds_up(m, bits):
    X, Y = binary_addition(m, bits, seed=3)
    assert X.shape == (bits + 1, 2, m) and Y.shape == (bits + 1, 2, m)
    assert X.dtype == np.float64 and Y.dtype == np.float64
    assert set(np.unique(X)) <= {0.0, 1.0}
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)  # one-hot at every step
    assert set(np.unique(Y)) <= {0.0, 1.0}
    a, b = bits_to_numbers(X[:, 0]), bits_to_numbers(X[:, 1])
    total = bits_to_numbers(Y[:, 1])  # row 1: the bit is 1
    np.testing.assert_array_equal(a + b, total)
    assert np.all(a < 2**bits) and np.all(b < 2**bits)
    np.testing.assert_array_equal(X[-1], 0.0)  # the extra step holds the last carry only


def test_binary_addition_needs_the_carry():
    X, Y = binary_addition(2000, 8, seed=0)
    sum_bits = Y[:, 1]
    xor = (X[:, 0] + X[:, 1]) % 2
    assert np.mean(sum_bits != xor) > 0.3  # the bits alone do not tell the sum's bit
    assert 0.3 < np.mean(sum_bits) < 0.7


def test_binary_addition_is_seeded():
    first, again = binary_addition(10, 6, seed=5), binary_addition(10, 6, seed=5)
    other = binary_addition(10, 6, seed=6)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize(("m", "bits"), [(0, 8), (2.5, 8), (3, 0), (3, 61), (3, 2.5)])
def test_binary_addition_refuses_bad_sizes(m, bits):
    with pytest.raises(ValueError, match="m >= 1"):
        binary_addition(m, bits)


def test_bits_to_numbers_reads_the_lowest_bit_first():
    bits = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1]])  # columns: 1 + 2, 4, 1 + 4
    np.testing.assert_array_equal(bits_to_numbers(bits), [3, 4, 5])
    assert bits_to_numbers(np.ones((60, 1))).item() == 2**60 - 1
