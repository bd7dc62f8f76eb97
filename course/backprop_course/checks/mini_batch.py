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

from backprop_course.checking import Checks
from backprop_course.checks.forward_pass import MAZUR_OUT_H, MAZUR_X, MAZUR_Y
from backprop_course.checks.matrix_form import (
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
from backprop_course.grading import exercise_check
from backprop_course.replay import answers

Function = Callable[..., object]

DELTA = np.array([[1.0, 3.0], [-2.0, 0.0]])  # two units, a batch of m = 2 columns
A_PREV = np.array([[1.0, -1.0], [0.0, 2.0], [2.0, 1.0]])  # three inputs


@exercise_check
def batch_weight_gradient(fn: Function) -> None:
    """(1/m) Δ^l (A^{l-1})ᵀ."""
    checks = Checks("batch_weight_gradient")
    total = np.array([[-2.0, 6.0, 5.0], [-2.0, 0.0, -4.0]])  # Δ Aᵀ, by hand
    checks.expect(
        checks.call(fn, DELTA, A_PREV),
        total / 2,
        what="(1/m) Δ Aᵀ for Δ of shape (2, 2) and A_prev of shape (3, 2)",
        variants={"missing_1_over_m": total, "doubled_1_over_m": total / 4},
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
    """Correct answers for the calls backprop_batch makes on two copies of Mazur's example."""
    twice = lambda column: np.hstack([column, column])  # noqa: E731
    rtol = 1e-6
    return {
        "batch_weight_gradient": answers(
            "batch_weight_gradient",
            [
                ([twice(MAZUR_DELTA_2), twice(MAZUR_OUT_H)], MAZUR_DW2),
                ([twice(MAZUR_DELTA_1), twice(MAZUR_X)], MAZUR_DW1),
            ],
            rtol,
        ),
        "batch_bias_gradient": answers(
            "batch_bias_gradient",
            [([twice(MAZUR_DELTA_2)], MAZUR_DELTA_2), ([twice(MAZUR_DELTA_1)], MAZUR_DELTA_1)],
            rtol,
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
    with checks.isolating(fn, {"backprop_batch": _constant_gradient}):
        trained, history = checks.call(
            fn, P0, X, Y, ["identity"], "half_squared_error",
            epochs=2, batch_size=4, eta=0.1, momentum=0.5, callback=lambda e, p: seen.append(e),
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
    checks.done()
