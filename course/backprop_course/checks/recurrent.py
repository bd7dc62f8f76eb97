"""The visible checks' own recurrent network for lesson 06, and their stand-ins.

Written for the checks of :mod:`backprop_course.checks.through_time`, independent
of the reference answers: the forward pass and the three losses, centred
differences of its costs, its backward pass written out (for the stand-ins and
the named mistakes' variants), and the stand-ins themselves, which answer an
exercise's calls of earlier exercises from each call's own arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from backprop_course.checking import CheckFailed, describe
from backprop_course.structures import StepCache

Array = np.ndarray
STEP = 1e-5  # centred differences: about 1e-10 of error on these small networks
AGREE = {"rtol": 1e-5, "atol": 1e-8}
RECURRENT = ("W_xh", "W_hh", "b_h")
OUTPUT = ("W_hy", "b_y")
ALL_KEYS = RECURRENT + OUTPUT


# -- this module's own recurrent network ------------------------------------------------


def _log_softmax(z: Array) -> Array:
    shifted = z - z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


# Each loss: (the mean over the columns, each column's own gradient with respect to y_t).
LOSSES: dict[str, tuple[Callable[[Array, Array], float], Callable[[Array, Array], Array]]] = {
    "half_squared_error": (
        lambda a, y: float(0.5 * np.sum((a - y) ** 2) / a.shape[1]),
        lambda a, y: a - y,
    ),
    "mean_squared_error": (
        lambda a, y: float(np.sum((a - y) ** 2) / a.size),
        lambda a, y: 2.0 * (a - y) / a.shape[0],
    ),
    "softmax_cross_entropy": (
        lambda z, y: float(-np.sum(y * _log_softmax(z)) / z.shape[1]),
        lambda z, y: np.exp(_log_softmax(z)) * y.sum(axis=0, keepdims=True) - y,
    ),
}


def next_state(x: Array, h_prev: Array, params: Mapping[str, Array]) -> Array:
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)."""
    return np.tanh(params["W_hh"] @ h_prev + params["W_xh"] @ x + params["b_h"])


def all_states(X: Array, h0: Array, params: Mapping[str, Array], carry: bool = True) -> list[Array]:
    """h_1 ... h_T; with ``carry`` False, every step from h0 (a mistake's states)."""
    states, h = [], h0
    for x in X:
        h = next_state(x, h if carry else h0, params)
        states.append(h)
    return states


def step_caches(X: Array, h0: Array, params: Mapping[str, Array]) -> list[StepCache]:
    """The StepCache of every step, as rnn_forward makes them: X (T, n_x, m) -> T caches."""
    states = all_states(X, h0, params)
    starts = [h0, *states[:-1]]
    return [
        StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])
        for x, h_prev, h in zip(X, starts, states, strict=True)
    ]


def sequence_cost(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> float:
    """C = Σ_t (the mean over the batch of the loss of y_t = W_hy h_t + b_y)."""
    cost = LOSSES[loss][0]
    return sum(
        cost(params["W_hy"] @ h + params["b_y"], y)
        for h, y in zip(all_states(X, h0, params), Y, strict=True)
    )


def centred_gradients(f: Callable[[dict[str, Array]], float], arrays: Mapping[str, Array]) -> dict:
    """∂f/∂(every entry of every array), by centred differences."""
    work = {key: np.array(value, dtype=float) for key, value in arrays.items()}
    found = {}
    for key, value in work.items():
        gradient = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + STEP
            up = f(work)
            value[index] = original - STEP
            down = f(work)
            value[index] = original
            gradient[index] = (up - down) / (2 * STEP)
        found[key] = gradient
    return found


# -- the same network's backward pass, written out: stand-ins and named mistakes -----------


def step_backward(dh: Array, cache: Sequence[Array], factor: Array | None = None) -> tuple:
    """(dx, dh_prev, grads) of one step; ``factor`` replaces 1 - h² (for named mistakes)."""
    x, h_prev, h, W_xh, W_hh = cache
    m = dh.shape[1]
    delta = dh * ((1.0 - h * h) if factor is None else factor)
    grads = {
        "W_xh": delta @ x.T / m,
        "W_hh": delta @ h_prev.T / m,
        "b_h": delta.sum(axis=1, keepdims=True) / m,
    }
    return W_xh.T @ delta, W_hh.T @ delta, grads


def backward(dH: Array, caches: Sequence[Sequence[Array]], carry: bool = True) -> tuple:
    """(dX, dh0, grads summed over the steps, each step's grads); ``carry`` False drops the
    gradient that step t + 1 sends back (a named mistake)."""
    T = len(caches)
    dX, steps = [None] * T, [None] * T
    dh_next = np.zeros_like(np.asarray(caches[0][1], dtype=float))
    for t in reversed(range(T)):
        dX[t], dh_prev, steps[t] = step_backward(dH[t] + (dh_next if carry else 0.0), caches[t])
        dh_next = dh_prev
    grads = {key: sum(step[key] for step in steps) for key in RECURRENT}
    return np.stack(dX), dh_next, grads, steps


def bptt_parts(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> dict:
    """Everything a named mistake of bptt needs: each step's cost and output gradients."""
    caches = step_caches(X, h0, params)
    cost, gradient = LOSSES[loss]
    m = X.shape[2]
    costs, outputs, dH = [], [], []
    for cache, y_target in zip(caches, Y, strict=True):
        y = params["W_hy"] @ cache.h + params["b_y"]
        dy = gradient(y, y_target)
        costs.append(cost(y, y_target))
        outputs.append({"W_hy": dy @ cache.h.T / m, "b_y": dy.sum(axis=1, keepdims=True) / m})
        dH.append(params["W_hy"].T @ dy)
    _, _, recurrent, _ = backward(np.stack(dH), caches)
    grads = {**recurrent, **{key: sum(o[key] for o in outputs) for key in OUTPUT}}
    return {
        "grads": grads,
        "cost": float(sum(costs)),
        "h_T": caches[-1].h,
        "costs": costs,
        "outputs": outputs,
    }


def chunked_bptt(
    X: Array,
    Y: Array,
    h0: Array,
    params: Mapping[str, Array],
    loss: str,
    spans: Sequence[tuple[int, int]],
    carry: bool = True,
    add: bool = True,
) -> tuple:
    """(grads, cost, h_T) of BPTT over the chunks X[a:b] for (a, b) in ``spans``, each from
    the state the previous chunk ended in (``carry`` False: from h0), summed (``add``
    False: the last chunk's only). Truncated BPTT, and its named mistakes."""
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    cost, h = 0.0, h0
    for a, b in spans:
        part = bptt_parts(X[a:b], Y[a:b], h if carry else h0, params, loss)
        grads = {key: (grads[key] if add else 0.0) + part["grads"][key] for key in grads}
        cost = (cost if add else 0.0) + part["cost"]
        h = part["h_T"]
    return grads, cost, h


def chunk_spans(T: int, k: int, length: int | None = None) -> list[tuple[int, int]]:
    """The chunks [a, a + length) for a = 0, k, 2k, ... < T (length k unless given)."""
    return [(a, min(a + (k if length is None else length), T)) for a in range(0, T, k)]


# -- stand-ins: the earlier exercises, answered from each call's own arguments -------------


def _refuse(caller: str, called: str, problem: str) -> CheckFailed:
    return CheckFailed(
        f"{caller} called {called} {problem}.\n(While this check runs, a correct {called} "
        f"written for the check stands in for yours, so that a mistake in {called} costs "
        "only its own exercise.)",
        what=f"{caller} called {called} {problem}",
    )


def _array(value: Any, ndim: int) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == ndim


def _params_ok(params: Any, keys: Sequence[str]) -> bool:
    return isinstance(params, Mapping) and all(_array(params.get(k), 2) for k in keys)


def _step_forward_for(caller: str) -> Callable[..., tuple]:
    def rnn_step_forward(x, h_prev, params):
        if not _params_ok(params, RECURRENT):
            raise _refuse(
                caller,
                "rnn_step_forward",
                f"with params = {describe(params)}: "
                "the call is rnn_step_forward(x, h_prev, params)",
            )
        n_h, n_x = params["W_xh"].shape
        if not (_array(x, 2) and x.shape[0] == n_x):
            raise _refuse(
                caller,
                "rnn_step_forward",
                f"with x = {describe(x)}: x is one "
                f"step's inputs X[t], of shape (n_x, m) with n_x = {n_x}",
            )
        if not (_array(h_prev, 2) and h_prev.shape == (n_h, x.shape[1])):
            raise _refuse(
                caller,
                "rnn_step_forward",
                f"with h_prev = {describe(h_prev)}: "
                f"h_prev is the state before the step, of shape (n_h, m) = "
                f"{(n_h, x.shape[1])}",
            )
        h = next_state(x, h_prev, params)
        return h, StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])

    return rnn_step_forward


def _caches_ok(caches: Any) -> bool:
    return (
        isinstance(caches, (list, tuple))
        and len(caches) > 0
        and all(isinstance(c, (list, tuple)) and len(c) == 5 for c in caches)
    )


def _step_backward_for(caller: str) -> Callable[..., tuple]:
    def rnn_step_backward(dh, cache):
        if not (isinstance(cache, (list, tuple)) and len(cache) == 5):
            raise _refuse(
                caller,
                "rnn_step_backward",
                f"with cache = {describe(cache)}: the "
                "call is rnn_step_backward(dh, cache), cache a StepCache",
            )
        if not (_array(dh, 2) and dh.shape == np.shape(cache[2])):
            raise _refuse(
                caller,
                "rnn_step_backward",
                f"with dh = {describe(dh)}: dh is "
                f"∂C/∂h_t, shaped like the step's state, {np.shape(cache[2])}",
            )
        return step_backward(dh, cache)

    return rnn_step_backward


def _forward_for(caller: str) -> Callable[..., tuple]:
    def rnn_forward(X, h0, params):
        if not _params_ok(params, RECURRENT):
            raise _refuse(
                caller,
                "rnn_forward",
                f"with params = {describe(params)}: the call is rnn_forward(X, h0, params)",
            )
        n_h, n_x = params["W_xh"].shape
        if not (_array(X, 3) and X.shape[1] == n_x and X.shape[0] > 0):
            raise _refuse(
                caller,
                "rnn_forward",
                f"with X = {describe(X)}: X is a sequence "
                f"batch of shape (T, n_x, m), T >= 1 and n_x = {n_x}",
            )
        if not (_array(h0, 2) and h0.shape == (n_h, X.shape[2])):
            raise _refuse(
                caller,
                "rnn_forward",
                f"with h0 = {describe(h0)}: h0 is the "
                f"first state, of shape (n_h, m) = {(n_h, X.shape[2])}",
            )
        caches = step_caches(X, h0, params)
        return np.stack([cache.h for cache in caches]), caches

    return rnn_forward


def _backward_for(caller: str) -> Callable[..., tuple]:
    def rnn_backward(dH, caches):
        if not _caches_ok(caches):
            raise _refuse(
                caller,
                "rnn_backward",
                f"with caches = {describe(caches)}: the "
                "call is rnn_backward(dH, caches), one StepCache per step",
            )
        shape = (len(caches), *np.shape(caches[0][2]))
        if not (_array(dH, 3) and dH.shape == shape):
            raise _refuse(
                caller,
                "rnn_backward",
                f"with dH = {describe(dH)}: dH holds what "
                f"the outputs send to h_1 ... h_T, shape (T, n_h, m) = {shape}",
            )
        dX, dh0, grads, _ = backward(dH, caches)
        return dX, dh0, grads

    return rnn_backward


def _bptt_for(caller: str) -> Callable[..., tuple]:
    def bptt(X, Y, h0, params, loss):
        if not _params_ok(params, ALL_KEYS) or loss not in LOSSES:
            raise _refuse(
                caller,
                "bptt",
                f"with params = {describe(params)} and loss = "
                f"{describe(loss)}: the call is bptt(X, Y, h0, params, loss)",
            )
        n_h, n_x = params["W_xh"].shape
        n_y = params["W_hy"].shape[0]
        if not (_array(X, 3) and X.shape[1] == n_x and X.shape[0] > 0):
            raise _refuse(
                caller,
                "bptt",
                f"with X = {describe(X)}: a chunk of the sequence, "
                f"X[start:start + k], of shape (steps, n_x, m) with at least one "
                f"step and n_x = {n_x}",
            )
        T, _, m = X.shape
        if not (_array(Y, 3) and Y.shape == (T, n_y, m)):
            raise _refuse(
                caller,
                "bptt",
                f"with Y = {describe(Y)}: the chunk's targets, "
                f"Y[start:start + k], of shape {(T, n_y, m)} like X's chunk",
            )
        if not (_array(h0, 2) and h0.shape == (n_h, m)):
            raise _refuse(
                caller,
                "bptt",
                f"with h0 = {describe(h0)}: the state the chunk "
                f"starts from, of shape (n_h, m) = {(n_h, m)}",
            )
        part = bptt_parts(X, Y, h0, params, loss)
        return part["grads"], part["cost"], part["h_T"]

    return bptt


# The exercises each exercise may call, directly or through another: all stand in.
CALLS = {
    "rnn_forward": ("rnn_step_forward",),
    "rnn_backward": ("rnn_step_backward",),
    "bptt": ("rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward"),
    "truncated_bptt": ("rnn_step_forward", "rnn_forward", "rnn_step_backward", "rnn_backward",
                       "bptt"),
}  # fmt: skip
MAKERS = {
    "rnn_step_forward": _step_forward_for,
    "rnn_forward": _forward_for,
    "rnn_step_backward": _step_backward_for,
    "rnn_backward": _backward_for,
    "bptt": _bptt_for,
}


def stand_ins(caller: str) -> dict[str, Callable[[object], Callable[..., tuple]]]:
    """Stand-in makers for every earlier exercise ``caller`` may call (for checks.isolating)."""
    made = {name: MAKERS[name](caller) for name in CALLS[caller]}
    return {name: (lambda own, f=f: f) for name, f in made.items()}


# -- inputs ------------------------------------------------------------------------------


def random_params(rng: np.random.Generator, n_x: int, n_h: int, n_y: int = 0) -> dict[str, Array]:
    """Weights and nonzero biases, scaled so that the states spread over (-1, 1)."""
    params = {
        "W_xh": rng.normal(0.0, 0.8, (n_h, n_x)) / np.sqrt(n_x),
        "W_hh": rng.normal(0.0, 0.9, (n_h, n_h)) / np.sqrt(n_h),
        "b_h": rng.normal(0.0, 0.4, (n_h, 1)),
    }
    if n_y:
        params["W_hy"] = rng.normal(0.0, 1.0, (n_y, n_h))
        params["b_y"] = rng.normal(0.0, 0.5, (n_y, 1))
    return params


def random_sequence(rng: np.random.Generator, T: int, n_x: int, n_h: int, m: int) -> tuple:
    """Inputs X (T, n_x, m) and a nonzero first state h0 (n_h, m) inside (-1, 1)."""
    return rng.normal(0.0, 1.0, (T, n_x, m)), np.tanh(rng.normal(0.0, 0.7, (n_h, m)))


def random_targets(rng: np.random.Generator, loss: str, T: int, n_y: int, m: int) -> Array:
    """Targets Y (T, n_y, m): one-hot columns for the softmax cross-entropy, else uniform."""
    if loss == "softmax_cross_entropy":
        return np.eye(n_y)[rng.integers(0, n_y, (T, m))].transpose(0, 2, 1)
    return rng.uniform(-1.0, 1.0, (T, n_y, m))
