"""Visible checks for lesson 05, mini-batches: one function per exercise.

Use them as ``check.sgd(sgd)`` after ``from backprop_course.checks import
mini_batch as check``. Their oracles: small batches worked by hand, Mazur's
network (a batch of two copies of his example has his gradients), and, for
SGD, a stand-in gradient that never changes, whose updates can be written
down exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_course.checking import CheckFailed, Checks
from backprop_course.checks.forward_pass import MAZUR_X, MAZUR_Y
from backprop_course.checks.matrix_form import (
    FLOAT64_OUT_H,
    MAZUR_DELTA_1,
    MAZUR_DELTA_2,
    MAZUR_DW1,
    MAZUR_DW2,
    MAZUR_E_TOTAL,
    MAZUR_GRADS,
    MAZUR_PARAMS,
    SIGMOIDS,
    grads_and_cost,
)
from backprop_course.checks.networks import check_networks
from backprop_course.grading import exercise_check
from backprop_course.replay import answers

Function = Callable[..., object]

# Two units, a batch of m = 3 columns, four inputs: no two sizes alike, so a
# transposed product or an m taken from the wrong axis cannot give these numbers.
DELTA = np.array([[1.0, 3.0, -1.0], [-2.0, 0.0, 4.0]])
A_PREV = np.array([[1.0, -1.0, 2.0], [0.0, 2.0, 1.0], [2.0, 1.0, 0.0], [-1.0, 3.0, 1.0]])


@exercise_check
def batch_weight_gradient(fn: Function) -> None:
    """(1/m) Δ^l (A^{l-1})ᵀ."""
    checks = Checks("batch_weight_gradient")
    total = np.array([[-4.0, 5.0, 5.0, 7.0], [6.0, 4.0, -4.0, 6.0]])  # Δ Aᵀ, by hand
    checks.expect(
        checks.call(fn, DELTA, A_PREV),
        total / 3,
        what="(1/m) Δ Aᵀ for Δ of shape (2, 3) and A_prev of shape (4, 3)",
        variants={"missing_1_over_m": total, "doubled_1_over_m": total / 9},
    )
    checks.done()


@exercise_check
def batch_bias_gradient(fn: Function) -> None:
    """(1/m) Δ^l 1: the mean over the columns, as an (n_l, 1) column."""
    checks = Checks("batch_bias_gradient")
    Delta = np.array([[1.0, 3.0, 2.0], [-2.0, 0.0, 5.0]])
    checks.expect(
        checks.call(fn, Delta),
        np.array([[2.0], [1.0]]),
        what="(1/m) Δ 1 for Δ of shape (2, 3)",
        variants=[
            ("missing_1_over_m", np.array([[6.0], [3.0]])),
            ("bias_wrong_axis", np.array([[-0.5, 1.5, 3.5]])),
            ("bias_wrong_axis", np.array([[-1.0, 3.0, 7.0]])),
            ("bias_wrong_axis", np.array([[-0.5], [1.5], [3.5]])),
        ],
    )
    checks.done()


def _two_mazur_columns() -> dict[str, Callable[[object], object]]:
    """Correct answers for the calls backprop_batch makes on two copies of Mazur's example.

    The arguments are what a correct answer passes: the forward pass in float64,
    and the δs, which it computes itself, within 1e-11 of the 12-digit figures
    (close enough to open the sealed answers: see backprop_course.sealed).
    """
    twice = lambda column: np.hstack([column, column])  # noqa: E731
    return {
        "batch_weight_gradient": answers(
            "batch_weight_gradient",
            [
                ([twice(MAZUR_DELTA_2), twice(FLOAT64_OUT_H)], MAZUR_DW2),
                ([twice(MAZUR_DELTA_1), twice(MAZUR_X)], MAZUR_DW1),
            ],
        ),
        "batch_bias_gradient": answers(
            "batch_bias_gradient",
            [([twice(MAZUR_DELTA_2)], MAZUR_DELTA_2), ([twice(MAZUR_DELTA_1)], MAZUR_DELTA_1)],
        ),
    }


@exercise_check
def backprop_batch(fn: Function) -> None:
    """Gradients of the mean cost of a batch, fully matrix-based."""
    checks = Checks("backprop_batch")
    X, Y = np.hstack([MAZUR_X, MAZUR_X]), np.hstack([MAZUR_Y, MAZUR_Y])
    with checks.isolating(fn, _two_mazur_columns()):
        result = checks.call(fn, X, Y, MAZUR_PARAMS, SIGMOIDS, "half_squared_error")
    grads, cost = grads_and_cost(checks, result, "backprop_batch")
    checks.expect(
        grads,
        MAZUR_GRADS,
        what="the gradients for a batch of two copies of Mazur's example (= his gradients)",
        rtol=1e-6,
    )
    checks.expect(
        cost,
        MAZUR_E_TOTAL,
        what="the mean cost of the batch (= his E_total)",
        variants={"missing_1_over_m": 2 * MAZUR_E_TOTAL},
        rtol=1e-6,
    )
    # Then networks where every index, order and activation shows, with m = 3 and m = 1.
    for m in (3, 1):
        check_networks(checks, fn, m, ("batch_weight_gradient", "batch_bias_gradient"),
                       grads_and_cost)  # fmt: skip
    checks.done()


@exercise_check
def evaluate(fn: Function) -> None:
    """(mean cost, accuracy), the prediction being the largest output of each column."""
    checks = Checks("evaluate")
    params = {"W1": np.eye(2), "b1": np.zeros((2, 1))}
    X = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])  # the network outputs X itself
    Y = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # classes 0, 0, 1; predicted 0, 1, 1
    result = checks.call(fn, X, Y, params, ["identity"], "half_squared_error")
    checks.expect(
        tuple(result) if isinstance(result, (tuple, list)) else result,
        (5 / 3, 2 / 3),
        what="(cost, accuracy): half squared errors 0, 1, 4 and 2 of 3 right",
        variants={"missing_1_over_m": (5.0, 2 / 3)},
    )
    # Cross-entropy from the logits, which is not symmetric in its two arguments:
    # columns (1, 0, 0) and (ln 3, 0, 0) with classes 0 and 1 (predicted 0 and 0).
    logits = np.array([[0.0, np.log(3.0)], [0.0, 0.0], [0.0, 0.0]])
    params = {"W1": np.eye(3), "b1": np.zeros((3, 1))}
    result = checks.call(fn, logits, np.eye(3)[:, [0, 1]], params, ["identity"],
                         "softmax_cross_entropy")  # fmt: skip
    checks.expect(
        tuple(result) if isinstance(result, (tuple, list)) else result,
        ((np.log(3.0) + np.log(5.0)) / 2, 1 / 2),
        what="(cost, accuracy) for softmax cross-entropy: −ln(1/3) and −ln(1/5), 1 of 2 right",
        variants={"missing_1_over_m": (np.log(3.0) + np.log(5.0), 1 / 2)},
    )
    checks.done()


# For sgd: a stand-in backprop_batch whose gradient is always G and cost always 1.
G = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
P0 = {"W1": np.array([[0.0, 1.0]]), "b1": np.array([[2.0]])}


def _constant_gradient(own: object) -> Callable[..., tuple[dict, float]]:
    def backprop_batch(X, Y, params, activations, loss):
        return {key: value.copy() for key, value in G.items()}, 1.0

    return backprop_batch


@exercise_check
def sgd(fn: Function) -> None:
    """v <- μ v − η g, p <- p + v, every mini-batch; seeded shuffling; a new dict."""
    checks = Checks("sgd")
    X, Y = np.ones((2, 4)), np.ones((1, 4))
    seen: list[int] = []

    def record_epoch(epoch: int, params: dict) -> None:  # messages name it, not "<lambda>"
        seen.append(epoch)

    with checks.isolating(fn, {"backprop_batch": _constant_gradient}):
        trained, history = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error",
            epochs=2, batch_size=4, eta=0.1, momentum=0.5, callback=record_epoch,
        )  # fmt: skip
        # One batch per epoch: after step 1, p = p0 − η g; after step 2, p − (1 + μ) η g.
        expected = {key: P0[key] - 0.1 * G[key] - 1.5 * 0.1 * G[key] for key in P0}
        without_momentum = {key: P0[key] - 0.2 * G[key] for key in P0}
        checks.expect(
            trained,
            expected,
            what="the parameters after 2 epochs of 1 batch each, η = 0.1, momentum 0.5, "
            "with a gradient g that never changes",
            variants={
                "flipped_sign": {key: 2 * P0[key] - expected[key] for key in P0},
                "missing_momentum": without_momentum,
            },
        )
        checks.expect(
            [tuple(record) for record in history],
            [(1, 1.0), (2, 1.0)],
            what="the history [EpochRecord(epoch, mean cost)] (the stand-in's cost is 1)",
        )
        checks.expect(seen, [1, 2], what="the epochs the callback was called with")
        small, _ = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error", epochs=1, batch_size=1, eta=0.1
        )
        checks.expect(
            small,
            {key: P0[key] - 0.4 * G[key] for key in P0},
            what="the parameters after 1 epoch of 4 batches of 1 column, η = 0.1, no momentum",
        )
    _check_column_dependent(checks, fn)
    checks.done()


# For sgd's second part: a stand-in whose gradient and cost depend on the columns it
# is given and on the parameters, so that the shuffling, the batches, each update and
# the weight of a smaller last batch all show. Row 0 of X names each column (1..7).
M = 7
X_NAMED = np.vstack([np.arange(1.0, M + 1), np.linspace(-1.0, 1.0, M)])
Y_NAMED = np.arange(1.0, M + 1)[None, :] ** 2 / 10
SETTINGS = {"epochs": 3, "batch_size": 3, "eta": 0.1, "momentum": 0.5, "seed": 4}


def _column_gradient(X: np.ndarray, Y: np.ndarray, params: dict) -> tuple[dict, float]:
    """The stand-in's (grads, cost): a made-up model, only its dependence matters."""
    grads = {
        "W1": 0.5 * params["W1"] + X.mean(axis=1)[None, :],
        "b1": 0.5 * params["b1"] + Y.mean(),
    }
    return grads, float(Y.mean() + X[1].sum())


class _Recorder:
    """Stand-in backprop_batch: checks its arguments, records each batch, answers."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.params: list[dict] = []

    def __call__(self, X: object, Y: object, params: object, activations: object, loss: object):
        order = "backprop_batch(X[:, batch], Y[:, batch], params, activations, loss)"
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[0] == 2):
            raise CheckFailed(f"sgd called backprop_batch without a batch of X first: {order}")
        columns = [int(c) - 1 for c in X[0]]  # X[0] holds whole numbers
        if not (isinstance(Y, np.ndarray) and np.array_equal(Y, Y_NAMED[:, columns])):
            raise CheckFailed(f"sgd gave backprop_batch a Y that is not X's columns of Y: {order}")
        in_place = activations == ["identity"] and loss == "half_squared_error"
        if not isinstance(params, dict) or not in_place:
            raise CheckFailed(f"sgd called backprop_batch with its arguments out of order: {order}")
        self.batches.append(columns)
        self.params.append({key: np.array(value, copy=True) for key, value in params.items()})
        return _column_gradient(X, Y, params)


def _expected_batches(m: int, epochs: int, batch_size: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)  # one generator for the whole run
    batches = []
    for _ in range(epochs):
        order = rng.permutation(m)
        batches += [order[s : s + batch_size].tolist() for s in range(0, m, batch_size)]
    return batches


def _check_column_dependent(checks: Checks, fn: Function) -> None:
    """Shuffled batches of 3, 3 and 1 over 3 epochs, momentum 0.5, a gradient that moves."""
    recorder, handed = _Recorder(), []

    def record_epoch(epoch: int, params: dict) -> None:
        handed.append((epoch, {key: np.array(v, copy=True) for key, v in params.items()}))

    with checks.isolating(fn, {"backprop_batch": lambda own: recorder}):
        trained, history = checks.call(
            fn, P0, X_NAMED, Y_NAMED, ["identity"], "half_squared_error",
            callback=record_epoch, **SETTINGS,
        )  # fmt: skip
    epochs, size, seed = SETTINGS["epochs"], SETTINGS["batch_size"], SETTINGS["seed"]
    expected_batches = _expected_batches(M, epochs, size, seed)
    same_every_epoch = _expected_batches(M, 1, size, seed) * epochs
    checks.expect(
        recorder.batches,
        expected_batches,
        what=f"the columns of each batch (m = {M}, batch_size = {size}, seed = {seed})",
        variants=[("same_shuffle", same_every_epoch)],
    )
    params, velocity, walked, costs = P0, {k: np.zeros_like(v) for k, v in P0.items()}, [], []
    for columns in expected_batches:
        walked.append(params)
        grads, cost = _column_gradient(X_NAMED[:, columns], Y_NAMED[:, columns], params)
        velocity = {k: SETTINGS["momentum"] * velocity[k] - SETTINGS["eta"] * grads[k]
                    for k in params}  # fmt: skip
        params = {k: params[k] + velocity[k] for k in params}
        costs.append(cost * len(columns))
    checks.expect(recorder.params, walked, what="the parameters each batch's gradient was taken at")
    checks.expect(trained, params, what="the parameters after 3 epochs of batches 3, 3, 1")
    per_epoch = len(expected_batches) // epochs
    means = [sum(costs[e * per_epoch : (e + 1) * per_epoch]) / M for e in range(epochs)]
    checks.expect(
        [tuple(record) for record in history],
        [(e + 1, mean) for e, mean in enumerate(means)],
        what="the history: each epoch's cost is the mean over its 7 examples, each batch's "
        "mean cost weighted by its size (the last batch holds 1 column)",
    )
    checks.expect(
        [epoch for epoch, _ in handed], [1, 2, 3], what="the epochs the callback was called with"
    )
    checks.expect(
        handed[-1][1] if handed else None, params, what="the parameters handed to the callback"
    )
