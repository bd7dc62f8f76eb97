"""Hidden checks for lesson 06, backpropagation through time: one function per exercise.

Non-degenerate by construction under every seed: in the main cases the sizes
n_x, n_h, n_y, m and T are all different (no transposed weight, swapped axis
or misplaced size fits), T >= 3 (an index slip at either end of the sequence
shows), m > 1 (a sum and a mean over the batch differ); beside them a case
with m = 1 and one with T = 1. Sizes stay between 2 and 6 (n_h at most 4 in the
main cases): the stand-ins' recorded results travel in the test cell too. The
recurrent weights are scaled so that the states spread over (-1, 1): neither all
saturated nor all tiny. Every loss appears, the softmax cross-entropy (not
symmetric in its arguments) in the main case. Truncated BPTT gets T not a
multiple of k, k = 1 and k >= T; clipping gets several arrays of different
shapes with a global norm clearly above and clearly below max_norm. Calls of
earlier exercises are answered by recorded stand-ins (see
:mod:`backprop_course.stand_ins`), so one mistake costs one exercise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from backprop_autograder.cases import call_case, unambiguous
from backprop_course.checking import ATOL, RTOL, difference
from backprop_course.structures import StepCache
from backprop_reference import through_time as ref

Rng = np.random.Generator
SIZES = np.arange(2, 7)  # sizes are drawn from 2..6 (small: the recorded calls fill the cell)


# -- drawing the inputs ---------------------------------------------------------------------


def _distinct(rng: Rng, count: int, taken: tuple[int, ...] = (), high: int = 6) -> list[int]:
    """``count`` different sizes from 2..high, none of them in ``taken``."""
    pool = np.array([n for n in SIZES if n not in taken and n <= high])
    return [int(n) for n in rng.choice(pool, size=count, replace=False)]


def _main_sizes(rng: Rng, T: int | None = None) -> tuple[int, int, int, int, int]:
    """(n_x, n_h, n_y, m, T): 2..6 all five different, T in 3..5, n_h at most 4, m >= 2."""
    T = int(rng.choice([3, 4, 5])) if T is None else T
    n_h = int(rng.choice([n for n in (2, 3, 4) if n != T]))
    n_x, n_y, m = _distinct(rng, 3, taken=(T, n_h))
    return n_x, n_h, n_y, m, T


def _params(rng: Rng, n_x: int, n_h: int, n_y: int | None = None) -> dict[str, np.ndarray]:
    """Random parameters, biases not zero; W_hh of spectral radius about 0.9, never symmetric."""
    params = {
        "W_xh": rng.normal(0.0, 1.0, (n_h, n_x)) / np.sqrt(n_x),
        "W_hh": 0.9 * rng.normal(0.0, 1.0, (n_h, n_h)) / np.sqrt(n_h),
        "b_h": rng.normal(0.0, 0.5, (n_h, 1)),
    }
    if n_y is not None:
        params["W_hy"] = rng.normal(0.0, 1.0, (n_y, n_h)) / np.sqrt(n_h)
        params["b_y"] = rng.normal(0.0, 0.5, (n_y, 1))
    return params


def _spread(H: np.ndarray) -> bool:
    """States neither all saturated nor all tiny: 1 - h² and tanh' of h tell apart."""
    size = np.abs(H)
    return bool(np.mean(size > 0.98) < 0.5 and np.mean(size) > 0.15 and np.max(size) > 0.5)


def _sequence(
    rng: Rng, n_x: int, n_h: int, n_y: int | None, m: int, T: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X, h0, params) whose states are spread (drawn again, rarely, until they are)."""
    while True:
        params = _params(rng, n_x, n_h, n_y)
        X = rng.normal(0.0, 1.0, (T, n_x, m))
        h0 = np.tanh(rng.normal(0.0, 1.0, (n_h, m)))
        H, _ = ref.rnn_forward(X, h0, params)
        if _spread(H):
            return X, h0, params


def _targets(rng: Rng, loss: str, n_y: int, m: int, T: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":  # one-hot columns
        return np.stack([np.eye(n_y)[:, rng.integers(0, n_y, size=m)] for _ in range(T)])
    return rng.normal(0.0, 1.0, (T, n_y, m))


def _case(
    function: Callable[..., Any],
    *args: Any,
    variants: Sequence[tuple[str, Any]] | dict[str, Any] = (),
    isolate: Sequence[str] = (),
) -> dict:
    """call_case, keeping only the variants that differ from the right answer on these inputs
    and that no variant of another name could be taken for."""
    expected = function(*copy.deepcopy(args))
    pairs = variants.items() if isinstance(variants, dict) else variants
    wrong = [(key, value) for key, value in pairs
             if difference(value, expected, "", RTOL, ATOL) is not None]  # fmt: skip
    kept = unambiguous(wrong)
    return call_case(function, *args, isolate=isolate, variants=kept)


# -- the forward pass -------------------------------------------------------------------------


def rnn_step_forward(rng: Rng) -> list[dict]:
    """n_x, n_h, m all different (m > 1), twice; then m = 1."""
    cases = []
    for _ in range(2):
        n_x, n_h, m = _distinct(rng, 3)
        cases.append(_step_forward_case(rng, n_x, n_h, m))
    n_x, n_h = _distinct(rng, 2)
    cases.append(_step_forward_case(rng, n_x, n_h, 1))
    return cases


def _step_forward_case(rng: Rng, n_x: int, n_h: int, m: int) -> dict:
    X, h0, params = _sequence(rng, n_x, n_h, None, m, 1)
    x, h_prev = X[0], h0
    W_xh, W_hh, b_h = params["W_xh"], params["W_hh"], params["b_h"]
    h = np.tanh(W_hh.T @ h_prev + W_xh @ x + b_h)
    variants = {"transposed": (h, StepCache(x, h_prev, h, W_xh, W_hh))}
    return _case(ref.rnn_step_forward, x, h_prev, params, variants=variants)


def rnn_forward(rng: Rng) -> list[dict]:
    """All sizes different and T >= 3; m = 1; T = 1. rnn_step_forward answered by stand-ins."""
    n_x, n_h, _, m, T = _main_sizes(rng)
    cases = [_forward_case(rng, n_x, n_h, m, T)]
    n_x, n_h, T = _distinct(rng, 3, high=5)
    cases.append(_forward_case(rng, n_x, n_h, 1, T))
    n_x, n_h, m = _distinct(rng, 3)
    cases.append(_forward_case(rng, n_x, n_h, m, 1))
    return cases


def _forward_case(rng: Rng, n_x: int, n_h: int, m: int, T: int) -> dict:
    X, h0, params = _sequence(rng, n_x, n_h, None, m, T)
    H, caches = ref.rnn_forward(X, h0, params)
    variants: list[tuple[str, object]] = []
    if T > 1:
        from_h0 = [ref.rnn_step_forward(x, h0, params) for x in X]
        variants.append(("state_not_carried_forward",
                         (np.stack([h for h, _ in from_h0]), [c for _, c in from_h0])))  # fmt: skip
    for axis in (1, 2):
        variants.append(("time_batch_swapped", (np.stack(list(H), axis=axis), caches)))
    return _case(ref.rnn_forward, X, h0, params, isolate=["rnn_step_forward"], variants=variants)


# -- the backward pass ------------------------------------------------------------------------


def _step_variants(dh: np.ndarray, cache: StepCache) -> list[tuple[str, object]]:
    """What rnn_step_backward's named mistakes return for (dh, cache)."""
    x, h_prev, h, W_xh, W_hh = cache
    m = dh.shape[1]

    def result(delta: np.ndarray, scale: float = 1.0, state: np.ndarray = h_prev,
               dh_prev: np.ndarray | None = None) -> tuple:  # fmt: skip
        grads = {
            "W_xh": delta @ x.T / m * scale,
            "W_hh": delta @ state.T / m * scale,
            "b_h": delta.sum(axis=1, keepdims=True) / m * scale,
        }
        return W_xh.T @ delta, W_hh.T @ delta if dh_prev is None else dh_prev, grads

    delta = dh * (1.0 - h**2)
    return [
        ("tanh_prime_of_h", result(dh * (1.0 - np.tanh(h) ** 2))),
        ("h_for_h_prev", result(delta, state=h)),
        ("missing_1_over_m", result(delta, scale=m)),
        ("doubled_1_over_m", result(delta, scale=1.0 / m)),
        ("transposed", result(delta, dh_prev=W_hh @ delta)),
    ]


def rnn_step_backward(rng: Rng) -> list[dict]:
    """n_x, n_h, m all different (m > 1), twice; then m = 1. Caches made by the forward pass."""
    cases = []
    for m in (None, None, 1):
        n_x, n_h, drawn = _distinct(rng, 3)
        X, h0, params = _sequence(rng, n_x, n_h, None, m or drawn, 1)
        _, cache = ref.rnn_step_forward(X[0], h0, params)
        dh = rng.normal(0.0, 1.0, h0.shape)
        cases.append(_case(ref.rnn_step_backward, dh, cache, variants=_step_variants(dh, cache)))
    return cases


def _backward_variants(dH: np.ndarray, caches: list) -> list[tuple[str, object]]:
    """rnn_backward with = for += over the steps, and without dh_next."""
    found = []
    for mistake in ("not_accumulated_over_time", "missing_dh_next"):
        dX, grads = np.zeros((len(caches), *caches[0].x.shape)), {}
        dh_next = np.zeros_like(caches[0].h_prev)
        for t in reversed(range(len(caches))):
            arriving = dH[t] if mistake == "missing_dh_next" else dH[t] + dh_next
            dX[t], dh_next, step = ref.rnn_step_backward(arriving, caches[t])
            for key, g in step.items():
                grads[key] = g if mistake == "not_accumulated_over_time" else grads.get(key, 0) + g
        found.append((mistake, (dX, dh_next, grads)))
    return found


def rnn_backward(rng: Rng) -> list[dict]:
    """All sizes different and T >= 3; T = 1; m = 1. rnn_step_backward answered by stand-ins."""
    n_x, n_h, _, m, T = _main_sizes(rng)
    shapes = [(n_x, n_h, m, T)]
    shapes.append((*_distinct(rng, 3), 1))  # T = 1
    n_x, n_h = _distinct(rng, 2, high=5)
    shapes.append((n_x, n_h, 1, int(rng.integers(3, 5))))  # m = 1
    cases = []
    for n_x, n_h, m, T in shapes:
        X, h0, params = _sequence(rng, n_x, n_h, None, m, T)
        _, caches = ref.rnn_forward(X, h0, params)
        dH = rng.normal(0.0, 1.0, (T, n_h, m))
        variants = _backward_variants(dH, caches) if T > 1 else []
        cases.append(_case(ref.rnn_backward, dH, caches, isolate=["rnn_step_backward"],
                               variants=variants))  # fmt: skip
    return cases


# -- BPTT -------------------------------------------------------------------------------------


def _output_layer(X, Y, h0, params, loss, how: str = "", last: tuple[str, ...] = ()):
    """bptt, with the output layer's gradients computed ``how`` a named mistake does, and
    the gradients of ``last`` taken from the last step only (= for +=)."""
    H, caches = ref.rnn_forward(X, h0, params)
    T, _, m = X.shape
    divide = {"missing_1_over_m": 1, "doubled_1_over_m": m * m, "time_batch_swapped": T,
              "dy_over_m": 1}  # fmt: skip
    W_hy, b_y = params["W_hy"], params["b_y"]
    grads = {"W_hy": np.zeros_like(W_hy), "b_y": np.zeros_like(b_y)}
    dH, cost = np.zeros_like(H), 0.0
    for t in range(T):
        y = W_hy @ H[t] + params["b_y"]
        cost += ref.LOSSES[loss].cost(y, Y[t])
        dy = ref.LOSSES[loss].gradient(y, Y[t])
        if how == "mean_over_time":
            dy = dy / T
        if how == "dy_over_m":  # 1/m taken before dy flows back: rnn_backward's 1/m doubles it
            dy = dy / m
        contribution = {"W_hy": dy @ H[t].T / divide.get(how, m),
                        "b_y": dy.sum(axis=1, keepdims=True) / divide.get(how, m)}  # fmt: skip
        for key in grads:
            if key in last:
                grads[key] = contribution[key]
            else:
                grads[key] += contribution[key]
        dH[t] = W_hy.T @ dy
    grads.update(ref.rnn_backward(dH, caches)[2])
    if how == "mean_over_time":
        cost /= T
    return grads, cost, H[-1]


def _bptt_variants(*args: object) -> list[tuple[str, object]]:
    found = [("not_accumulated_over_time", _output_layer(*args, last=last))
             for last in (("W_hy", "b_y"), ("W_hy",), ("b_y",))]  # fmt: skip
    hows = ("missing_1_over_m", "doubled_1_over_m", "time_batch_swapped")
    found += [(how, _output_layer(*args, how=how)) for how in hows]
    found.append(("doubled_1_over_m", _output_layer(*args, how="dy_over_m")))
    found.append(("averaged_over_time", _output_layer(*args, how="mean_over_time")))
    return found


def _bptt_problem(rng: Rng, n_x: int, n_h: int, n_y: int, m: int, T: int, loss: str) -> tuple:
    X, h0, params = _sequence(rng, n_x, n_h, n_y, m, T)
    return X, _targets(rng, loss, n_y, m, T), h0, params, loss


def _losses(rng: Rng) -> list[str]:
    """The three losses in a random order, the softmax cross-entropy first (the main case)."""
    others = [str(s) for s in rng.permutation(["half_squared_error", "mean_squared_error"])]
    return ["softmax_cross_entropy", *others]


def bptt(rng: Rng) -> list[dict]:
    """Every loss: the softmax cross-entropy with all sizes different and T >= 3, the two
    squared errors with m = 1 and with T = 1. rnn_forward and rnn_backward answered by
    stand-ins."""
    first, second, third = _losses(rng)
    n_x, n_h, n_y, m, T = _main_sizes(rng)
    problems = [_bptt_problem(rng, n_x, n_h, n_y, m, T, first)]
    n_x, n_h, n_y = _distinct(rng, 3, high=5)
    problems.append(_bptt_problem(rng, n_x, n_h, n_y, 1, int(rng.integers(3, 5)), second))
    n_x, n_h, n_y, m = _distinct(rng, 4, high=5)
    problems.append(_bptt_problem(rng, n_x, n_h, n_y, m, 1, third))
    return [
        _case(ref.bptt, *problem, isolate=["rnn_forward", "rnn_backward"],
              variants=_bptt_variants(*problem))
        for problem in problems
    ]  # fmt: skip


def _chunked(X, Y, h0, params, loss, k, how: str = ""):
    """truncated_bptt with a named mistake: the state not carried, or = for +=."""
    grads = {key: np.zeros_like(value) for key, value in params.items()}
    cost, h = 0.0, h0
    for start in range(0, X.shape[0], k):
        start_from = h0 if how == "state_not_carried" else h
        chunk_grads, chunk_cost, h = ref.bptt(X[start : start + k], Y[start : start + k],
                                              start_from, params, loss)  # fmt: skip
        if how.startswith("not_accumulated"):
            grads = chunk_grads
        else:
            grads = {key: grads[key] + chunk_grads[key] for key in grads}
        cost = chunk_cost if how == "not_accumulated_cost" else cost + chunk_cost
    return grads, cost, h


def truncated_bptt(rng: Rng) -> list[dict]:
    """T not a multiple of k (k >= 2), k = 1, k = T and k > T; every loss, m = 1 once.
    bptt answered by stand-ins."""
    first, second, third = _losses(rng)
    n_x, n_h, n_y, m, T = _main_sizes(rng, T=5)
    settings = [(n_x, n_h, n_y, m, T, int(rng.choice([2, 3])), first)]  # chunks 2+2+1 or 3+2
    n_x, n_h, n_y, m, T = _main_sizes(rng, T=int(rng.choice([3, 4])))
    settings.append((n_x, n_h, n_y, m, T, 1, second))  # k = 1: every step its own chunk
    n_x, n_h, n_y = _distinct(rng, 3, high=5)
    T = int(rng.integers(2, 5))
    settings.append((n_x, n_h, n_y, 1, T, T, third))  # k = T: bptt itself
    n_x, n_h, n_y, m = _distinct(rng, 4)
    T = int(rng.integers(2, 5))
    settings.append((n_x, n_h, n_y, m, T, T + int(rng.integers(1, 4)), first))  # k > T
    cases = []
    for n_x, n_h, n_y, m, T, k, loss in settings:
        problem = (*_bptt_problem(rng, n_x, n_h, n_y, m, T, loss), k)
        variants = []
        if k < T:
            variants = [(how.removesuffix("_cost"), _chunked(*problem, how=how)) for how in
                        ("state_not_carried", "not_accumulated_over_time",
                         "not_accumulated_cost")]  # fmt: skip
        cases.append(_case(ref.truncated_bptt, *problem, isolate=["bptt"], variants=variants))
    return cases


# -- clipping ---------------------------------------------------------------------------------


def _clip_variants(grads: dict[str, np.ndarray], c: float) -> list[tuple[str, object]]:
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    squared = norm**2
    return [
        ("elementwise_clip", ({k: np.clip(g, -c, c) for k, g in grads.items()}, norm)),
        ("per_array_clip",
         ({k: g * c / max(float(np.linalg.norm(g)), c) for k, g in grads.items()}, norm)),
        ("clip_without_sqrt", ({k: g * c / max(squared, c) for k, g in grads.items()}, squared)),
        ("clip_scales_up", ({k: g * c / norm for k, g in grads.items()}, norm)),
    ]  # fmt: skip


def _gradients(rng: Rng, norm: float) -> dict[str, np.ndarray]:
    """An RNN's five gradients (all shapes different, none square but W_hh), of global ``norm``;
    no array holds most of the norm, so clipping each array on its own differs."""
    n_x, n_h, n_y = _distinct(rng, 3)
    shapes = {"W_xh": (n_h, n_x), "W_hh": (n_h, n_h), "b_h": (n_h, 1), "W_hy": (n_y, n_h),
              "b_y": (n_y, 1)}  # fmt: skip
    return _scaled({key: rng.normal(0.0, 1.0, shape) for key, shape in shapes.items()}, norm)


def _scaled(grads: dict[str, np.ndarray], norm: float) -> dict[str, np.ndarray]:
    """The gradients scaled to the global norm ``norm``."""
    total = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
    return {key: g * (norm / total) for key, g in grads.items()}


def clip_by_global_norm(rng: Rng) -> list[dict]:
    """max_norm never 1; the global norm 2 to 6 times above it, then a third to two thirds of
    it; then a matrix, a column and a 1-D array, above."""
    cases = []
    for ratio in (rng.uniform(2.0, 6.0), rng.uniform(0.3, 0.7)):
        c = round(float(rng.uniform(1.5, 5.0)), 2)
        grads = _gradients(rng, c * ratio)
        cases.append(_case(ref.clip_by_global_norm, grads, c,
                               variants=_clip_variants(grads, c)))  # fmt: skip
    rows, cols, size = _distinct(rng, 3)
    grads = {"W": rng.normal(0.0, 1.0, (rows, cols)), "b": rng.normal(0.0, 1.0, (rows, 1)),
             "v": rng.normal(0.0, 1.0, size)}  # fmt: skip
    c = round(float(rng.uniform(0.2, 0.8)), 2)
    grads = _scaled(grads, c * rng.uniform(2.0, 6.0))
    cases.append(_case(ref.clip_by_global_norm, grads, c, variants=_clip_variants(grads, c)))
    return cases
