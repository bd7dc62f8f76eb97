"""Lesson 06, backpropagation through time: a recurrent network is a deep network whose layers
share their weights.

A vanilla recurrent network reads a sequence x_1, ..., x_T, one batch of m
examples per time step (columns are examples, as everywhere in the course),
and keeps a state h_t that carries what it has seen:

    h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)        (n_h, m), h_0 given
    y_t = W_hy h_t + b_y                              (n_y, m), the output at step t

The cost is SUMMED over the time steps and AVERAGED over the examples:
C = sum_t C_t, with C_t the course's mean-over-the-batch loss of y_t.

Unrolled, the T steps are T layers that use the same W_xh, W_hh and b_h. So
BPTT is lesson 04's backward pass through the unrolled network, and the
parameters, used once per step, get the SUM over the steps of the gradients
of their uses (lesson 02's node used twice, lesson 05's sum over examples):

    dh_t    = W_hy^T dy_t + W_hh^T delta_{t+1}        from the output at t and the state at t+1
    delta_t = dh_t * (1 - h_t^2)                      tanh'(z) = 1 - tanh(z)^2 = 1 - h_t^2
    dC/dW_hh = (1/m) sum_t delta_t h_{t-1}^T          (and W_xh with x_t, b_h with 1)

The errors dh_t and delta_t hold one column per example and are NOT divided
by m: the 1/m of the mean enters once, in the parameters' gradients (lesson 05).

Arrays over time are stacked on a first, time axis: X (T, n_x, m), X[t] the
input at step t + 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from backprop_course.structures import StepCache

from ._shapes import check_column_batch, check_shape, checked_by
from .forward_pass import LOSSES, get_loss
from .matrix_form import gradient_check, relative_error  # noqa: F401  (given in notebook 06)

Array = np.ndarray
Params = dict[str, Array]
RECURRENT_KEYS = ("W_xh", "W_hh", "b_h")  # the recurrent layer's parameters
OUTPUT_KEYS = ("W_hy", "b_y")  # the output layer's, used at every step too


# -- argument checks (kept apart, so each body is the plain answer) ------------------


def _check_params(params: Mapping[str, Array], keys: Sequence[str] = RECURRENT_KEYS) -> None:
    if not isinstance(params, Mapping) or any(key not in params for key in keys):
        raise ValueError(f"params must be a dict holding {', '.join(keys)}")
    n_h = np.shape(params["W_hh"])[0]
    check_shape("params['W_hh']", params["W_hh"], (n_h, n_h), "(n_h, n_h)")
    check_shape("params['W_xh']", params["W_xh"], (n_h, None), "(n_h, n_x)")
    check_shape("params['b_h']", params["b_h"], (n_h, 1), "(n_h, 1)")
    if "W_hy" in keys:
        check_shape("params['W_hy']", params["W_hy"], (None, n_h), "(n_y, n_h)")
        n_y = np.shape(params["W_hy"])[0]
        check_shape("params['b_y']", params["b_y"], (n_y, 1), "(n_y, 1)")


def _check_step(x: Array, h_prev: Array, params: Mapping[str, Array]) -> None:
    _check_params(params)
    n_h, n_x = np.shape(params["W_xh"])
    check_column_batch("x", x, n_x)
    check_shape("h_prev", h_prev, (n_h, np.shape(x)[1]), "(n_h, m): same m as x")


def _check_sequence(X: Array, h0: Array, params: Mapping[str, Array]) -> None:
    _check_params(params)
    n_h, n_x = np.shape(params["W_xh"])
    check_shape("X", X, (None, n_x, None), "(T, n_x, m): time first, examples as columns")
    if np.shape(X)[0] < 1:
        raise ValueError("X must hold at least one time step: shape (T, n_x, m) with T >= 1")
    check_shape("h0", h0, (n_h, np.shape(X)[2]), "(n_h, m): same m as X")


def _check_step_backward(dh: Array, cache: StepCache) -> None:
    if not isinstance(cache, (tuple, list)) or len(cache) != 5:
        raise ValueError("cache must be the StepCache (x, h_prev, h, W_xh, W_hh) of the step")
    x, h_prev, h, W_xh, W_hh = cache
    check_column_batch("dh", dh)
    check_shape("cache.h", h, np.shape(dh), "(n_h, m), like dh")
    check_shape("cache.h_prev", h_prev, np.shape(dh), "(n_h, m), like dh")
    check_shape("cache.W_hh", W_hh, (np.shape(dh)[0],) * 2, "(n_h, n_h)")
    check_shape("cache.x", x, (np.shape(W_xh)[1], np.shape(dh)[1]), "(n_x, m)")


def _check_backward(dH: Array, caches: Sequence[StepCache]) -> None:
    check_shape("dH", dH, (len(caches), None, None), "(T, n_h, m): one step per cache")
    if len(caches) < 1:
        raise ValueError("caches must hold one StepCache per time step (T >= 1)")
    for t, cache in enumerate(caches):
        _check_step_backward(dH[t], cache)


def _check_bptt(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> None:
    _check_sequence(X, h0, params)
    _check_params(params, RECURRENT_KEYS + OUTPUT_KEYS)
    n_y = np.shape(params["W_hy"])[0]
    T, _, m = np.shape(X)
    check_shape("Y", Y, (T, n_y, m), "(T, n_y, m): one target per step and example")
    get_loss(loss)


def _check_truncated(
    X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str, k: int
) -> None:
    _check_bptt(X, Y, h0, params, loss)
    if int(k) != k or k < 1:
        raise ValueError(f"k, the number of steps per chunk, must be an integer >= 1; got {k!r}")


def _check_clip(grads: Mapping[str, Array], max_norm: float) -> None:
    if not isinstance(grads, Mapping) or not grads:
        raise ValueError("grads must be a non-empty dict of gradient arrays")
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive; got {max_norm!r}")


# -- lesson 06's exercises: the forward pass ------------------------------------------


@checked_by(_check_step)
def rnn_step_forward(
    x: Array, h_prev: Array, params: Mapping[str, Array]
) -> tuple[Array, StepCache]:
    """One step of a vanilla RNN: h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), and its cache.

    Shapes: x (n_x, m), h_prev (n_h, m), params W_xh (n_h, n_x), W_hh (n_h, n_h),
    b_h (n_h, 1) -> (h (n_h, m), StepCache(x, h_prev, h, W_xh, W_hh)).
    """
    h = np.tanh(params["W_hh"] @ h_prev + params["W_xh"] @ x + params["b_h"])
    return h, StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])


@checked_by(_check_sequence)
def rnn_forward(X: Array, h0: Array, params: Mapping[str, Array]) -> tuple[Array, list[StepCache]]:
    """The states of a whole sequence: one :func:`rnn_step_forward` per time step.

    Shapes: X (T, n_x, m), h0 (n_h, m) -> (H (T, n_h, m), caches): H[t] is the
    state after step t + 1 (h_1 ... h_T; h0 is not in H), caches[t] that step's cache.
    """
    states, caches, h = [], [], h0
    for x in X:
        h, cache = rnn_step_forward(x, h, params)
        states.append(h)
        caches.append(cache)
    return np.stack(states), caches


# -- the backward pass -------------------------------------------------------------


@checked_by(_check_step_backward)
def rnn_step_backward(dh: Array, cache: StepCache) -> tuple[Array, Array, Params]:
    """The backward pass of one step, from dh = dC/dh_t, everything that reaches h_t.

    Shapes: dh (n_h, m), one example per column, not divided by m;
    cache = StepCache(x (n_x, m), h_prev (n_h, m), h (n_h, m), W_xh, W_hh)
    -> (dx (n_x, m), dh_prev (n_h, m), both per example, not divided by m;
        grads {"W_xh": like W_xh, "W_hh": like W_hh, "b_h": (n_h, 1)}, the means
        over the m examples of this step's contributions).
    """
    x, h_prev, h, W_xh, W_hh = cache
    m = dh.shape[1]
    delta = dh * (1.0 - h**2)  # tanh'(z) = 1 - tanh(z)^2, and tanh(z) is h
    grads = {
        "W_xh": delta @ x.T / m,
        "W_hh": delta @ h_prev.T / m,
        "b_h": delta.sum(axis=1, keepdims=True) / m,
    }
    return W_xh.T @ delta, W_hh.T @ delta, grads


@checked_by(_check_backward)
def rnn_backward(dH: Array, caches: Sequence[StepCache]) -> tuple[Array, Array, Params]:
    """The backward pass through all T steps, from the gradients the outputs send to the states.

    dH[t] is what the output at step t + 1 sends to h_{t+1}; the state also gets
    what the next step sends back (dh_next, 0 after the last step).

    Shapes: dH (T, n_h, m), per example, not divided by m; caches, T StepCaches
    -> (dX (T, n_x, m), dh0 (n_h, m), grads {"W_xh", "W_hh", "b_h"}, each the sum
        over the steps of the step's gradient, shaped like the parameter).
    """
    x, h_prev, _, W_xh, W_hh = caches[0]
    grads = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh),
             "b_h": np.zeros((W_hh.shape[0], 1))}  # fmt: skip
    dX = np.zeros((len(caches), *x.shape))
    dh_next = np.zeros_like(h_prev)
    for t in reversed(range(len(caches))):
        dX[t], dh_next, step = rnn_step_backward(dH[t] + dh_next, caches[t])
        for key in grads:
            grads[key] += step[key]  # a parameter used at every step: the sum of its uses
    return dX, dh_next, grads


@checked_by(_check_bptt)
def bptt(
    X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str
) -> tuple[Params, float, Array]:
    """All the gradients of a sequence batch's cost, by backpropagation through time.

    The output y_t = W_hy h_t + b_y at every step, and C = sum_t LOSSES[loss].cost(y_t, Y[t])
    (each the mean over the batch).

    Shapes: X (T, n_x, m), Y (T, n_y, m), h0 (n_h, m), params W_xh, W_hh, b_h, W_hy
    (n_y, n_h), b_y (n_y, 1) -> (grads, a dict like params; C; h_T (n_h, m), the last
    state, to carry into the next chunk of a longer sequence).
    """
    H, caches = rnn_forward(X, h0, params)
    m = X.shape[2]
    grads = {"W_hy": np.zeros_like(params["W_hy"]), "b_y": np.zeros_like(params["b_y"])}
    dH, cost = np.zeros_like(H), 0.0
    for t in range(len(H)):
        y = params["W_hy"] @ H[t] + params["b_y"]
        cost += LOSSES[loss].cost(y, Y[t])
        dy = LOSSES[loss].gradient(y, Y[t])  # per example, not divided by m
        grads["W_hy"] += dy @ H[t].T / m
        grads["b_y"] += dy.sum(axis=1, keepdims=True) / m
        dH[t] = params["W_hy"].T @ dy
    _, _, recurrent = rnn_backward(dH, caches)
    grads.update(recurrent)
    return grads, cost, H[-1]


@checked_by(_check_truncated)
def truncated_bptt(
    X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str, k: int
) -> tuple[Params, float, Array]:
    """BPTT over chunks of k steps: the state flows through the whole sequence, gradients
    only within a chunk.

    The steps 1..k, k+1..2k, ... (the last chunk may be shorter) each go through
    :func:`bptt`, starting from the state the previous chunk ended in; the
    gradients and costs of the chunks are added. With k >= T it is bptt itself.

    Shapes and results as :func:`bptt`.
    """
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    cost, h = 0.0, h0
    for start in range(0, X.shape[0], k):
        chunk_grads, chunk_cost, h = bptt(X[start : start + k], Y[start : start + k], h,
                                          params, loss)  # fmt: skip
        for key in grads:
            grads[key] += chunk_grads[key]
        cost += chunk_cost
    return grads, cost, h


@checked_by(_check_clip)
def clip_by_global_norm(grads: Mapping[str, Array], max_norm: float) -> tuple[Params, float]:
    """Scale all gradients by one factor so that their global norm is at most max_norm.

    The global norm is sqrt(sum over every array of the sum of its squared entries).
    Above max_norm, every array is multiplied by max_norm / norm, which keeps the
    direction of the whole step; at or below it, nothing changes.

    Shapes: grads {name: array of any shape} -> (a new dict of arrays of the same
    shapes, the global norm before clipping).
    """
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    scale = max_norm / max(norm, max_norm)
    return {key: g * scale for key, g in grads.items()}, norm


# -- given code in notebook 06 ------------------------------------------------------------


def init_rnn(
    n_x: int, n_h: int, n_y: int, seed: int | None = 0, spectral_radius: float = 0.9
) -> Params:
    """Random parameters for a vanilla RNN: LeCun variances for W_xh and W_hy, a random
    orthogonal W_hh scaled so that its spectral radius (and every singular value) is
    ``spectral_radius``, zero biases.

    Shapes: W_xh (n_h, n_x), W_hh (n_h, n_h), b_h (n_h, 1), W_hy (n_y, n_h), b_y (n_y, 1).
    """
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n_h, n_h)))
    orthogonal = q * np.sign(np.diag(r))  # uniformly random among orthogonal matrices
    return {
        "W_xh": rng.standard_normal((n_h, n_x)) / np.sqrt(n_x),
        "W_hh": spectral_radius * orthogonal,
        "b_h": np.zeros((n_h, 1)),
        "W_hy": rng.standard_normal((n_y, n_h)) / np.sqrt(n_h),
        "b_y": np.zeros((n_y, 1)),
    }


def sequence_cost(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> float:
    """C = sum_t LOSSES[loss].cost(W_hy h_t + b_y, Y[t]) with the reference forward pass.

    For gradient checks: a forward pass only. Shapes as :func:`bptt`.
    """
    H, _ = rnn_forward(X, h0, params)
    return float(sum(LOSSES[loss].cost(params["W_hy"] @ h + params["b_y"], y)
                     for h, y in zip(H, Y, strict=True)))  # fmt: skip


def predict_sequence(X: Array, h0: Array, params: Mapping[str, Array]) -> Array:
    """The predicted class at every step and for every example: the largest output y_t.

    Shapes: X (T, n_x, m), h0 (n_h, m) -> (T, m) integers.
    """
    H, _ = rnn_forward(X, h0, params)
    logits = np.einsum("yh,thm->tym", params["W_hy"], H) + params["b_y"]
    return np.argmax(logits, axis=1)


def state_gradient_norms(caches: Sequence[StepCache], dh_last: Array) -> Array:
    """||dC/dh_t|| for t = T, T-1, ..., 0, when only the last state h_T feeds the cost.

    Each step back multiplies by the transposed Jacobian of h_t = tanh(...) with
    respect to h_{t-1}, W_hh^T diag(1 - h_t^2) (lesson 03). Norms are Frobenius
    norms over the batch, divided by sqrt(m).

    Shapes: caches, T StepCaches; dh_last (n_h, m) -> (T + 1,), entry t being ||dC/dh_t||.
    """
    norms = np.empty(len(caches) + 1)
    dh = dh_last
    norms[-1] = np.linalg.norm(dh) / np.sqrt(dh.shape[1])
    for t in reversed(range(len(caches))):
        _, dh, _ = rnn_step_backward(dh, caches[t])
        norms[t] = np.linalg.norm(dh) / np.sqrt(dh.shape[1])
    return norms
