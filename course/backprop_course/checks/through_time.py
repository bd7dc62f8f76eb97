"""Visible checks for lesson 06, backpropagation through time: one function per exercise.

Use them as ``check.bptt(bptt)`` after ``from backprop_course.checks import
through_time as check``. Their oracles are the checks' own: a step worked by
hand, a small recurrent network written for them in
:mod:`backprop_course.checks.recurrent` (a forward pass and the three losses,
nothing else), centred differences of its costs, and identities
(truncated BPTT with k >= T is BPTT; clipping keeps the direction and leaves a
norm of exactly max_norm).

Where an exercise calls earlier ones (``rnn_forward`` calls ``rnn_step_forward``,
``bptt`` calls ``rnn_forward`` and ``rnn_backward``, ...), stand-ins (in the same
module) answer those calls while the check runs: each computes the right answer for
the arguments it is given, so a mistake in an earlier exercise costs only that
exercise. No stand-in keeps an answer: each is computed from its call's
arguments.

Sizes differ wherever a transposed matrix or a swapped axis could hide
(n_x, n_h, n_y, m and T), and every check has a case with m = 1 and one with T = 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backprop_course.checking import CheckFailed, Checks, describe
from backprop_course.checks import recurrent as rnn
from backprop_course.checks.recurrent import AGREE, ALL_KEYS, OUTPUT, RECURRENT
from backprop_course.grading import exercise_check
from backprop_course.hints import asker
from backprop_course.structures import StepCache

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]
Array = np.ndarray


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


@exercise_check(
    hints=(
        "One step is a dense layer with two inputs followed by tanh (section 2): z_t = W_hh "
        "h_{t-1} + W_xh x_t + b_h, then h_t = tanh(z_t). Check the shapes: W_xh (n_h, n_x) "
        "times x (n_x, m) and W_hh (n_h, n_h) times h_prev (n_h, m) are both (n_h, m), and b_h "
        "(n_h, 1) is added to every column.",
        "W_hh is square, so W_hh.T @ h_prev has the right shape too but the wrong values: write "
        'the products exactly as in z_t, with @ and params["W_hh"] untransposed. The cache '
        "keeps h after the tanh, not z, in the order StepCache(x, h_prev, h, W_xh, W_hh), the "
        "two weight matrices taken from params; change none of the inputs.",
    )
)
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
            ("missing_activation", HAND_Z),
        ],
    )
    checks.expect(
        result[1],
        StepCache(HAND_X, HAND_H_PREV, h, W_xh, W_hh),
        what="the cache of the step worked by hand, StepCache(x, h_prev, h, W_xh, W_hh)",
    )
    rng = np.random.default_rng(601)
    for n_x, n_h, m in ((5, 3, 1), (2, 4, 6)):
        params = rnn.random_params(rng, n_x, n_h)
        x, h_prev = rng.normal(0.0, 1.0, (n_x, m)), np.tanh(rng.normal(0.0, 0.8, (n_h, m)))
        result = _parts(
            checks, checks.call(fn, x, h_prev, params), "rnn_step_forward", "a pair (h, cache)", 2
        )
        h = rnn.next_state(x, h_prev, params)
        where = _sizes(n_x=n_x, n_h=n_h, m=m)
        checks.expect(result[0], h, what=f"h for random x, h_prev and params ({where})")
        checks.expect(
            result[1],
            StepCache(x, h_prev, h, params["W_xh"], params["W_hh"]),
            what=f"the cache StepCache(x, h_prev, h, W_xh, W_hh) ({where})",
        )
    checks.done()


@exercise_check(
    hints=(
        "The sequence is the same step applied T times (section 3): step 1 starts from h0, "
        "and every later step starts from the state the step before it returned. X is "
        "(T, n_x, m) with time first, so X[t] is one (n_x, m) batch; what you return is "
        "(T, n_h, m), the states h_1 to h_T without h0, and a list of T caches.",
        "The check names two mistakes: every step started from h0 (the state is not carried "
        "forward), and the time and batch axes swapped in H. Keep one variable for the current "
        "state and overwrite it with each step's result; stack the states along a new FIRST "
        "axis, and keep the caches in the order of the steps.",
        "Inside a loop over X, h, cache = rnn_step_forward(x, h, params) carries the state, "
        "starting from h = h0; np.stack(states), whose default axis is 0, gives (T, n_h, m). "
        "Print H.shape and len(caches) for the demo of section 3, and make sure T = 1 works.",
    )
)
def rnn_forward(fn: Function) -> None:
    """H[t] = h_{t+1}: each step from the state the previous step computed; one cache per step."""
    checks = Checks("rnn_forward")
    rng = np.random.default_rng(602)
    with checks.isolating(fn, rnn.stand_ins("rnn_forward")):
        for T, n_x, n_h, m in ((4, 3, 5, 2), (3, 4, 2, 1), (1, 2, 4, 3)):
            params = rnn.random_params(rng, n_x, n_h)
            X, h0 = rnn.random_sequence(rng, T, n_x, n_h, m)
            result = _parts(
                checks, checks.call(fn, X, h0, params), "rnn_forward", "a pair (H, caches)", 2
            )
            states = rnn.all_states(X, h0, params)
            H = np.stack(states)
            where = _sizes(T=T, n_x=n_x, n_h=n_h, m=m)
            checks.expect(
                result[0],
                H,
                what=f"H = (h_1, ..., h_T), shape (T, n_h, m), for a random sequence ({where})",
                variants=[
                    (
                        "state_not_carried_forward",
                        np.stack(rnn.all_states(X, h0, params, carry=False)),
                    ),
                    ("time_batch_swapped", np.stack(states, axis=1)),
                    ("time_batch_swapped", np.stack(states, axis=2)),
                ],
            )
            checks.expect(
                result[1],
                rnn.step_caches(X, h0, params),
                what=f"the caches, one StepCache(x_t, h_(t-1), h_t, W_xh, W_hh) per step, "
                f"in order ({where})",
            )
    checks.done()


# -- section 2: the backward pass ------------------------------------------------------------


def _step_case(rng: np.random.Generator, n_x: int, n_h: int, m: int) -> tuple:
    params = rnn.random_params(rng, n_x, n_h)
    x, h_prev = rng.normal(0.0, 1.0, (n_x, m)), np.tanh(rng.normal(0.0, 0.8, (n_h, m)))
    h = rnn.next_state(x, h_prev, params)
    cache = StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])
    return params, x, h_prev, cache, rng.normal(0.0, 1.0, (n_h, m))


def _step_expected(params: dict, x: Array, h_prev: Array, dh: Array) -> tuple:
    """(dx, dh_prev, grads) by centred differences of L = Σ dh ⊙ h (the grads over m)."""

    def L(a: Mapping[str, Array]) -> float:
        return float(np.sum(dh * rnn.next_state(a["x"], a["h_prev"], a)))

    found = rnn.centred_gradients(L, {**params, "x": x, "h_prev": h_prev})
    m = dh.shape[1]
    return found["x"], found["h_prev"], {key: found[key] / m for key in RECURRENT}


def _step_mistakes(cache: StepCache, dh: Array) -> dict[str, list]:
    """Per part of the result, the values of the named mistakes."""
    _, h_prev, h, _, W_hh = cache
    m = dh.shape[1]
    right = rnn.step_backward(dh, cache)
    tanh_of_h = rnn.step_backward(dh, cache, factor=1.0 - np.tanh(h) ** 2)
    no_tanh = rnn.step_backward(dh, cache, factor=np.ones_like(h))
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


@exercise_check(
    hints=(
        "Go back through the step in two stages (section 4.2): first through the tanh, from dh "
        "to δ_t, entry by entry; then through z_t = W_hh h_{t-1} + W_xh x_t + b_h, a batch "
        "dense layer with two inputs, as in lesson 05. Shapes: δ_t and dh_prev (n_h, m), dx "
        "(n_x, m), each gradient like its parameter; which of them get the 1/m of the mean?",
        "tanh'(z_t) = 1 − h_t², written with the h in the cache (1 − tanh(h)² applies tanh "
        "twice). Each input gets the error back through its own weights transposed (W_xhᵀ δ_t, "
        "W_hhᵀ δ_t), per example and not divided by m; each weight gets BP4 with its own input "
        "divided by m (W_hh pairs δ_t with h_{t-1}, not with h_t), and b_h the mean of δ_t's "
        "columns. W_hh is square, so only values catch a transpose or h_t for h_{t-1}: confirm "
        "your formulas in the cell before the exercise.",
        "Unpack the cache with x, h_prev, h, W_xh, W_hh = cache, take m = dh.shape[1], and "
        "start from delta = dh * (1 - h**2). From there each weight's gradient is the formula "
        "of lesson 05's batch_weight_gradient, with delta as Δ and that weight's own input as "
        "A_prev, and b_h's is batch_bias_gradient's (write them out: this notebook does not "
        "define those functions); grads is a new dict with the keys W_xh, W_hh and b_h.",
    )
)
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
    params = rnn.random_params(rng, n_x, n_h)
    X, h0 = rnn.random_sequence(rng, T, n_x, n_h, m)
    return params, X, h0, rnn.step_caches(X, h0, params)


def _backward_expected(params: dict, X: Array, h0: Array, dH: Array) -> tuple:
    """(dX, dh0, grads) by centred differences of L = Σ_t Σ dH[t] ⊙ h_(t+1)."""

    def L(a: Mapping[str, Array]) -> float:
        return float(
            sum(np.sum(d * h) for d, h in zip(dH, rnn.all_states(a["X"], a["h0"], a), strict=True))
        )

    found = rnn.centred_gradients(L, {**params, "X": X, "h0": h0})
    m = X.shape[2]
    return found["X"], found["h0"], {key: found[key] / m for key in RECURRENT}


@exercise_check(
    hints=(
        "Walk backwards in time, t = T−1 down to 0 in Python's counting (section 4.3). The "
        "error reaching state H[t] comes along two paths (section 4.1): dH[t] from its own "
        "output and dh_next from step t + 1, zeros after the last step. The shared parameters "
        "get the sum over the steps of each step's gradients; dX is (T, n_x, m), time first.",
        "The check names these mistakes: dh_next left out (each step hears only its own "
        "output), gradients assigned with = where += belongs (only one step's contribution "
        "survives), and dX with the time and batch axes swapped. The steps already divide by m, "
        "so divide by neither m nor T again, and add without touching dH (dH[t] += ... would "
        "change the caller's array).",
        "The loop body revolves around one call, dX[t], dh_next, step = "
        "rnn_step_backward(dH[t] + dh_next, caches[t]), followed by adding step's three arrays "
        "to the totals. Start the totals at np.zeros_like of the weights in caches[0] (and "
        "(n_h, 1) zeros for b_h), and dX at np.zeros((T, *caches[0].x.shape)) with T = "
        "len(caches); what dh_next holds after the loop is dh0.",
    )
)
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
        with checks.isolating(fn, rnn.stand_ins("rnn_backward")):
            result = _parts(
                checks, checks.call(fn, dH, caches), "rnn_backward", "a triple (dX, dh0, grads)", 3
            )
        got = _grads_dict(checks, result[2], "rnn_backward", RECURRENT)
        dX, dh0, grads = _backward_expected(params, X, h0, dH)
        _, _, _, steps = rnn.backward(dH, caches)
        no_next = rnn.backward(dH, caches, carry=False)
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
    params = rnn.random_params(rng, n_x, n_h, n_y)
    X, h0 = rnn.random_sequence(rng, T, n_x, n_h, m)
    return X, rnn.random_targets(rng, loss, T, n_y, m), h0, params


def _gradients(X: Array, Y: Array, h0: Array, params: dict, loss: str) -> dict:
    """Every parameter's ∂C/∂p by centred differences of C = Σ_t C_t."""
    return rnn.centred_gradients(lambda p: rnn.sequence_cost(X, Y, h0, p, loss), params)


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


@exercise_check(
    hints=(
        "At every step the output y_t = W_hy h_t + b_y is lesson 05's batch dense layer with "
        "an identity activation (section 4.4): its error dy_t is the loss's gradient, it "
        "contributes to the gradients of W_hy and b_y, and it sends W_hyᵀ dy_t back to h_t as "
        "dH[t]. W_hy and b_y are used at every step, so their gradients are sums over t, and C "
        "is the sum of the steps' costs; rnn_backward then does the recurrent part.",
        "The examples are on axis 2: m = X.shape[2] (X.shape[0] is T). ∂C/∂W_hy = (1/m) Σ_t "
        "dy_t h_tᵀ and ∂C/∂b_y = (1/m) Σ_t dy_t 1; nothing is divided by T, and dH[t] stays per "
        "example, not divided by m (rnn_backward's steps divide). Test your two formulas in the "
        "cell before the exercise (my_dW_hy, my_dH) first.",
        "With H, caches = rnn_forward(X, h0, params), each step's dy is "
        'LOSSES[loss].gradient(y, Y[t]) and dH[t] = params["W_hy"].T @ dy. After the loop, '
        "the third result of rnn_backward(dH, caches) holds W_xh, W_hh and b_h: merge it into "
        "your dict; the last state is H[-1].",
    )
)
def bptt(fn: Function) -> None:
    """All five gradients of C = Σ_t C_t, the cost, and h_T, against centred differences."""
    checks = Checks("bptt")
    rng = np.random.default_rng(605)
    for T, n_x, n_h, n_y, m, loss in BPTT_CASES:
        X, Y, h0, params = _bptt_case(rng, T, n_x, n_h, n_y, m, loss)
        with checks.isolating(fn, rnn.stand_ins("bptt")):
            result = checks.call(fn, X, Y, h0, params, loss)
        grads, cost, h_T = _parts(checks, result, "bptt", "a triple (grads, cost, h_T)", 3)
        got = _grads_dict(checks, grads, "bptt", ALL_KEYS)
        expected = _gradients(X, Y, h0, params, loss)
        mistakes = _bptt_mistakes(rnn.bptt_parts(X, Y, h0, params, loss), T, m)
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
                cost,
                rnn.sequence_cost(X, Y, h0, params, loss),
                what="the cost C",
                variants=mistakes["cost"],
            )
            checks.expect(h_T, rnn.all_states(X, h0, params)[-1], what="h_T, the last state")
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
    states = [h0, *rnn.all_states(X, h0, params)]
    total = {key: np.zeros_like(value) for key, value in params.items()}
    for a, b in rnn.chunk_spans(X.shape[0], k):
        found = rnn.centred_gradients(
            lambda p, a=a, b=b: rnn.sequence_cost(X[a:b], Y[a:b], states[a], p, loss), params
        )
        total = {key: total[key] + found[key] for key in total}
    return total


def _truncated_mistakes(
    X: Array, Y: Array, h0: Array, params: dict, loss: str, k: int
) -> list[tuple[str, tuple]]:
    T = X.shape[0]
    made = [
        (
            "state_not_carried",
            rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k), carry=False),
        ),
        (
            "not_accumulated_over_time",
            rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k), add=False),
        ),
        ("chunk_off_by_one", rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k + 1))),
        (
            "chunk_off_by_one",
            rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k, k + 1)),
        ),
    ]
    if k > 1:
        made += [
            (
                "chunk_off_by_one",
                rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k - 1)),
            ),
            (
                "chunk_off_by_one",
                rnn.chunked_bptt(X, Y, h0, params, loss, rnn.chunk_spans(T, k, k - 1)),
            ),
        ]
    return made


@exercise_check(
    hints=(
        "Truncation cuts the gradient, not the forward pass (section 5): each chunk of k steps "
        "is a short sequence for your bptt, and it starts from the state the previous chunk "
        "ended in (h0 for the first). The result adds up the chunks' gradients, key by key, and "
        "their costs; with k >= T there is one chunk, and the answer is bptt's.",
        "The check names three mistakes: every chunk started from h0 (the state not carried), "
        "the totals overwritten instead of added (only the last chunk's gradient left), and "
        "chunks off by one that overlap or skip a step. The chunks are steps start to start + "
        "k − 1 for start = 0, k, 2k, ..., the same slice of X and of Y.",
        "In for start in range(0, T, k), the call grads_k, cost_k, h = bptt(X[start:start + k], "
        "Y[start:start + k], h, params, loss) both uses and updates the state h, which starts "
        "as h0 and ends as h_T. Start the totals at np.zeros_like of each parameter.",
    )
)
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
        with checks.isolating(fn, rnn.stand_ins("truncated_bptt")):
            result = checks.call(fn, X, Y, h0, params, loss, k)
        grads, cost, h_T = _parts(
            checks, result, "truncated_bptt", "a triple (grads, cost, h_T)", 3
        )
        got = _grads_dict(checks, grads, "truncated_bptt", ALL_KEYS)
        mistakes = _truncated_mistakes(X, Y, h0, params, loss, k)
        spans = rnn.chunk_spans(T, k)
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
                rnn.sequence_cost(X, Y, h0, params, loss),
                what="the cost (the sum of the "
                "chunks' costs, which is the whole sequence's cost: the state is "
                "carried)",
                variants=[(name, made[1]) for name, made in mistakes],
            )
            checks.expect(
                h_T,
                rnn.all_states(X, h0, params)[-1],
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


@exercise_check(
    hints=(
        "Treat all the arrays as one long vector g (section 6.3): one norm for the whole set, "
        "and one factor for every array, so the direction of the step stays the same. The "
        "factor only ever shrinks: max_norm / ‖g‖ above max_norm, 1 at or below it. Return a "
        "new dict of new arrays and ‖g‖ measured before clipping.",
        "‖g‖ = sqrt(Σ over the arrays of Σ of their squared entries), one square root at the "
        "very end; the arrays may have any shape, so sum over all their entries. The check "
        "names clipping each entry (np.clip), clipping each array by its own norm, forgetting "
        "the square root and scaling small gradients up; g * factor makes a new array, g *= "
        "factor would change the caller's.",
        "max_norm / max(norm, max_norm) is the factor in one expression: 1 when the norm is "
        "small enough, and never a division by a zero norm. To test, the global norm of what "
        "you return should be min(norm, max_norm), and norm a float.",
    )
)
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
