"""Visible checks for lesson 04, the four equations: one function per exercise.

Use them as ``check.output_error(output_error)`` after ``from backprop_course.checks
import matrix_form as check``. Their oracle is Mazur's worked example: he
publishes the network's values and, through his updated weights, every
gradient (∂E/∂w = (w − w_new) / η). Small cases worked by hand complete them.
Where an exercise calls earlier ones, correct stand-ins answer those calls
(from the same numbers), so each mistake is counted once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_course.checking import Checks
from backprop_course.checks.forward_pass import (
    MAZUR_B1,
    MAZUR_B2,
    MAZUR_NET_H,
    MAZUR_NET_O,
    MAZUR_OUT_H,
    MAZUR_OUT_O,
    MAZUR_W1,
    MAZUR_W2,
    MAZUR_X,
    MAZUR_Y,
    logistic,
)
from backprop_course.checks.networks import check_networks
from backprop_course.grading import exercise_check
from backprop_course.replay import answers

Function = Callable[..., object]
PUBLISHED = {"rtol": 1e-6, "atol": 1e-9}  # his figures carry 9 to 10 digits

# Mazur's network, exactly in float64: δ of the output units (∂E/∂net_o), and
# the gradients behind his updated weights w5..w8 (layer 2) and w1..w4 (layer 1).
# They round to his published figures (e.g. ∂E/∂w5 = 0.082167041).
MAZUR_DELTA_2 = np.array([[0.138498561629], [-0.038098236517]])
MAZUR_DELTA_1 = np.array([[0.008771354689], [0.009954254705]])
MAZUR_DW2 = np.array([[0.082167040564, 0.082667627848], [-0.022602540477, -0.022740242216]])
MAZUR_DW1 = np.array([[0.000438567734, 0.000877135469], [0.000497712735, 0.000995425471]])
MAZUR_E_TOTAL = 0.298371109
MAZUR_PARAMS = {"W1": MAZUR_W1, "b1": MAZUR_B1, "W2": MAZUR_W2, "b2": MAZUR_B2}
SIGMOIDS = ["sigmoid", "sigmoid"]


def _sigma_prime(z: np.ndarray) -> np.ndarray:
    return logistic(z) * (1.0 - logistic(z))


@exercise_check
def output_error(fn: Function) -> None:
    """BP1: δ^L = ∇_a C ⊙ σ'(z^L)."""
    checks = Checks("output_error")
    gradient = MAZUR_OUT_O - MAZUR_Y
    checks.expect(
        checks.call(fn, MAZUR_OUT_O, MAZUR_Y, MAZUR_NET_O, "sigmoid", "half_squared_error"),
        MAZUR_DELTA_2,
        what="δ^2 of Mazur's network (∂E/∂net_o1, ∂E/∂net_o2)",
        variants={
            "missing_sigma_prime": gradient,
            "sigma_prime_of_a": gradient * _sigma_prime(MAZUR_OUT_O),
        },
        **PUBLISHED,
    )
    # Softmax cross-entropy on logits (identity output): δ = softmax(z) − y.
    z = np.log(np.array([[1.0], [2.0], [3.0]]))
    checks.expect(
        checks.call(fn, z, np.array([[0.0], [0.0], [1.0]]), z, "identity", "softmax_cross_entropy"),
        np.array([[1 / 6], [1 / 3], [-1 / 2]]),
        what='δ^L for "softmax_cross_entropy" and an "identity" output, z = log (1, 2, 3)',
    )
    checks.done()


@exercise_check
def hidden_error(fn: Function) -> None:
    """BP2: δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)."""
    checks = Checks("hidden_error")
    back = MAZUR_W2.T @ MAZUR_DELTA_2
    checks.expect(
        checks.call(fn, MAZUR_W2, MAZUR_DELTA_2, MAZUR_NET_H, "sigmoid"),
        MAZUR_DELTA_1,
        what="δ^1 of Mazur's network (∂E/∂net_h1, ∂E/∂net_h2)",
        variants={
            "missing_sigma_prime": back,
            "transposed": (MAZUR_W2 @ MAZUR_DELTA_2) * _sigma_prime(MAZUR_NET_H),
            "elementwise_for_matmul": (MAZUR_W2.T * MAZUR_DELTA_2) * _sigma_prime(MAZUR_NET_H),
        },
        **PUBLISHED,
    )
    # Shapes: 3 units above, 2 here, a batch of 2 columns; identity, so σ' = 1.
    W_next = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
    delta_next = np.array([[1.0, 0.0], [2.0, 1.0], [-1.0, 2.0]])
    checks.expect(
        checks.call(fn, W_next, delta_next, np.zeros((2, 2)), "identity"),
        np.array([[-2.0, 6.0], [-1.0, 1.0]]),
        what="δ^l for W^{l+1} of shape (3, 2), δ^{l+1} of shape (3, 2), identity activation",
    )
    checks.done()


@exercise_check
def bias_gradient(fn: Function) -> None:
    """BP3: ∂C/∂b^l = δ^l, one example."""
    checks = Checks("bias_gradient")
    deltas = (
        (MAZUR_DELTA_2, "Mazur's δ^2"),
        (np.array([[0.5], [-1.0], [2.0]]), "δ = (0.5, -1, 2)"),
        (np.array([[-3.0]]), "δ = (-3), one unit"),
    )
    for delta, label in deltas:
        got = checks.call(fn, delta)
        checks.expect(got, delta, what=f"∂C/∂b for {label}")
        checks.require(
            not np.shares_memory(got, delta),
            f"bias_gradient({label}) returned δ itself: the result should be a new array.",
            mistake="aliased_result",
        )
    checks.done()


@exercise_check
def weight_gradient(fn: Function) -> None:
    """BP4: ∂C/∂W^l = δ^l (a^{l-1})ᵀ, one example."""
    checks = Checks("weight_gradient")
    checks.expect(
        checks.call(fn, MAZUR_DELTA_2, MAZUR_OUT_H),
        MAZUR_DW2,
        what="∂E/∂W^2 of Mazur's network (the gradients of w5, w6, w7, w8)",
        variants={
            "elementwise_for_matmul": MAZUR_DELTA_2 * MAZUR_OUT_H,
            "transposed": MAZUR_OUT_H @ MAZUR_DELTA_2.T,
        },
        **PUBLISHED,
    )
    delta, a_prev = np.array([[1.0], [-2.0]]), np.array([[3.0], [0.5], [1.0]])
    checks.expect(
        checks.call(fn, delta, a_prev),
        np.array([[3.0, 0.5, 1.0], [-6.0, -1.0, -2.0]]),
        what="δ aᵀ for δ = (1, -2) and a_prev = (3, 0.5, 1)",
    )
    checks.done()


@exercise_check
def bp4_shapes(fn: Function) -> None:
    """The shapes of δ^l, (a^{l-1})ᵀ and ∂C/∂W^l."""
    checks = Checks("bp4_shapes")
    for sizes, l in (([784, 30, 10], 2), ([5, 7, 3, 9], 3), ([5, 7, 3, 9], 1)):
        got = checks.call(fn, sizes, l)
        n_l, n_prev = sizes[l], sizes[l - 1]
        expected = {"delta": (n_l, 1), "a_prev_T": (1, n_prev), "dC_dW": (n_l, n_prev)}
        if isinstance(got, dict):
            got = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in got.items()}
        checks.expect(
            got,
            expected,
            what=f"bp4_shapes({sizes}, {l})",
            variants={"transposed": {**expected, "dC_dW": (n_prev, n_l)}},
        )
    checks.done()


# Mazur's forward pass as a correct one computes it in float64: the arguments
# backprop passes on. The stand-ins below open to arguments that round like theirs
# (backprop_course.sealed); his 9-digit figures, 1e-9 away, would not always.
FLOAT64_NET_H = MAZUR_W1 @ MAZUR_X + MAZUR_B1
FLOAT64_OUT_H = logistic(FLOAT64_NET_H)
FLOAT64_NET_O = MAZUR_W2 @ FLOAT64_OUT_H + MAZUR_B2
FLOAT64_OUT_O = logistic(FLOAT64_NET_O)


def _mazur_stand_ins() -> dict[str, Callable[[object], object]]:
    """Correct answers, from Mazur's figures, for the calls backprop makes.

    The δs passed on are the stand-ins' own answers, so their arguments are
    his figures; the rest come from the forward pass, so they are in float64.
    """
    output = [FLOAT64_OUT_O, MAZUR_Y, FLOAT64_NET_O, "sigmoid", "half_squared_error"]
    return {
        "output_error": answers("output_error", [(output, MAZUR_DELTA_2)]),
        "hidden_error": answers(
            "hidden_error", [([MAZUR_W2, MAZUR_DELTA_2, FLOAT64_NET_H, "sigmoid"], MAZUR_DELTA_1)]
        ),
        "weight_gradient": answers(
            "weight_gradient",
            [([MAZUR_DELTA_2, FLOAT64_OUT_H], MAZUR_DW2), ([MAZUR_DELTA_1, MAZUR_X], MAZUR_DW1)],
        ),
        "bias_gradient": answers(
            "bias_gradient",
            [([MAZUR_DELTA_2], MAZUR_DELTA_2), ([MAZUR_DELTA_1], MAZUR_DELTA_1)],
        ),
    }


MAZUR_GRADS = {"W1": MAZUR_DW1, "b1": MAZUR_DELTA_1, "W2": MAZUR_DW2, "b2": MAZUR_DELTA_2}


def grads_and_cost(checks: Checks, result: object, name: str) -> tuple[dict, float]:
    """Split a (grads, cost) result, or fail saying what came instead."""
    checks.require(
        isinstance(result, tuple) and len(result) == 2,
        f"{name} should return a pair (grads, cost), got {type(result).__name__}",
    )
    return result  # type: ignore[return-value]


@exercise_check
def backprop(fn: Function) -> None:
    """All gradients of one example: forward, BP1, then BP4, BP3, BP2 from layer L down."""
    checks = Checks("backprop")
    with checks.isolating(fn, _mazur_stand_ins()):
        result = checks.call(fn, MAZUR_X, MAZUR_Y, MAZUR_PARAMS, SIGMOIDS, "half_squared_error")
    grads, cost = grads_and_cost(checks, result, "backprop")
    a_l_instead = {
        **MAZUR_GRADS,
        "W1": MAZUR_DELTA_1 @ MAZUR_OUT_H.T,
        "W2": MAZUR_DELTA_2 @ MAZUR_OUT_O.T,
    }
    checks.expect(
        grads,
        MAZUR_GRADS,
        what="the gradients of Mazur's network",
        variants={"a_l_for_a_prev": a_l_instead},
        **PUBLISHED,
    )
    checks.expect(cost, MAZUR_E_TOTAL, what="the cost E_total", **PUBLISHED)
    # Then networks where every index, order and activation shows (one example each).
    check_networks(checks, fn, 1, BACKPROP_USES, grads_and_cost)
    checks.done()


BACKPROP_USES = ("output_error", "hidden_error", "weight_gradient", "bias_gradient")


@exercise_check
def gradient_descent_update(fn: Function) -> None:
    """p − η ∂C/∂p, as a new dict; parameters without a gradient are copied."""
    checks = Checks("gradient_descent_update")
    params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([[0.5]])}
    grads = {"W1": np.array([[0.1, -0.2]])}
    updated = checks.call(fn, params, grads, 0.5)
    checks.expect(
        updated,
        {"W1": np.array([[0.95, 2.1]]), "b1": np.array([[0.5]])},
        what="one step with η = 0.5 (b1 has no gradient: it stays)",
        variants={"flipped_sign": {"W1": np.array([[1.05, 1.9]]), "b1": np.array([[0.5]])}},
    )
    checks.require(updated is not params, "gradient_descent_update should return a NEW dict.")
    for key in params:
        checks.require(
            not any(
                np.shares_memory(updated.get(key), given)
                for given in (params[key], *grads.values())
            ),
            f"gradient_descent_update returned params[{key!r}] (or a gradient) itself as "
            f"updated[{key!r}]: every array of the result should be new, even for a parameter "
            "without a gradient.",
            mistake="aliased_result",
        )
    new = checks.call(fn, MAZUR_PARAMS, {"W1": MAZUR_DW1, "W2": MAZUR_DW2}, 0.5)
    checks.expect(
        new["W2"],
        np.array([[0.35891648, 0.408666186], [0.511301270, 0.561370121]]),
        what="Mazur's updated w5, w6, w7, w8 (η = 0.5)",
        **PUBLISHED,
    )
    checks.done()


@exercise_check
def relative_error(fn: Function) -> None:
    """‖a − b‖ / max(ε, ‖a‖ + ‖b‖) with Euclidean norms."""
    checks = Checks("relative_error")
    cases = (
        (np.array([3.0, 4.0]), np.array([3.0, 4.0]), 0.0, "equal arrays"),
        (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.sqrt(2) / 2, "(1, 0) and (0, 1)"),
        (np.zeros((2, 2)), np.zeros((2, 2)), 0.0, "two zero arrays (no 0/0)"),
        (np.array([[3.0], [4.0]]), np.array([[0.0], [0.0]]), 1.0, "a column and zeros"),
    )
    for a, b, expected, label in cases:
        checks.expect(
            checks.call(fn, a, b), expected, what=f"relative_error of {label}", atol=1e-12
        )
    checks.done()
