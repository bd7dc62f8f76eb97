"""Visible checks for lesson 06, backpropagation through time: one function per exercise.

Use them as ``check.bptt(bptt)`` after ``from backprop_course.checks import
through_time as check``. Their oracles are this module's own: a step worked by
hand, a small recurrent network written here (a forward pass and the three
losses, nothing else), centred differences of its costs, and identities
(truncated BPTT with k >= T is BPTT; clipping keeps the direction and leaves a
norm of exactly max_norm).

Where an exercise calls earlier ones (``rnn_forward`` calls ``rnn_step_forward``,
``bptt`` calls ``rnn_forward`` and ``rnn_backward``, ...), stand-ins written here
answer those calls while the check runs: each computes the right answer for
the arguments it is given, so a mistake in an earlier exercise costs only that
exercise. No stand-in keeps an answer: each is computed from its call's
arguments.

Sizes differ wherever a transposed matrix or a swapped axis could hide
(n_x, n_h, n_y, m and T), and every check has a case with m = 1 and one with T = 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from backprop_course.checking import CheckFailed, Checks, describe
from backprop_course.grading import exercise_check
from backprop_course.structures import StepCache

Function = Callable[..., object]
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
_LOSSES: dict[str, tuple[Callable[[Array, Array], float], Callable[[Array, Array], Array]]] = {
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


def _state(x: Array, h_prev: Array, params: Mapping[str, Array]) -> Array:
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)."""
    return np.tanh(params["W_hh"] @ h_prev + params["W_xh"] @ x + params["b_h"])


def _states(X: Array, h0: Array, params: Mapping[str, Array], carry: bool = True) -> list[Array]:
    """h_1 ... h_T; with ``carry`` False, every step from h0 (a mistake's states)."""
    states, h = [], h0
    for x in X:
        h = _state(x, h if carry else h0, params)
        states.append(h)
    return states


def _caches(X: Array, h0: Array, params: Mapping[str, Array]) -> list[StepCache]:
    states = _states(X, h0, params)
    starts = [h0, *states[:-1]]
    return [
        StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])
        for x, h_prev, h in zip(X, starts, states, strict=True)
    ]


def _cost(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> float:
    """C = Σ_t (the mean over the batch of the loss of y_t = W_hy h_t + b_y)."""
    cost = _LOSSES[loss][0]
    return sum(
        cost(params["W_hy"] @ h + params["b_y"], y)
        for h, y in zip(_states(X, h0, params), Y, strict=True)
    )


def _centred(f: Callable[[dict[str, Array]], float], arrays: Mapping[str, Array]) -> dict:
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


def _step_back(dh: Array, cache: Sequence[Array], factor: Array | None = None) -> tuple:
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


def _back(dH: Array, caches: Sequence[Sequence[Array]], carry: bool = True) -> tuple:
    """(dX, dh0, grads summed over the steps, each step's grads); ``carry`` False drops the
    gradient that step t + 1 sends back (a named mistake)."""
    T = len(caches)
    dX, steps = [None] * T, [None] * T
    dh_next = np.zeros_like(np.asarray(caches[0][1], dtype=float))
    for t in reversed(range(T)):
        dX[t], dh_prev, steps[t] = _step_back(dH[t] + (dh_next if carry else 0.0), caches[t])
        dh_next = dh_prev
    grads = {key: sum(step[key] for step in steps) for key in RECURRENT}
    return np.stack(dX), dh_next, grads, steps


def _bptt_parts(X: Array, Y: Array, h0: Array, params: Mapping[str, Array], loss: str) -> dict:
    """Everything a named mistake of bptt needs: each step's cost and output gradients."""
    caches = _caches(X, h0, params)
    cost, gradient = _LOSSES[loss]
    m = X.shape[2]
    costs, outputs, dH = [], [], []
    for cache, y_target in zip(caches, Y, strict=True):
        y = params["W_hy"] @ cache.h + params["b_y"]
        dy = gradient(y, y_target)
        costs.append(cost(y, y_target))
        outputs.append({"W_hy": dy @ cache.h.T / m, "b_y": dy.sum(axis=1, keepdims=True) / m})
        dH.append(params["W_hy"].T @ dy)
    _, _, recurrent, _ = _back(np.stack(dH), caches)
    grads = {**recurrent, **{key: sum(o[key] for o in outputs) for key in OUTPUT}}
    return {
        "grads": grads,
        "cost": float(sum(costs)),
        "h_T": caches[-1].h,
        "costs": costs,
        "outputs": outputs,
    }


def _chunked(
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
        part = _bptt_parts(X[a:b], Y[a:b], h if carry else h0, params, loss)
        grads = {key: (grads[key] if add else 0.0) + part["grads"][key] for key in grads}
        cost = (cost if add else 0.0) + part["cost"]
        h = part["h_T"]
    return grads, cost, h


def _spans(T: int, k: int, length: int | None = None) -> list[tuple[int, int]]:
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
        h = _state(x, h_prev, params)
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
        return _step_back(dh, cache)

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
        caches = _caches(X, h0, params)
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
        dX, dh0, grads, _ = _back(dH, caches)
        return dX, dh0, grads

    return rnn_backward


def _bptt_for(caller: str) -> Callable[..., tuple]:
    def bptt(X, Y, h0, params, loss):
        if not _params_ok(params, ALL_KEYS) or loss not in _LOSSES:
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
        part = _bptt_parts(X, Y, h0, params, loss)
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


def _stand_ins(caller: str) -> dict[str, Callable[[object], Callable[..., tuple]]]:
    """Stand-in makers for every earlier exercise ``caller`` may call (for checks.isolating)."""
    made = {name: MAKERS[name](caller) for name in CALLS[caller]}
    return {name: (lambda own, f=f: f) for name, f in made.items()}


# -- inputs ------------------------------------------------------------------------------


def _params(rng: np.random.Generator, n_x: int, n_h: int, n_y: int = 0) -> dict[str, Array]:
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


def _sequence(rng: np.random.Generator, T: int, n_x: int, n_h: int, m: int) -> tuple:
    return rng.normal(0.0, 1.0, (T, n_x, m)), np.tanh(rng.normal(0.0, 0.7, (n_h, m)))


def _targets(rng: np.random.Generator, loss: str, T: int, n_y: int, m: int) -> Array:
    if loss == "softmax_cross_entropy":
        return np.eye(n_y)[rng.integers(0, n_y, (T, m))].transpose(0, 2, 1)
    return rng.uniform(-1.0, 1.0, (T, n_y, m))


def _sizes(**sizes: int) -> str:
    return ", ".join(f"{name} = {value}" for name, value in sizes.items())


def _in_context(context: str, failure: CheckFailed) -> CheckFailed:
    """The failure, told after what the check ran on."""
    text = str(failure)
    return CheckFailed(
        f"{context}:\n{text}", what=f"{context}: {failure.what}", mistake=failure.mistake
    )


def _parts(checks: Checks, result: object, name: str, layout: str, count: int) -> tuple:
    checks.require(
        isinstance(result, (tuple, list)) and len(result) == count,
        f"{name} should return {layout}, got {describe(result)}.",
    )
    return tuple(result)  # type: ignore[arg-type]


def _grads_dict(checks: Checks, grads: object, name: str, keys: Sequence[str]) -> dict:
    checks.require(
        isinstance(grads, Mapping) and set(grads) == set(keys),
        f"{name}'s grads should be a dict with the keys {list(keys)}, got {describe(grads)}.",
    )
    return dict(grads)  # type: ignore[arg-type]


# -- section 1: the forward pass -------------------------------------------------------------

# One step worked by hand: n_x = 3 inputs, n_h = 2 units, m = 4 examples.
HAND_X = np.array([[1.0, 0.0, 2.0, -1.0], [0.0, 1.0, 0.0, 0.5], [1.0, 1.0, 0.0, 2.0]])
HAND_H_PREV = np.array([[0.0, 0.5, -1.0, 1.0], [1.0, 0.0, 0.5, -0.5]])
HAND_PARAMS = {
    "W_xh": np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]]),
    "W_hh": np.array([[0.0, 1.0], [-1.0, 0.5]]),
    "b_h": np.array([[0.5], [-1.0]]),
}
# W_xh x = [[0, -1, 2, -3], [0.5, 2, 1, 0.5]]; W_hh h_prev = [[1, 0, 0.5, -0.5],
# [0.5, -0.5, 1.25, -1.25]]; adding b_h gives the pre-activation:
HAND_Z = np.array([[1.5, -0.5, 3.0, -3.0], [0.0, 0.5, 1.25, -1.75]])


@exercise_check
def rnn_step_forward(fn: Function) -> None:
    """h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h), and the StepCache (x, h_prev, h, W_xh, W_hh)."""
    checks = Checks("rnn_step_forward")
    h = np.tanh(HAND_Z)
    W_xh, W_hh, b_h = HAND_PARAMS["W_xh"], HAND_PARAMS["W_hh"], HAND_PARAMS["b_h"]
    result = _parts(
        checks,
        checks.call(fn, *copy.deepcopy((HAND_X, HAND_H_PREV, HAND_PARAMS))),
        "rnn_step_forward",
        "a pair (h, cache)",
        2,
    )
    checks.expect(
        result[0],
        h,
        what="h for the step worked by hand (n_x = 3, n_h = 2, m = 4): z = W_hh h_prev + "
        "W_xh x + b_h = [[1.5, -0.5, 3, -3], [0, 0.5, 1.25, -1.75]], h = tanh(z)",
        variants=[
            ("transposed", np.tanh(W_hh.T @ HAND_H_PREV + W_xh @ HAND_X + b_h)),
            ("missing_sigma_prime", HAND_Z),
        ],
    )
    checks.expect(
        result[1],
        StepCache(HAND_X, HAND_H_PREV, h, W_xh, W_hh),
        what="the cache of the step worked by hand, StepCache(x, h_prev, h, W_xh, W_hh)",
    )
    rng = np.random.default_rng(601)
    for n_x, n_h, m in ((5, 3, 1), (2, 4, 6)):
        params = _params(rng, n_x, n_h)
        x, h_prev = rng.normal(0.0, 1.0, (n_x, m)), np.tanh(rng.normal(0.0, 0.8, (n_h, m)))
        result = _parts(
            checks, checks.call(fn, x, h_prev, params), "rnn_step_forward", "a pair (h, cache)", 2
        )
        h = _state(x, h_prev, params)
        where = _sizes(n_x=n_x, n_h=n_h, m=m)
        checks.expect(result[0], h, what=f"h for random x, h_prev and params ({where})")
        checks.expect(
            result[1],
            StepCache(x, h_prev, h, params["W_xh"], params["W_hh"]),
            what=f"the cache StepCache(x, h_prev, h, W_xh, W_hh) ({where})",
        )
    checks.done()


@exercise_check
def rnn_forward(fn: Function) -> None:
    """H[t] = h_{t+1}: each step from the state the previous step computed; one cache per step."""
    checks = Checks("rnn_forward")
    rng = np.random.default_rng(602)
    with checks.isolating(fn, _stand_ins("rnn_forward")):
        for T, n_x, n_h, m in ((4, 3, 5, 2), (3, 4, 2, 1), (1, 2, 4, 3)):
            params = _params(rng, n_x, n_h)
            X, h0 = _sequence(rng, T, n_x, n_h, m)
            result = _parts(
                checks, checks.call(fn, X, h0, params), "rnn_forward", "a pair (H, caches)", 2
            )
            states = _states(X, h0, params)
            H = np.stack(states)
            where = _sizes(T=T, n_x=n_x, n_h=n_h, m=m)
            checks.expect(
                result[0],
                H,
                what=f"H = (h_1, ..., h_T), shape (T, n_h, m), for a random sequence ({where})",
                variants=[
                    ("state_not_carried_forward", np.stack(_states(X, h0, params, carry=False))),
                    ("time_batch_swapped", np.stack(states, axis=1)),
                    ("time_batch_swapped", np.stack(states, axis=2)),
                ],
            )
            checks.expect(
                result[1],
                _caches(X, h0, params),
                what=f"the caches, one StepCache(x_t, h_(t-1), h_t, W_xh, W_hh) per step, "
                f"in order ({where})",
            )
    checks.done()


# -- section 2: the backward pass ------------------------------------------------------------


def _step_case(rng: np.random.Generator, n_x: int, n_h: int, m: int) -> tuple:
    params = _params(rng, n_x, n_h)
    x, h_prev = rng.normal(0.0, 1.0, (n_x, m)), np.tanh(rng.normal(0.0, 0.8, (n_h, m)))
    h = _state(x, h_prev, params)
    cache = StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])
    return params, x, h_prev, cache, rng.normal(0.0, 1.0, (n_h, m))


def _step_expected(params: dict, x: Array, h_prev: Array, dh: Array) -> tuple:
    """(dx, dh_prev, grads) by centred differences of L = Σ dh ⊙ h (the grads over m)."""

    def L(a: Mapping[str, Array]) -> float:
        return float(np.sum(dh * _state(a["x"], a["h_prev"], a)))

    found = _centred(L, {**params, "x": x, "h_prev": h_prev})
    m = dh.shape[1]
    return found["x"], found["h_prev"], {key: found[key] / m for key in RECURRENT}


def _step_mistakes(cache: StepCache, dh: Array) -> dict[str, list]:
    """Per part of the result, the values of the named mistakes."""
    _, h_prev, h, _, W_hh = cache
    m = dh.shape[1]
    right = _step_back(dh, cache)
    tanh_of_h = _step_back(dh, cache, factor=1.0 - np.tanh(h) ** 2)
    no_tanh = _step_back(dh, cache, factor=np.ones_like(h))
    delta = dh * (1.0 - h**2)
    grads = {
        key: [
            ("missing_1_over_m", m * right[2][key]),
            ("doubled_1_over_m", right[2][key] / m),
            ("tanh_prime_of_h", tanh_of_h[2][key]),
            ("missing_sigma_prime", no_tanh[2][key]),
        ]
        for key in RECURRENT
    }
    grads["W_hh"] += [("h_for_h_prev", delta @ h.T / m), ("transposed", h_prev @ delta.T / m)]
    grads["b_h"] += [
        ("bias_wrong_axis", delta.sum(axis=0, keepdims=True) / m),
        ("bias_wrong_axis", delta.mean(axis=0, keepdims=True).T),
    ]
    return {
        "dx": [
            ("tanh_prime_of_h", tanh_of_h[0]),
            ("missing_sigma_prime", no_tanh[0]),
            ("extra_1_over_m", right[0] / m),
        ],
        "dh_prev": [
            ("tanh_prime_of_h", tanh_of_h[1]),
            ("missing_sigma_prime", no_tanh[1]),
            ("transposed", W_hh @ delta),
            ("extra_1_over_m", right[1] / m),
        ],
        **grads,
    }


@exercise_check
def rnn_step_backward(fn: Function) -> None:
    """δ = dh ⊙ (1 − h²); dx = W_xhᵀ δ, dh_prev = W_hhᵀ δ (per example); grads, means over m."""
    checks = Checks("rnn_step_backward")
    rng = np.random.default_rng(603)
    for n_x, n_h, m in ((3, 4, 5), (2, 3, 1), (5, 2, 3)):
        params, x, h_prev, cache, dh = _step_case(rng, n_x, n_h, m)
        result = _parts(
            checks,
            checks.call(fn, dh, cache),
            "rnn_step_backward",
            "a triple (dx, dh_prev, grads)",
            3,
        )
        dx, dh_prev, grads = _step_expected(params, x, h_prev, dh)
        got = _grads_dict(checks, result[2], "rnn_step_backward", RECURRENT)
        mistakes = _step_mistakes(cache, dh)
        context = (
            f"For a step with {_sizes(n_x=n_x, n_h=n_h, m=m)}, against centred differences of "
            "L = Σ dh ⊙ h over its inputs (dx, dh_prev: per example) and over its parameters "
            "(grads: divided by m)"
        )
        try:
            checks.expect(result[0], dx, what="dx", variants=mistakes["dx"], **AGREE)
            checks.expect(result[1], dh_prev, what="dh_prev", variants=mistakes["dh_prev"], **AGREE)
            for key in RECURRENT:
                checks.expect(
                    got[key], grads[key], what=f"grads[{key!r}]", variants=mistakes[key], **AGREE
                )
        except CheckFailed as failure:
            raise _in_context(context, failure) from None
    checks.done()


def _sequence_case(rng: np.random.Generator, T: int, n_x: int, n_h: int, m: int) -> tuple:
    params = _params(rng, n_x, n_h)
    X, h0 = _sequence(rng, T, n_x, n_h, m)
    return params, X, h0, _caches(X, h0, params)


def _backward_expected(params: dict, X: Array, h0: Array, dH: Array) -> tuple:
    """(dX, dh0, grads) by centred differences of L = Σ_t Σ dH[t] ⊙ h_(t+1)."""

    def L(a: Mapping[str, Array]) -> float:
        return float(
            sum(np.sum(d * h) for d, h in zip(dH, _states(a["X"], a["h0"], a), strict=True))
        )

    found = _centred(L, {**params, "X": X, "h0": h0})
    m = X.shape[2]
    return found["X"], found["h0"], {key: found[key] / m for key in RECURRENT}


@exercise_check
def rnn_backward(fn: Function) -> None:
    """dh_t = dH[t] + what step t + 1 sends back; each parameter's gradient summed over steps."""
    checks = Checks("rnn_backward")
    rng = np.random.default_rng(604)
    for T, n_x, n_h, m, last_only in (
        (5, 3, 4, 2, False),
        (1, 2, 4, 3, False),
        (3, 4, 2, 1, False),
        (4, 2, 3, 5, True),
    ):
        params, X, h0, caches = _sequence_case(rng, T, n_x, n_h, m)
        dH = rng.normal(0.0, 1.0, (T, n_h, m))
        if last_only:
            dH[:-1] = 0.0  # only h_T feeds the cost: all else flows back from it
        with checks.isolating(fn, _stand_ins("rnn_backward")):
            result = _parts(
                checks, checks.call(fn, dH, caches), "rnn_backward", "a triple (dX, dh0, grads)", 3
            )
        got = _grads_dict(checks, result[2], "rnn_backward", RECURRENT)
        dX, dh0, grads = _backward_expected(params, X, h0, dH)
        _, _, _, steps = _back(dH, caches)
        no_next = _back(dH, caches, carry=False)
        sizes = _sizes(T=T, n_x=n_x, n_h=n_h, m=m)
        context = (
            f"For {T} step{'s' if T > 1 else ''} ({sizes}"
            + ("; dH zero but at the last step" if last_only else "")
            + "), against centred differences of L = Σ_t Σ dH[t] ⊙ h_(t+1) over X and h0 "
            "(per example) and over the parameters (grads: divided by m)"
        )
        try:
            checks.expect(
                result[0],
                dX,
                what="dX",
                **AGREE,
                variants=[
                    ("missing_dh_next", no_next[0]),
                    ("time_batch_swapped", np.moveaxis(dX, 0, -1)),
                    ("time_batch_swapped", np.moveaxis(dX, 0, 1)),
                ],
            )
            checks.expect(
                result[1], dh0, what="dh0", variants=[("missing_dh_next", no_next[1])], **AGREE
            )
            for key in RECURRENT:
                variants = [
                    ("not_accumulated_over_time", steps[0][key]),
                    ("not_accumulated_over_time", steps[-1][key]),
                    ("missing_dh_next", no_next[2][key]),
                ]
                checks.expect(
                    got[key], grads[key], what=f"grads[{key!r}]", variants=variants, **AGREE
                )
        except CheckFailed as failure:
            raise _in_context(context, failure) from None
    checks.done()


# -- section 3: BPTT -------------------------------------------------------------------------

BPTT_CASES = (  # (T, n_x, n_h, n_y, m, loss): sizes all different within a case
    (4, 3, 5, 2, 6, "softmax_cross_entropy"),
    (1, 2, 3, 4, 5, "half_squared_error"),
    (3, 4, 2, 5, 1, "mean_squared_error"),
    (5, 2, 4, 3, 6, "half_squared_error"),
)


def _bptt_case(
    rng: np.random.Generator, T: int, n_x: int, n_h: int, n_y: int, m: int, loss: str
) -> tuple:
    params = _params(rng, n_x, n_h, n_y)
    X, h0 = _sequence(rng, T, n_x, n_h, m)
    return X, _targets(rng, loss, T, n_y, m), h0, params


def _gradients(X: Array, Y: Array, h0: Array, params: dict, loss: str) -> dict:
    """Every parameter's ∂C/∂p by centred differences of C = Σ_t C_t."""
    return _centred(lambda p: _cost(X, Y, h0, p, loss), params)


def _bptt_mistakes(parts: dict, T: int, m: int) -> dict[str, list]:
    grads, outputs = parts["grads"], parts["outputs"]
    found: dict[str, list] = {}
    for key in ALL_KEYS:
        found[key] = [
            ("missing_1_over_m", m * grads[key]),
            ("doubled_1_over_m", grads[key] / m),
            ("averaged_over_time", grads[key] / T),
        ]
    for key in OUTPUT:
        found[key] = [
            ("not_accumulated_over_time", outputs[-1][key]),
            ("not_accumulated_over_time", outputs[0][key]),
            ("time_batch_swapped", grads[key] * m / T),
            *found[key],
        ]
    found["cost"] = [
        ("averaged_over_time", parts["cost"] / T),
        ("not_accumulated_over_time", parts["costs"][-1]),
    ]
    return found


@exercise_check
def bptt(fn: Function) -> None:
    """All five gradients of C = Σ_t C_t, the cost, and h_T, against centred differences."""
    checks = Checks("bptt")
    rng = np.random.default_rng(605)
    for T, n_x, n_h, n_y, m, loss in BPTT_CASES:
        X, Y, h0, params = _bptt_case(rng, T, n_x, n_h, n_y, m, loss)
        with checks.isolating(fn, _stand_ins("bptt")):
            result = checks.call(fn, X, Y, h0, params, loss)
        grads, cost, h_T = _parts(checks, result, "bptt", "a triple (grads, cost, h_T)", 3)
        got = _grads_dict(checks, grads, "bptt", ALL_KEYS)
        expected = _gradients(X, Y, h0, params, loss)
        mistakes = _bptt_mistakes(_bptt_parts(X, Y, h0, params, loss), T, m)
        context = (
            f"For a sequence batch with {_sizes(T=T, n_x=n_x, n_h=n_h, n_y=n_y, m=m)} and "
            f'"{loss}", against centred differences of C = Σ_t C_t'
        )
        try:
            for key in ALL_KEYS:
                checks.expect(
                    got[key], expected[key], what=f"grads[{key!r}]", variants=mistakes[key], **AGREE
                )
            checks.expect(
                cost, _cost(X, Y, h0, params, loss), what="the cost C", variants=mistakes["cost"]
            )
            checks.expect(h_T, _states(X, h0, params)[-1], what="h_T, the last state")
        except CheckFailed as failure:
            raise _in_context(context, failure) from None
    checks.done()


# -- section 4: truncated BPTT ----------------------------------------------------------------

TRUNCATED_CASES = (  # (T, n_x, n_h, n_y, m, loss, k)
    (7, 2, 4, 5, 6, "half_squared_error", 3),  # chunks of 3, 3 and 1
    (7, 2, 4, 5, 6, "half_squared_error", 1),  # every step alone
    (7, 2, 4, 5, 6, "half_squared_error", 7),  # one chunk: BPTT itself
    (7, 2, 4, 5, 6, "half_squared_error", 10),  # k > T: BPTT itself
    (5, 3, 4, 2, 1, "softmax_cross_entropy", 2),  # m = 1: chunks of 2, 2 and 1
    (1, 4, 3, 2, 5, "mean_squared_error", 2),  # T = 1
)


def _truncated_expected(X: Array, Y: Array, h0: Array, params: dict, loss: str, k: int) -> dict:
    """Σ over the chunks of centred differences of the chunk's cost, each chunk starting
    from the state the sequence has reached (a constant: the gradient is cut there)."""
    states = [h0, *_states(X, h0, params)]
    total = {key: np.zeros_like(value) for key, value in params.items()}
    for a, b in _spans(X.shape[0], k):
        found = _centred(lambda p, a=a, b=b: _cost(X[a:b], Y[a:b], states[a], p, loss), params)
        total = {key: total[key] + found[key] for key in total}
    return total


def _truncated_mistakes(
    X: Array, Y: Array, h0: Array, params: dict, loss: str, k: int
) -> list[tuple[str, tuple]]:
    T = X.shape[0]
    made = [
        ("state_not_carried", _chunked(X, Y, h0, params, loss, _spans(T, k), carry=False)),
        ("not_accumulated_over_time", _chunked(X, Y, h0, params, loss, _spans(T, k), add=False)),
        ("chunk_off_by_one", _chunked(X, Y, h0, params, loss, _spans(T, k + 1))),
        ("chunk_off_by_one", _chunked(X, Y, h0, params, loss, _spans(T, k, k + 1))),
    ]
    if k > 1:
        made += [
            ("chunk_off_by_one", _chunked(X, Y, h0, params, loss, _spans(T, k - 1))),
            ("chunk_off_by_one", _chunked(X, Y, h0, params, loss, _spans(T, k, k - 1))),
        ]
    return made


@exercise_check
def truncated_bptt(fn: Function) -> None:
    """BPTT chunk by chunk (k steps each, the last may be shorter): the state carried through,
    the gradient cut at the boundaries; gradients and costs summed over the chunks."""
    checks = Checks("truncated_bptt")
    rng = np.random.default_rng(606)
    drawn: dict[tuple, tuple] = {}
    for T, n_x, n_h, n_y, m, loss, k in TRUNCATED_CASES:
        if (T, n_x, n_h, n_y, m, loss) not in drawn:  # the same sequence for several k
            drawn[T, n_x, n_h, n_y, m, loss] = _bptt_case(rng, T, n_x, n_h, n_y, m, loss)
        X, Y, h0, params = drawn[T, n_x, n_h, n_y, m, loss]
        with checks.isolating(fn, _stand_ins("truncated_bptt")):
            result = checks.call(fn, X, Y, h0, params, loss, k)
        grads, cost, h_T = _parts(
            checks, result, "truncated_bptt", "a triple (grads, cost, h_T)", 3
        )
        got = _grads_dict(checks, grads, "truncated_bptt", ALL_KEYS)
        mistakes = _truncated_mistakes(X, Y, h0, params, loss, k)
        spans = _spans(T, k)
        chunks = " + ".join(str(b - a) for a, b in spans)
        whole = " (k >= T: one chunk, so BPTT itself)" if k >= T else ""
        context = (
            f"For T = {T} steps in chunks of k = {k} ({chunks}){whole}, "
            f'{_sizes(n_x=n_x, n_h=n_h, n_y=n_y, m=m)}, "{loss}", against centred differences '
            "of each chunk's cost from the state the chunk starts in"
        )
        expected = (
            _truncated_expected(X, Y, h0, params, loss, k)
            if k < T
            else _gradients(X, Y, h0, params, loss)
        )
        try:
            for key in ALL_KEYS:
                variants = [(name, made[0][key]) for name, made in mistakes]
                checks.expect(
                    got[key], expected[key], what=f"grads[{key!r}]", variants=variants, **AGREE
                )
            checks.expect(
                cost,
                _cost(X, Y, h0, params, loss),
                what="the cost (the sum of the "
                "chunks' costs, which is the whole sequence's cost: the state is "
                "carried)",
                variants=[(name, made[1]) for name, made in mistakes],
            )
            checks.expect(
                h_T,
                _states(X, h0, params)[-1],
                what="h_T, the state after the last step",
                variants=[(name, made[2]) for name, made in mistakes],
            )
        except CheckFailed as failure:
            raise _in_context(context, failure) from None
    checks.done()


# -- section 5: clipping ------------------------------------------------------------------------

# Gradients whose global norm is exactly 10: squares summing to 50 + 25 + 25 = 100.
CLIP_GRADS = {
    "W": np.array([[1.0, -2.0, 2.0], [4.0, 0.0, -5.0]]),
    "b": np.array([[3.0], [-4.0], [0.0]]),
    "V": np.array([[2.0, -2.0, 4.0, -1.0]]),
}
CLIP_NORM = 10.0


def _clip_mistakes(grads: Mapping[str, Array], max_norm: float) -> list[tuple[str, object]]:
    squares = sum(float(np.sum(g**2)) for g in grads.values())
    norm = np.sqrt(squares)
    return [
        ("elementwise_clip", {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}),
        (
            "per_array_clip",
            {k: g * max_norm / max(np.sqrt(np.sum(g**2)), max_norm) for k, g in grads.items()},
        ),
        ("clip_without_sqrt", {k: g * max_norm / max(squares, max_norm) for k, g in grads.items()}),
        ("clip_scales_up", {k: g * max_norm / norm for k, g in grads.items()}),
    ]


def _check_clip(checks: Checks, fn: Function, grads: dict, max_norm: float, label: str) -> None:
    grads = copy.deepcopy(grads)  # never the module's own arrays: a student may change them
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    scale = max_norm / max(norm, max_norm)
    result = _parts(
        checks, checks.call(fn, grads, max_norm), "clip_by_global_norm", "a pair (clipped, norm)", 2
    )
    clipped, got_norm = result
    checks.require(
        clipped is not grads,
        "clip_by_global_norm should return a NEW dict of gradients, not the dict it was given.",
    )
    shapes = ", ".join(f"{key} {g.shape}" for key, g in grads.items())
    effect = f"each is multiplied by {scale:.6g}" if scale < 1 else "none changes"
    context = (
        f"For gradients {shapes} ({label}: global norm {norm:.6g}, max_norm = {max_norm:g}, "
        f"so {effect})"
    )
    try:
        checks.expect(
            clipped,
            {key: g * scale for key, g in grads.items()},
            what="the clipped gradients",
            variants=_clip_mistakes(grads, max_norm),
        )
        checks.expect(
            got_norm,
            norm,
            what="the global norm before clipping, sqrt(Σ over all arrays of Σ g²)",
            variants=[("clip_without_sqrt", norm**2)],
        )
    except CheckFailed as failure:
        raise _in_context(context, failure) from None


@exercise_check
def clip_by_global_norm(fn: Function) -> None:
    """One factor, max_norm / max(‖g‖, max_norm), for every array; a new dict, and ‖g‖."""
    checks = Checks("clip_by_global_norm")
    for max_norm, label in (
        (5.0, "above max_norm"),
        (4.0, "above max_norm"),
        (CLIP_NORM, "exactly at max_norm"),
        (25.0, "below max_norm"),
    ):
        _check_clip(checks, fn, CLIP_GRADS, max_norm, label)
    _check_clip(checks, fn, {"W": CLIP_GRADS["W"]}, 2.5, "one array, above max_norm")
    # Random gradients of every rank: the clipped set keeps its direction and has norm max_norm.
    rng = np.random.default_rng(607)
    grads = {
        "W_xh": rng.normal(0.0, 3.0, (4, 3)),
        "W_hh": rng.normal(0.0, 3.0, (4, 4)),
        "b_h": rng.normal(0.0, 3.0, (4, 1)),
        "v": rng.normal(0.0, 3.0, 5),
        "T": rng.normal(0.0, 3.0, (2, 3, 2)),
    }
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    for max_norm in (0.3 * norm, 3.0 * norm):
        _check_clip(checks, fn, grads, max_norm, "random arrays")
    clipped, _ = checks.call(fn, grads, 0.3 * norm)
    after = float(np.sqrt(sum(np.sum(np.asarray(g) ** 2) for g in clipped.values())))
    checks.expect(after, 0.3 * norm, what="the global norm of the clipped gradients (max_norm)")
    checks.done()
