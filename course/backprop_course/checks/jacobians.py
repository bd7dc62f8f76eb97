"""Visible checks for lesson 03, Jacobians: one function per exercise.

Use them as ``check.softmax_vjp(softmax_vjp)`` after ``from backprop_course.checks
import jacobians as check``. Their oracles are maps whose Jacobians are known
exactly (linear maps, squares), small examples worked by hand, and invariants
(the rows of softmax's Jacobian sum to zero).
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
def elementwise_vjp(fn: Function) -> None:
    """v (.) sigma'(z), column by column, without the diagonal matrix."""
    checks = Checks("elementwise_vjp")
    z = np.array([[1.0, 0.5], [-2.0, 4.0], [3.0, 0.0]])
    v = np.array([[1.0, 2.0], [0.5, -1.0], [-1.0, 3.0]])
    checks.expect(
        checks.call(fn, v, DOUBLE, z),
        np.array([[2.0, 2.0], [-2.0, -8.0], [-6.0, 0.0]]),
        what="v (.) sigma'(z) with sigma'(z) = 2 z, for a batch of 2 columns",
        variants={"missing_sigma_prime": v},
    )
    checks.done()


@exercise_check
def linear_jacobian_weights(fn: Function) -> None:
    """d(W a)/dW with W flattened row by row: a^T in row i's i-th block."""
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
    """W^T v: the error handed back to the layer's input."""
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
    """v a^T: the gradient with respect to W, summed over the columns of a batch."""
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
    """diag(s) - s s^T with s = softmax(z), for a column z."""
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
    """s (.) (v - s^T v), per column, without the Jacobian."""
    checks = Checks("softmax_vjp")
    z = np.hstack([SOFTMAX_Z, SOFTMAX_Z + 100.0])  # adding a constant changes nothing
    v = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    checks.expect(
        checks.call(fn, v, z),
        np.hstack([SOFTMAX_J[:, [0]], 2.0 * SOFTMAX_J[:, [2]]]),
        what="v^T J for v = e_1 and 2 e_3 at z = log (1, 2, 3) (+ 100 in column 2)",
    )
    checks.done()


@exercise_check
def count_multiply_adds(fn: Function) -> None:
    """Materialised: m n_out n_out n_in; VJP: m n_out n_in."""
    checks = Checks("count_multiply_adds")
    got = checks.call(fn, 256, 784)
    checks.expect(
        tuple(got) if isinstance(got, tuple) else got,
        (256 * 256 * 784, 256 * 784),
        what="(materialised, vjp) for a 784 -> 256 layer, one example",
    )
    got = checks.call(fn, 10, 30, 4)
    checks.expect(
        tuple(got) if isinstance(got, tuple) else got,
        (4 * 10 * 10 * 30, 4 * 10 * 30),
        what="(materialised, vjp) for a 30 -> 10 layer and m = 4 examples",
    )
    checks.require(
        isinstance(got, MultiplyAdds),
        f"count_multiply_adds should return MultiplyAdds(materialised, vjp), "
        f"got {type(got).__name__}",
    )
    checks.done()
