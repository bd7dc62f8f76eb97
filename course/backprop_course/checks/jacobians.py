"""Visible checks for lesson 03, Jacobians: one function per exercise.

Use them as ``check.softmax_vjp(softmax_vjp)`` after ``from backprop_course.checks
import jacobians as check``. Their oracles are maps whose Jacobians are known
exactly (linear maps, squares), small examples worked by hand, centred
differences of a cost, and invariants (shifting every logit of a column by the
same amount changes nothing, so a gradient with respect to the logits sums to
zero down each column).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_course.checking import Checks, described
from backprop_course.grading import exercise_check
from backprop_course.structures import MultiplyAdds

Function = Callable[..., object]

# A 2 x 3 matrix and inputs for hand-worked examples.
A = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
DOUBLE = described(lambda z: 2.0 * z, "f(z) = 2z")  # the derivative of z ** 2


@exercise_check
def numerical_jacobian(fn: Function) -> None:
    """(f(x + h e_j) - f(x - h e_j)) / 2h, column by column, flattened row by row."""
    checks = Checks("numerical_jacobian")
    x = np.array([[0.3], [-1.2], [2.0]])
    checks.expect(
        checks.call(fn, described(lambda v: A @ v, "f(x) = A x with A of shape (2, 3)"), x),
        A,
        what="the Jacobian of the linear map x -> A x (A of shape (2, 3))",
        rtol=1e-7,
        atol=1e-8,
    )
    # x ** 3 elementwise at 1 and 2 with h = 0.1: centred gives 3 x^2 + h^2, one-sided much more.
    x = np.array([1.0, 2.0])
    checks.expect(
        checks.call(fn, described(lambda v: v**3, "f(x) = x³ (elementwise)"), x, 0.1),
        np.diag([3.01, 12.01]),
        what="the Jacobian of x -> x ** 3 at x = (1, 2) with h = 0.1",
        variants={"one_sided_difference": np.diag([3.31, 12.61])},
        rtol=1e-9,
        atol=1e-9,
    )
    # A (2, 2) input and a (3,) output: J has one column per entry of x, row by row.
    X = np.array([[1.0, 2.0], [3.0, 4.0]])

    def f(M: np.ndarray) -> np.ndarray:
        return np.array([M[0, 0] * M[1, 1], M[0, 1], M[1, 0] ** 2])

    f = described(f, "f(M) = (M₀₀ M₁₁, M₀₁, M₁₀²)")
    checks.expect(
        checks.call(fn, f, X),
        np.array([[4.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 6.0, 0.0]]),
        what="the Jacobian of f(M) = (M00 M11, M01, M10^2) at M = [[1, 2], [3, 4]] "
        "(columns in the order M00, M01, M10, M11)",
        rtol=1e-7,
        atol=1e-8,
    )
    checks.done()


@exercise_check
def elementwise_jacobian(fn: Function) -> None:
    """diag(sigma'(z)) for a column z."""
    checks = Checks("elementwise_jacobian")
    z = np.array([[1.0], [-2.0], [3.0]])
    checks.expect(
        checks.call(fn, DOUBLE, z),
        np.diag([2.0, -4.0, 6.0]),
        what="the Jacobian of z -> z ** 2 (so sigma'(z) = 2 z) at z = (1, -2, 3)",
    )
    checks.done()


@exercise_check
def linear_jacobian_weights(fn: Function) -> None:
    """d(W a)/dW with W flattened row by row, for a wide and a tall W."""
    checks = Checks("linear_jacobian_weights")
    a = np.array([[1.0], [2.0], [3.0]])
    expected = np.array([[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]])
    checks.expect(
        checks.call(fn, A, a),
        expected,
        what="d(W a)/dW for W of shape (2, 3) and a = (1, 2, 3)",
    )
    # A tall W (3, 2): three blocks of n = 2 columns, one per row.
    a = np.array([[-1.0], [4.0]])
    expected = np.array(
        [
            [-1.0, 4.0, 0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, -1.0, 4.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, -1.0, 4.0],
        ]
    )
    checks.expect(
        checks.call(fn, A.T, a),
        expected,
        what="d(W a)/dW for W of shape (3, 2) and a = (-1, 4)",
    )
    checks.done()


@exercise_check
def linear_vjp_input(fn: Function) -> None:
    """dC/da for z = W a + b: one example, then a batch (worked by hand)."""
    checks = Checks("linear_vjp_input")
    v = np.array([[1.0], [2.0]])
    checks.expect(
        checks.call(fn, v, A),
        np.array([[7.0], [-2.0], [-1.5]]),
        what="v^T (dz/da) as a column, for W of shape (2, 3) and v = (1, 2)",
    )
    V = np.array([[1.0, 0.0], [2.0, 1.0]])
    checks.expect(
        checks.call(fn, V, A),
        np.array([[7.0, 3.0], [-2.0, 0.0], [-1.5, -1.0]]),
        what="the same for a batch of 2 columns",
    )
    checks.done()


@exercise_check
def linear_vjp_weights(fn: Function) -> None:
    """dC/dW for z = W a + b: one example, then a batch (worked by hand)."""
    checks = Checks("linear_vjp_weights")
    v = np.array([[1.0], [-2.0]])
    a = np.array([[3.0], [0.5], [1.0]])
    checks.expect(
        checks.call(fn, v, a),
        np.array([[3.0, 0.5, 1.0], [-6.0, -1.0, -2.0]]),
        what="v a^T for v = (1, -2) and a = (3, 0.5, 1)",
    )
    V = np.array([[1.0, 1.0], [-2.0, 0.0]])
    A_batch = np.array([[3.0, 1.0], [0.5, 0.0], [1.0, -1.0]])
    checks.expect(
        checks.call(fn, V, A_batch),
        np.array([[4.0, 0.5, 0.0], [-6.0, -1.0, -2.0]]),
        what="the sum over 2 columns of v a^T",
    )
    checks.done()


# softmax(log (1, 2, 3)) = (1/6, 1/3, 1/2), and its Jacobian diag(s) - s s^T by hand.
SOFTMAX_Z = np.log(np.array([[1.0], [2.0], [3.0]]))
SOFTMAX_J = np.array(
    [[5 / 36, -1 / 18, -1 / 12], [-1 / 18, 2 / 9, -1 / 6], [-1 / 12, -1 / 6, 1 / 4]]
)


@exercise_check
def softmax_jacobian(fn: Function) -> None:
    """The softmax Jacobian at two columns whose probabilities are simple fractions."""
    checks = Checks("softmax_jacobian")
    checks.expect(
        checks.call(fn, np.zeros((2, 1))),
        np.array([[0.25, -0.25], [-0.25, 0.25]]),
        what="the softmax Jacobian at z = (0, 0)",
    )
    checks.expect(
        checks.call(fn, SOFTMAX_Z),
        SOFTMAX_J,
        what="the softmax Jacobian at z = log (1, 2, 3), where s = (1/6, 1/3, 1/2)",
        variants={"missing_diagonal": -np.outer([1 / 6, 1 / 3, 1 / 2], [1 / 6, 1 / 3, 1 / 2])},
    )
    checks.done()


@exercise_check
def softmax_vjp(fn: Function) -> None:
    """v^T J_softmax per column, checked against columns of the Jacobian worked by hand."""
    checks = Checks("softmax_vjp")
    z = np.hstack([SOFTMAX_Z, SOFTMAX_Z + 100.0])  # adding a constant changes nothing
    v = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    checks.expect(
        checks.call(fn, v, z),
        np.hstack([SOFTMAX_J[:, [0]], 2.0 * SOFTMAX_J[:, [2]]]),
        what="v^T J for v = e_1 and 2 e_3 at z = log (1, 2, 3) (+ 100 in column 2)",
    )
    checks.done()


# -- softmax with cross-entropy: the check's own cost and probabilities ------------------


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=0, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


def _total_cross_entropy(z: np.ndarray, y: np.ndarray) -> float:
    """The sum over the columns of -sum_i y_i log softmax(z)_i: its gradient's columns are
    the examples' own gradients."""
    return float(-np.sum(y * _log_softmax(z)))


def _centred_gradient(z: np.ndarray, y: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """The gradient of the total cross-entropy by centred differences, entry by entry."""
    gradient = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = h
        plus, minus = _total_cross_entropy(z + step, y), _total_cross_entropy(z - step, y)
        gradient[index] = (plus - minus) / (2 * h)
    return gradient


def _ce_variants(z: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """What the named mistakes give on (z, y), with logits small enough for every route."""
    s = np.exp(_log_softmax(z))
    rows = np.exp(z - z.max(axis=1, keepdims=True))
    found = {
        "probabilities_not_logits": -y / s,
        "softmax_left_out": z - y,
        "softmax_wrong_axis": rows / rows.sum(axis=1, keepdims=True) - y,
    }
    if z.shape[1] > 1:
        found["extra_1_over_m"] = (s - y) / z.shape[1]
    return found


def _numbers_shaped_like(got: object, like: np.ndarray) -> bool:
    try:
        return np.asarray(got, dtype=float).shape == like.shape
    except (TypeError, ValueError):
        return False


# z = log (1, 2, 3): s = (1/6, 1/3, 1/2). A batch: one-hot, soft and uniform targets.
CE_Z = np.log(np.array([[1.0], [2.0], [3.0]]))
CE_Y = np.array([[0.0], [0.0], [1.0]])
CE_BATCH_Z = np.array([[0.5, -1.2, 2.0], [1.5, 0.3, -0.7], [-2.0, 0.8, 0.1], [0.2, -0.4, 1.1]])
CE_BATCH_Y = np.array([[0.0, 0.1, 0.25], [1.0, 0.6, 0.25], [0.0, 0.0, 0.25], [0.0, 0.3, 0.25]])
# Three columns where the numerics decide. Column 1: logits near 750, where exp overflows
# unless each column's maximum is subtracted first. Column 2: near 750 too, with one class
# 1000 below the others, whose probability underflows to exactly 0 while its target is
# 1/2. Column 3: small logits, which a shift by the largest logit of the whole batch (not
# of the column) sends to exp(-750) = 0.
CE_BIG_Z = np.array(
    [
        [750.0, 750.0, 0.0],
        [750.0 + np.log(2.0), -250.0, 0.0],
        [750.0 + np.log(3.0), 750.0 + np.log(3.0), np.log(2.0)],
    ]
)
CE_BIG_Y = np.array([[0.0, 0.5, 0.0], [1.0, 0.5, 0.0], [0.0, 0.0, 1.0]])
CE_BIG = np.array([[1 / 6, -1 / 4, 1 / 4], [-2 / 3, -1 / 2, 1 / 4], [1 / 2, 3 / 4, -1 / 2]])


def _numerical_mistakes(z: np.ndarray, y: np.ndarray, right: np.ndarray) -> list:
    """What exp without the shift, a shift by the batch's maximum, and a division by s give
    on CE_BIG_Z, column by column."""
    with np.errstate(all="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)
        e = np.exp(z - z.max())
        global_shift = e / e.sum(axis=0, keepdims=True)
    divided = right.copy()
    divided[:, 1] = np.nan
    return [
        ("unstable_softmax", naive - y),
        ("unstable_softmax", global_shift - y),
        ("divided_by_s", divided),
        ("extra_1_over_m", right / z.shape[1]),
    ]


@exercise_check
def softmax_cross_entropy_gradient(fn: Function) -> None:
    """dC/dz for C = -sum y log softmax(z), per column: a column worked by hand, the column
    sums, centred differences of the cost, and logits where exp overflows or a probability
    underflows to 0."""
    checks = Checks("softmax_cross_entropy_gradient")
    checks.expect(
        checks.call(fn, CE_Z, CE_Y),
        np.array([[1 / 6], [1 / 3], [-1 / 2]]),
        what="the gradient for z = log (1, 2, 3), where s = (1/6, 1/3, 1/2), and y one-hot "
        "on the third class",
        variants=_ce_variants(CE_Z, CE_Y),
    )
    got = checks.call(fn, CE_BATCH_Z, CE_BATCH_Y)
    variants = _ce_variants(CE_BATCH_Z, CE_BATCH_Y)
    if _numbers_shaped_like(got, CE_BATCH_Z):  # otherwise the comparison below tells
        checks.expect(
            np.sum(np.asarray(got, dtype=float), axis=0),
            np.zeros(3),
            what="the column sums of the gradient for a batch of 3 examples (adding the same "
            "number to every logit of a column changes no probability, so each column of "
            "dC/dz sums to 0)",
            variants={
                key: value.sum(axis=0) for key, value in variants.items() if key != "extra_1_over_m"
            },
            atol=1e-9,
        )
    checks.expect(
        got,
        _centred_gradient(CE_BATCH_Z, CE_BATCH_Y),
        what="the gradient for a batch of 3 examples (4 classes; one-hot, soft and uniform "
        "targets), against centred differences of the cost",
        variants=variants,
        rtol=1e-6,
        atol=1e-8,
    )
    checks.expect(
        checks.call(fn, CE_BIG_Z, CE_BIG_Y),
        CE_BIG,
        what="the gradient for z = 750 + log (1, 2, 3) with y = e_2 (column 1), "
        "z = 750 + (0, -1000, log 3) with y = (1/2, 1/2, 0), where the second probability "
        "is exactly 0 (column 2), and z = (0, 0, log 2) with y = e_3 (column 3)",
        variants=_numerical_mistakes(CE_BIG_Z, CE_BIG_Y, CE_BIG),
    )
    checks.done()


@exercise_check
def count_multiply_adds(fn: Function) -> None:
    """The counts for the lesson's 784 -> 256 layer, then for a small layer and a batch."""
    checks = Checks("count_multiply_adds")
    got = checks.call(fn, 256, 784)
    checks.expect(
        tuple(got) if isinstance(got, tuple) else got,
        MultiplyAdds(materialised=256 * 256 * 784, vjp=256 * 784),
        what="count_multiply_adds(256, 784), for a 784 -> 256 layer (W of shape (256, 784)) "
        "and one example: the count",
        variants={"swapped_sizes": (784 * 784 * 256, 256 * 784)},
    )
    got = checks.call(fn, 10, 30, 4)
    checks.expect(
        tuple(got) if isinstance(got, tuple) else got,
        MultiplyAdds(materialised=4 * 10 * 10 * 30, vjp=4 * 10 * 30),
        what="count_multiply_adds(10, 30, 4), for a 30 -> 10 layer (W of shape (10, 30)) "
        "and m = 4 examples: the count",
        variants={"swapped_sizes": (4 * 30 * 30 * 10, 4 * 10 * 30)},
    )
    checks.require(
        isinstance(got, MultiplyAdds),
        f"count_multiply_adds should return MultiplyAdds(materialised, vjp), "
        f"got {type(got).__name__}",
    )
    checks.done()
