"""Visible checks for lesson 04, the four equations: one function per exercise.

Use them as ``check.output_error(output_error)`` after ``from backprop_course.checks
import matrix_form as check``. Their main oracle is Mazur's worked example: he
publishes the network's values and, through his updated weights, every
gradient (∂E/∂w = (w − w_new) / η). Small cases worked by hand complete them,
and for whole networks, centred differences of the cost (``networks``). The
gradient check is checked on a cost whose centred differences are exact: a
quadratic, with numbers that float64 holds exactly. Where an exercise calls
earlier ones, correct stand-ins answer those calls, so each mistake is counted
once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping

import numpy as np

from backprop_course.checking import CheckFailed, Checks, described, first_difference
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
from backprop_course.checks.networks import BCE_NETWORK, NETWORKS, check_networks
from backprop_course.grading import exercise_check
from backprop_course.hints import asker
from backprop_course.stand_ins import answers
from backprop_course.structures import GradientCheck

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]
PUBLISHED = {"rtol": 1e-6, "atol": 1e-9}  # his figures carry 9 to 10 digits

# Mazur's network, exactly in float64: δ of the output units (∂E/∂net_o), and
# the gradients behind his updated weights w5..w8 (layer 2) and w1..w4 (layer 1).
# They round to his published figures (e.g. ∂E/∂w5 = 0.082167041).
MAZUR_DELTA_2 = np.array([[0.138498561629], [-0.038098236517]])
MAZUR_DELTA_1 = np.array([[0.008771354689], [0.009954254705]])
MAZUR_DW2 = np.array([[0.082167040564, 0.082667627848], [-0.022602540477, -0.022740242216]])
MAZUR_DW1 = np.array([[0.000438567734, 0.000877135469], [0.000497712735, 0.000995425471]])
# ∂E/∂out_h (his ∂E_total/∂out_h1 = 0.036350306), and ∂E/∂x one layer further down.
MAZUR_DA1 = np.array([[0.036350306393], [0.041370322649]])
MAZUR_DA0 = np.array([[0.003804266880], [0.004740547349]])
MAZUR_E_TOTAL = 0.298371109
MAZUR_PARAMS = {"W1": MAZUR_W1, "b1": MAZUR_B1, "W2": MAZUR_W2, "b2": MAZUR_B2}
MAZUR_GRADS = {"W1": MAZUR_DW1, "b1": MAZUR_DELTA_1, "W2": MAZUR_DW2, "b2": MAZUR_DELTA_2}
SIGMOIDS = ["sigmoid", "sigmoid"]


def _sigma_prime(z: np.ndarray) -> np.ndarray:
    return logistic(z) * (1.0 - logistic(z))


# -- section 2: checking a gradient ----------------------------------------------------


@exercise_check(
    hints=(
        "Section 2's formula: the Euclidean norm of the difference a − b, divided by the sum of "
        "the two norms ‖a‖ + ‖b‖, or by ε when that sum is smaller. Each norm is of a whole array "
        "flattened, whatever its shape (a column, a matrix, or a plain float), and the answer is "
        "a single Python float between 0 and 1.",
        "np.linalg.norm(np.ravel(...)) is the Euclidean norm of an array of any shape, and of a "
        "float too. Python's max(eps, ...) of the two numbers guards the denominator, so that two "
        "zero arrays give 0 / ε = 0 and not 0/0 = nan. The check expects 0 for equal arrays, √2/2 "
        "for (1, 0) against (0, 1), and 1 for an array against zeros; wrap the result in "
        "float(...).",
    )
)
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


def _relative_error(a: object, b: object, eps: float = 1e-12) -> float:
    """The relative error as section 2 defines it: a stand-in for the student's."""
    diff = np.linalg.norm(np.ravel(np.subtract(a, b)))
    return float(diff / max(eps, np.linalg.norm(np.ravel(a)) + np.linalg.norm(np.ravel(b))))


def _layer_cost(x: np.ndarray, t: np.ndarray) -> Callable[[Mapping[str, np.ndarray]], float]:
    """C(params) = ½‖W x + b − t‖²: a quadratic, so centred differences are exact (up to
    rounding, and with these numbers, all multiples of 1/64, not even that)."""

    def cost(params: Mapping[str, np.ndarray]) -> float:
        r = params["W"] @ x + params["b"] - t
        return float(0.5 * np.sum(r * r))

    return described(cost, "C(params) = ½‖W x + b − t‖²", "cost")


def _differences(
    cost: Callable[[Mapping[str, np.ndarray]], float],
    params: Mapping[str, np.ndarray],
    keys: list[str],
    h: float,
    *,
    one_sided: bool = False,
    restore: bool = True,
) -> dict[str, np.ndarray]:
    """Differences of the cost, entry by entry: centred, or the two mistakes named below."""
    work = {key: np.array(value, dtype=float) for key, value in params.items()}
    found = {}
    for key in keys:
        theta, numeric = work[key], np.zeros(np.shape(work[key]))
        for index in np.ndindex(theta.shape):
            original = theta[index]
            theta[index] = original + h
            up = cost(work)
            theta[index] = original if one_sided else original - h
            down = cost(work)
            if restore:
                theta[index] = original
            numeric[index] = (up - down) / (h if one_sided else 2 * h)
        found[key] = numeric
    return found


def _report(
    analytic: Mapping[str, np.ndarray],
    numeric: Mapping[str, np.ndarray],
    *,
    index: str = "worst",
    floor: bool | None = True,
) -> dict[str, tuple]:
    """What gradient_check reports, or (``index``, ``floor``) what a named mistake reports:
    ``floor`` False divides by |g_i| + |n_i| alone (0 for 0/0), None too (nan for 0/0)."""
    found = {}
    for key, g in analytic.items():
        n = numeric[key]
        size = np.abs(g) + np.abs(n)
        if floor:
            scale = np.maximum(size, max(float(np.mean(size)), 1e-12))
        else:
            scale = size if floor is None else np.maximum(size, 1e-300)
        with np.errstate(all="ignore"):
            errors = np.abs(g - n) / scale
        flat = int(np.argmax(errors))
        if index == "flat":
            where: object = flat
        elif index in ("largest_analytic", "largest_numeric"):
            largest = np.abs(g if index == "largest_analytic" else n)
            where = tuple(int(i) for i in np.unravel_index(int(np.argmax(largest)), g.shape))
        else:
            where = tuple(int(i) for i in np.unravel_index(flat, g.shape))
        worst = float(errors.max()) if index == "flat" else float(errors[where])
        found[key] = GradientCheck(_relative_error(g, n), where, worst)  # type: ignore[arg-type]
    return found


def _gradient_check_variants(
    cost: Callable, params: dict, grads: dict, h: float, numeric: dict
) -> list[tuple[str, object]]:
    """The reports of the named mistakes, for the same call."""
    keys = list(grads)
    found: list[tuple[str, object]] = [
        ("worst_index_flat", _report(grads, numeric, index="flat")),
        ("worst_index_of_largest_gradient", _report(grads, numeric, index="largest_analytic")),
        ("worst_index_of_largest_gradient", _report(grads, numeric, index="largest_numeric")),
        ("entry_error_no_floor", _report(grads, numeric, floor=False)),
        ("entry_error_no_floor", _report(grads, numeric, floor=None)),
        ("one_sided_difference",
         _report(grads, _differences(cost, params, keys, h, one_sided=True))),
        ("perturbation_not_restored",
         _report(grads, _differences(cost, params, keys, h, restore=False))),
    ]  # fmt: skip
    for key, report in list(found):  # the largest gradient's own error, or the largest error
        if key == "worst_index_of_largest_gradient":
            worst = {k: GradientCheck(r, i, max(e, _report(grads, numeric)[k][2]))
                     for k, (r, i, e) in report.items()}  # fmt: skip
            found.append((key, worst))
    return found


def _call_gradient_check(checks: Checks, fn: Function, *args: object) -> object:
    """Call it, and say plainly when it left a perturbation in params or changed grads."""
    _, params, grads, *_ = args
    before = copy.deepcopy((params, grads))
    with checks.isolating(fn, {"relative_error": lambda own: _relative_error}):
        report = checks.call(fn, *args, may_change_inputs=True)
    changed = first_difference(params, before[0])
    checks.require(
        changed is None,
        f"gradient_check changed params{changed} in place: move the entries of a working "
        "copy (or put each one back exactly), and leave the caller's parameters as they were.",
        mistake="perturbation_not_restored",
    )
    changed = first_difference(grads, before[1])
    checks.require(
        changed is None, f"gradient_check changed grads{changed} in place.", "mutated_input"
    )
    return report


def _expect_report(
    checks: Checks, report: object, expected: dict, context: str, variants: list
) -> None:
    """Compare a report; a failure says first on what the check ran."""
    checks.require(
        isinstance(report, Mapping),
        "gradient_check should return a dict {name: GradientCheck(relative_error, "
        f"worst_index, worst_error)}}, got {type(report).__name__}.",
    )
    try:
        checks.expect(report, expected, what="report", variants=variants, atol=1e-12)
    except CheckFailed as failure:
        raise CheckFailed(
            f"{context}:\n{failure}",
            what=f"gradient_check: {failure.what}",
            mistake=failure.mistake,
        ) from None


@exercise_check(
    hints=(
        "For each name in grads, in grads' order, build ĝ, an array shaped like params[name], one "
        "entry at a time: move that entry by +h and by −h in a working copy of all the "
        "parameters, evaluate cost on the copy each time, and put the entry back. Then report "
        "three things per name (section 2): relative_error of the whole arrays g and ĝ, the index "
        "of the entry with the largest e_i, and that e_i.",
        "The slips the check names: a one-sided difference (use (C(θ + h e_i) − C(θ − h e_i)) / "
        "2h); a perturbation not put back (save the original value and write exactly it back; "
        "work in a float copy, np.array(value, dtype=float), so the caller's params never "
        "change); the index of the largest gradient instead of the largest e_i; and no floor "
        "under e_i's denominator, which never drops below the mean of |g_j| + |ĝ_j| over the "
        "array.",
        "np.ndindex(theta.shape) walks through every index of an array of any shape. np.argmax "
        "returns a position in the flattened array: np.unravel_index(position, errors.shape) "
        "turns it into a tuple with one entry per axis, each made a Python int. Give the floor a "
        "tiny minimum, such as max(np.mean(size), 1e-12), so that two all-zero arrays give e_i = "
        "0 rather than 0/0.",
    )
)
def gradient_check(fn: Function) -> None:
    """Per parameter: the relative error of the norms, and the worst entry with its index."""
    checks = Checks("gradient_check")
    # A linear layer with 3 outputs and 4 inputs: r = W x + b − t = (1.25, −0.5, 0), so
    # ∂C/∂W = r xᵀ and ∂C/∂b = r, exactly. "frozen" is a parameter the cost ignores.
    x = np.array([[1.0], [-2.0], [0.5], [1.5]])
    t = np.array([[0.5], [-0.625], [-0.375]])
    params = {
        "W": np.array([[0.5, -0.25, 1.0, 0.0], [0.75, 0.5, -1.5, 0.25], [1.0, 0.5, 0.0, -0.25]]),
        "b": np.array([[0.25], [-0.5], [0.0]]),
        "frozen": np.array([[1.0, -1.0]]),
    }
    cost = _layer_cost(x, t)
    r = params["W"] @ x + params["b"] - t
    exact = {"W": r @ x.T, "b": r, "frozen": np.zeros((1, 2))}
    # Planted: the sign of ∂C/∂W[1, 2] flipped (the largest gradient is elsewhere), a
    # small slip in ∂C/∂b[1], and 2⁻³⁰ where ∂C/∂b[2] is exactly 0.
    grads = {key: value.copy() for key, value in exact.items()}
    grads["W"][1, 2] *= -1.0
    grads["b"][1, 0] += 2.0**-10
    grads["b"][2, 0] = 2.0**-30
    h = 2.0**-6
    report = _call_gradient_check(checks, fn, cost, params, grads, h)
    _expect_report(
        checks,
        report,
        _report(grads, exact),
        "On a layer with C(params) = ½‖W x + b − t‖², h = 2⁻⁶, grads['W'] with one entry of "
        "the wrong sign, grads['b'] with a small slip and grads['frozen'] right (all zero)",
        _gradient_check_variants(cost, params, grads, h, exact),
    )
    # Only some of the parameters, and one wrong entry among 1200 that the norms hide:
    # the relative error of the whole array stays near 1e-3, the entry's error does not.
    rng = np.random.default_rng(4)
    x, t = rng.integers(-8, 9, (40, 1)) / 8, rng.integers(-8, 9, (30, 1)) / 8
    params = {"W": rng.integers(-8, 9, (30, 40)) / 64, "b": rng.integers(-8, 9, (30, 1)) / 8}
    cost = _layer_cost(x, t)
    exact_W = (params["W"] @ x + params["b"] - t) @ x.T
    grads = {"W": exact_W.copy()}
    grads["W"][17, 23] += 0.5
    report = _call_gradient_check(checks, fn, cost, params, grads, h)
    _expect_report(
        checks,
        report,
        _report(grads, {"W": exact_W}),
        "On a layer with C(params) = ½‖W x + b − t‖², h = 2⁻⁶, grads for W alone "
        "(30 × 40, one entry off by 0.5)",
        _gradient_check_variants(cost, params, grads, h, {"W": exact_W}),
    )
    checks.done()


# -- sections 3 to 5: the equations -------------------------------------------------------


@exercise_check(
    hints=(
        "BP1 (section 3): a^L_k depends on z^L_k alone, so in the sum over paths only k = j "
        "survives and δ^L_j = (∂C/∂a^L_j) σ'(z^L_j). δ^L is shaped like z^L, (n_L, 1) or (n_L, "
        "m), and needs no matrix product: ∇_a C is LOSSES[loss].gradient(a_L, y) and σ' is "
        "DERIVATIVES[activation]. One pair is special: a sigmoid output with the binary "
        "cross-entropy (steps 3 and 4).",
        "σ' takes the pre-activation z_L, not the output a_L: the check names σ'(a) and a missing "
        "σ'. For the binary cross-entropy, ∂C/∂a_j = −y_j/a_j + (1 − y_j)/(1 − a_j) = (a_j − "
        "y_j)/(a_j(1 − a_j)), and σ'(z_j) = a_j(1 − a_j): multiply and simplify on paper. "
        "Computed as written, a saturated unit (a rounds to exactly 1 or 0) gives 0/0 or ∞ · 0, "
        "that is nan; keeping σ' after simplifying gives the half squared error's δ^L instead.",
        "A plain if on the two names picks the special case, which returns your simplified δ^L, "
        "in a_L and y alone. Every other pair, softmax_cross_entropy with identity included, "
        "takes the elementwise product (*) of the loss's gradient and σ'(z_L). Mazur's δ² should "
        "come out as (0.13849856, −0.03809824).",
    )
)
def output_error(fn: Function) -> None:
    """BP1: δ^L = ∂C/∂z^L, for every activation and loss, safe where a sigmoid saturates."""
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
    # Binary cross-entropy and a sigmoid output, two examples: σ(0) = 1/2, σ(log 3) = 3/4,
    # and two saturated units (σ(40) rounds to 1, σ(−40) to 4e−18), one of them wrong.
    z = np.array([[0.0, 40.0], [np.log(3.0), -40.0]])
    a = np.array([[0.5, 1.0], [0.75, 0.0]])
    y = np.array([[1.0, 0.0], [0.0, 0.0]])
    with np.errstate(all="ignore"):
        wrt_a = -y / a + (1.0 - y) / (1.0 - a)  # ∂C/∂a, as the given loss computes it
        uncancelled = wrt_a * _sigma_prime(z)
    checks.expect(
        checks.call(fn, a, y, z, "sigmoid", "binary_cross_entropy"),
        np.array([[-0.5, 1.0], [0.75, 0.0]]),
        what='δ^L for "binary_cross_entropy" and a "sigmoid" output, z = (0, log 3) and '
        "(40, −40): a = (1/2, 3/4) and the saturated (1, 0), targets (1, 0) and (0, 0)",
        variants={
            "bce_uncancelled": uncancelled,
            "bce_sigma_prime_kept": (a - y) * _sigma_prime(z),
            "missing_sigma_prime": wrt_a,
        },
    )
    checks.done()


@exercise_check(
    hints=(
        "BP2 (section 4): δ^l_j = (Σ_k W^{l+1}_{kj} δ^{l+1}_k) σ'(z^l_j), where the sum runs over "
        "k, the first index of W^{l+1}, that is down column j. From W_next (n_{l+1}, n_l) and "
        "delta_next (n_{l+1}, 1) the result must land in z's shape, (n_l, 1), or (n_l, m) for a "
        "batch: which product of the two is defined and has that shape?",
        "The sums down the columns are the matrix product (W^{l+1})ᵀ δ^{l+1}, with @ (the "
        "elementwise * broadcasts into a matrix instead); then multiply entry by entry by σ'(z^l) "
        "of this layer, DERIVATIVES[activation](z), as in BP1. Mazur's square 2 × 2 layer accepts "
        "the product without the transpose too, so check numbers, not shapes: his δ^1 is "
        "(0.00877135, 0.00995425).",
    )
)
def hidden_error(fn: Function) -> None:
    """BP2: δ^l from δ^{l+1}, through the weights W^{l+1} and the activation of layer l."""
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


@exercise_check(
    hints=(
        "BP4 (section 5): ∂C/∂W^l_{jk} = δ^l_j a^{l-1}_k, the error at the arrow's head times the "
        "activation at its tail. The result is shaped like W^l, (n_l, n_{l-1}), and you have two "
        "columns, delta (n_l, 1) and a_prev (n_{l-1}, 1): which way of multiplying them, each as "
        "it is or transposed, gives that shape?",
        "A matrix whose entry (j, k) is u_j v_k is the outer product u vᵀ: a column times a row, "
        "(n_l, 1)(1, n_{l-1}), written with @. The column-times-row the other way round gives the "
        "transposed gradient, which Mazur's square layer cannot tell by its shape, and * "
        "multiplies entry by entry instead (the check names both). Entry (1, 1) of Mazur's ∂E/∂W² "
        "is his ∂E/∂w5 = 0.082167041.",
    )
)
def weight_gradient(fn: Function) -> None:
    """BP4: ∂C/∂W^l for one example, shaped like W^l."""
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
        what="∂C/∂W for δ = (1, -2) and a_prev = (3, 0.5, 1)",
    )
    checks.done()


# -- section 6: the layers' backward passes ---------------------------------------------


@exercise_check(
    hints=(
        "An activation a = σ(z) acts entry by entry, so its Jacobian is the diagonal Σ'(z) and "
        "its VJP multiplies entry by entry: the same factor you wrote in BP1 and BP2. da and z "
        "are both (n_l, m) for any m, and dz must be shaped like them.",
        "dz = da ⊙ σ'(z), with σ' from DERIVATIVES[activation] applied to the pre-activation z, "
        "not to σ(z) (the check names both that and a missing σ'). For ReLU it keeps da where z > "
        "0 and gives 0 elsewhere, at z = 0 too; for the identity it equals da.",
    )
)
def activation_backward(fn: Function) -> None:
    """dz = ∂C/∂z from da = ∂C/∂a through a = σ(z), elementwise, any number of columns."""
    checks = Checks("activation_backward")
    checks.expect(
        checks.call(fn, MAZUR_DA1, MAZUR_NET_H, "sigmoid"),
        MAZUR_DELTA_1,
        what="∂E/∂net_h of Mazur's network from ∂E/∂out_h = (0.036350306, 0.041370323)",
        variants={
            "missing_sigma_prime": MAZUR_DA1,
            "sigma_prime_of_a": MAZUR_DA1 * _sigma_prime(MAZUR_OUT_H),
        },
        **PUBLISHED,
    )
    # Three units, two examples: ReLU on both sides of its kink (σ'(0) = 0 in this course).
    da = np.array([[2.0, -1.0], [4.0, 0.5], [-3.0, 1.0]])
    z = np.array([[1.5, -2.0], [0.0, 3.0], [-0.5, 0.25]])
    checks.expect(
        checks.call(fn, da, z, "relu"),
        np.array([[2.0, 0.0], [0.0, 0.5], [0.0, 1.0]]),
        what='dz for "relu", da and z of shape (3, 2)',
        variants={"missing_sigma_prime": da},
    )
    z = np.array([[0.0, 1.0, -2.0]])
    da = np.array([[3.0, -2.0, 0.5]])
    tanh_prime = 1.0 - np.tanh(z) ** 2
    checks.expect(
        checks.call(fn, da, z, "tanh"),
        da * tanh_prime,
        what='dz for "tanh", da and z of shape (1, 3), z = (0, 1, −2)',
        variants={
            "missing_sigma_prime": da,
            "sigma_prime_of_a": da * (1.0 - np.tanh(np.tanh(z)) ** 2),
        },
    )
    checks.expect(
        checks.call(fn, da, z, "identity"),
        da,
        what='dz for "identity" (σ\' = 1), da and z of shape (1, 3)',
    )
    checks.done()


@exercise_check(
    hints=(
        "One dense layer z = W a_prev + b and three gradients from dz = δ^l (section 6): da_prev, "
        "shaped like a_prev (n_{l-1}, 1), the first half of BP2; dW, shaped like W (n_l, "
        "n_{l-1}), BP4; db, shaped like b (n_l, 1), BP3. Unpack the cache first: it is the pair "
        "(a_prev, W).",
        "da_prev is the VJP of the linear map with respect to its input (lesson 03): entry k is "
        "Σ_j W_{jk} δ_j, a sum down column k of W, with no σ' yet (the activation's backward pass "
        "adds it). dW is BP4, so call your weight_gradient, and db is BP3, the error itself as a "
        "new array. Mazur's square layer hides a missing transpose by shape, so compare numbers: "
        "his da_prev is ∂E/∂out_h = (0.036350306, 0.041370323).",
        "Which product of W, or W.T, and dz has the shape (n_{l-1}, n_l)(n_l, 1) → (n_{l-1}, 1)? "
        "For db, dz.copy() has the same numbers in a new array; returning dz itself is the "
        "mistake the check names. Return the tuple in this order: (da_prev, dW, db).",
    )
)
def dense_backward(fn: Function) -> None:
    """(∂C/∂a_prev, ∂C/∂W, ∂C/∂b) of z = W a_prev + b from dz = ∂C/∂z, one example."""
    checks = Checks("dense_backward")
    dz, a_prev = np.array([[1.0], [-2.0]]), np.array([[3.0], [0.5], [1.0]])
    W = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]])
    dW = np.array([[3.0, 0.5, 1.0], [-6.0, -1.0, -2.0]])
    stand_ins = {
        "weight_gradient": answers(
            "weight_gradient", [([MAZUR_DELTA_2, MAZUR_OUT_H], MAZUR_DW2), ([dz, a_prev], dW)]
        )
    }
    with checks.isolating(fn, stand_ins):
        mazur = checks.call(fn, MAZUR_DELTA_2, (MAZUR_OUT_H, MAZUR_W2))
        worked = checks.call(fn, dz, (a_prev, W))
    checks.expect(
        mazur,
        (MAZUR_DA1, MAZUR_DW2, MAZUR_DELTA_2),
        what="(da_prev, dW, db) of Mazur's output layer, dz = δ^2",
        variants=[
            ("transposed", (MAZUR_W2 @ MAZUR_DELTA_2, MAZUR_DW2, MAZUR_DELTA_2)),
            ("transposed", (MAZUR_DA1, MAZUR_DW2.T, MAZUR_DELTA_2)),
            ("elementwise_for_matmul", (MAZUR_DA1, MAZUR_DELTA_2 * MAZUR_OUT_H, MAZUR_DELTA_2)),
        ],
        **PUBLISHED,
    )
    checks.expect(
        worked,
        (np.array([[3.0], [-6.0], [1.0]]), dW, dz),
        what="(da_prev, dW, db) for dz = (1, −2), a_prev = (3, 0.5, 1) and W of shape (2, 3)",
    )
    for result, given, label in ((mazur, MAZUR_DELTA_2, "δ^2"), (worked, dz, "dz = (1, −2)")):
        checks.require(
            not np.shares_memory(result[2], given),
            f"dense_backward({label}, ...) returned dz itself as db: db should be a new array.",
            mistake="aliased_result",
        )
    checks.done()


# -- section 7: backpropagation ----------------------------------------------------------

# Mazur's forward pass as a correct one computes it in float64: the arguments
# backprop passes on. The stand-ins below open to arguments that round like theirs
# (backprop_course.sealed); his 9-digit figures, 1e-9 away, would not always.
FLOAT64_NET_H = MAZUR_W1 @ MAZUR_X + MAZUR_B1
FLOAT64_OUT_H = logistic(FLOAT64_NET_H)
FLOAT64_NET_O = MAZUR_W2 @ FLOAT64_OUT_H + MAZUR_B2
FLOAT64_OUT_O = logistic(FLOAT64_NET_O)


def _mazur_stand_ins() -> dict[str, Callable[[object], object]]:
    """Correct answers, from Mazur's figures, for the calls backprop makes.

    The δs and ∂E/∂out passed on are the stand-ins' own answers, so their
    arguments are his figures; the rest come from the forward pass, in float64.
    """
    output = [FLOAT64_OUT_O, MAZUR_Y, FLOAT64_NET_O, "sigmoid", "half_squared_error"]
    return {
        "output_error": answers("output_error", [(output, MAZUR_DELTA_2)]),
        "dense_backward": answers(
            "dense_backward",
            [
                ([MAZUR_DELTA_2, (FLOAT64_OUT_H, MAZUR_W2)], (MAZUR_DA1, MAZUR_DW2, MAZUR_DELTA_2)),
                ([MAZUR_DELTA_1, (MAZUR_X, MAZUR_W1)], (MAZUR_DA0, MAZUR_DW1, MAZUR_DELTA_1)),
            ],
        ),
        "activation_backward": answers(
            "activation_backward", [([MAZUR_DA1, FLOAT64_NET_H, "sigmoid"], MAZUR_DELTA_1)]
        ),
    }


def grads_and_cost(checks: Checks, result: object, name: str) -> tuple[dict, float]:
    """Split a (grads, cost) result, or fail saying what came instead."""
    checks.require(
        isinstance(result, tuple) and len(result) == 2,
        f"{name} should return a pair (grads, cost), got {type(result).__name__}",
    )
    return result  # type: ignore[return-value]


BACKPROP_USES = ("output_error", "dense_backward", "activation_backward")


@exercise_check(
    hints=(
        "Section 7's steps: one forward pass that keeps the caches; BP1 for δ^L; then for l = L "
        "down to 1, the dense layer's backward pass for layer l and, while l > 1, the "
        "activation's backward pass for layer l − 1, which turns ∂C/∂a^{l-1} into δ^{l-1}. Return "
        "(grads, cost): a new dict with the keys of params, each gradient shaped like its "
        "parameter, and the cost as a float.",
        "Mind the shifted index: layer l is caches[l - 1] and activations[l - 1], and δ^{l-1} "
        "needs the da_prev from layer l's dense backward pass with the z and the activation of "
        "layer l − 1, from caches[l - 2] and activations[l - 2]. BP4 of layer l multiplies δ^l by "
        "a^{l-1}, the cache's a_prev, never by the layer's own output a^l (the check names that). "
        "The cost is LOSSES[loss].cost(a_L, y).",
        "range(L, 0, -1) counts L, ..., 1, with L = len(caches). BP1 wants the last cache's z and "
        "activations[-1]. dense_backward wants the pair (cache.a_prev, cache.W), and three names "
        "on the left of one = unpack what it returns, so its dW and db can go straight into "
        "grads[f'W{l}'] and grads[f'b{l}'].",
    )
)
def backprop(fn: Function) -> None:
    """All gradients of one example: forward, BP1, then each layer's backward pass from L down."""
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
    # Then networks where every index, order and activation shows (one example each),
    # and a sigmoid output with the binary cross-entropy.
    check_networks(checks, fn, 1, BACKPROP_USES, grads_and_cost, (*NETWORKS, BCE_NETWORK))
    checks.done()


# -- section 9: gradient descent ---------------------------------------------------------


@exercise_check(
    hints=(
        "One step moves every parameter against its gradient, p − η ∂C/∂p (section 9). Return a "
        "new dict with all the keys of params; a parameter without an entry in grads is frozen "
        "and comes over unchanged. Neither params nor any of its arrays may change.",
        "Loop over params, not over grads, so that the frozen parameters are kept, and mind the "
        "sign: minus. value - eta * grads[key] is a new array, while params[key] -= ... would "
        "change the caller's array in place. A frozen parameter needs a copy (value.copy()), "
        "since the array itself in the new dict would be shared with params, and the check names "
        "that.",
        "A dict comprehension with a condition does it in one statement, {key: ... if key in "
        "grads else ... for key, value in params.items()}. With Mazur's weight gradients and η = "
        "0.5, his w5 = W2[0, 0] should become 0.35891648.",
    )
)
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
