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
from backprop_course.hints import asker
from backprop_course.structures import MultiplyAdds

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]

# A 2 x 3 matrix and inputs for hand-worked examples.
A = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
DOUBLE = described(lambda z: 2.0 * z, "f(z) = 2z")  # the derivative of z ** 2


@exercise_check(
    hints=(
        "Column j of the Jacobian says how all k outputs move when the j-th entry of x moves and "
        "nothing else does (section 2). So go through the n entries of x in row-by-row order, "
        "evaluate f just above and just below x in that one entry, and turn the two outputs, "
        "flattened to k numbers each, into column j of a (k, n) array. What are k and n for a "
        "matrix input, or for a function that returns a matrix?",
        "Take the centred difference (f(x + h e_j) − f(x − h e_j)) / 2h with the h you are given "
        "(the check passes h = 0.1 once); the one-sided (f(x + h e_j) − f(x)) / h is the mistake "
        "the check names. Never write into the caller's x: make a float copy, or evaluate f at "
        "new arrays such as x + step. np.ravel turns any output, a column or a matrix, into its k "
        "entries.",
        "Build each step flat and give it x's shape: step = np.zeros(x.size); step[j] = h; step = "
        "step.reshape(x.shape). Collect the n differences in a list and join them with "
        "np.stack(columns, axis=1), so that each becomes a column; without axis=1 they become "
        "rows, and the Jacobian comes out transposed.",
    )
)
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


@exercise_check(
    hints=(
        "Output i of an elementwise map depends on input i alone, so only the diagonal of the (n, "
        "n) Jacobian can be non-zero, and entry [i, i] is σ'(z_i) (section 3). You need the n "
        "numbers sigma_prime(z), laid on the diagonal of an n × n matrix of zeros.",
        "sigma_prime(z) returns an (n, 1) column like z. np.diag builds a diagonal matrix only "
        "from a 1-D array; handed a 2-D array, even an (n, 1) column, it does the opposite and "
        "extracts a diagonal, here a single number. Flatten the column first (np.ravel or [:, 0]) "
        "and print the shape of what you return: it must be (n, n).",
    )
)
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


@exercise_check(
    hints=(
        "The Jacobian has one row per output z_i, k of them, and one column per weight W[p, q], "
        "flattened row by row, k·n of them: shape (k, k·n), with k and n from W.shape. Only the "
        "shape of W matters, not its values. Section 7 says which entries are non-zero: z_i "
        "contains only the weights of row i of W, each multiplied by one entry of a.",
        "Entry [i, p·n + q] is a_q when p = i and 0 otherwise, so row i holds aᵀ in its i-th "
        "block of n columns, columns i·n to i·n + n − 1, and zeros everywhere else. The check "
        "tries a wide W (2, 3) and a tall one (3, 2): a layout that confuses k with n shows "
        "there.",
        "Start from np.zeros((k, k * n)) and fill one block per row in a loop, for instance J[i, "
        "i * n:(i + 1) * n] = a.ravel(); or look up np.kron, the Kronecker product, which lays "
        "out blocks like these in one call. Compare with numerical_jacobian(lambda W_: W_ @ a, "
        "W), which flattens W row by row too.",
    )
)
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


@exercise_check(
    hints=(
        "The Jacobian of z = W a + b with respect to a is W itself (section 4), so the VJP is the "
        "row vᵀ W, and the convention of section 6 stores it as a column shaped like a. With v of "
        "shape (k, m) and W of shape (k, n), what you return is (n, m): column e from column e of "
        "v.",
        "Transpose the row with (A B)ᵀ = Bᵀ Aᵀ: (vᵀ W)ᵀ is a matrix product of Wᵀ and v, written "
        "with @ (the elementwise * would broadcast instead). Which product has the shapes (n, "
        "k)(k, m) → (n, m)? A matrix product treats v's columns one at a time, so a batch needs "
        "nothing more; try your formula in the 'check your derivation' cell first.",
    )
)
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


@exercise_check(
    hints=(
        "The result is shaped like W, (k, n), and entry [p, q] is Σ_i v_i [i = p] a_q, of which "
        "only the term i = p survives (section 7). For a batch, W is shared by the m examples, so "
        "each example contributes its own (k, n) gradient and the contributions add up: a sum, "
        "not a mean, and no 1/m here.",
        "For one example, entry [p, q] is v_p a_q: a (k, 1) column times a (1, n) row, the outer "
        "product v aᵀ. With v of shape (k, m) and a of shape (n, m), one matrix product whose "
        "inner dimension is m adds the m outer products for you; transpose exactly one of the two "
        "so that the shapes give (k, n), and compare with the 'check your derivation' cell.",
    )
)
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


@exercise_check(
    hints=(
        "By the quotient rule of section 8, entry [i, j] is [i = j] s_i − s_i s_j, with s = "
        "softmax(z) from the given softmax, a (k, 1) column. Write the (k, k) matrix as two "
        "pieces: one that lives only on the diagonal, and one whose entry [i, j] is a number that "
        "depends on i times a number that depends on j.",
        "The first piece is diag(s), built as in exercise 2 (np.diag wants a 1-D array); the "
        "second is the outer product s sᵀ, a column times a row, and it is subtracted. The check "
        "names the matrix that leaves out the diagonal piece, −s sᵀ alone. Yours must be "
        "symmetric with every row and column summing to 0: print J.sum(axis=0) and J.sum(axis=1).",
        "Work the check's first case by hand: at z = (0, 0), s = (1/2, 1/2), so diag(s) is [[1/2, "
        "0], [0, 1/2]] and s sᵀ has every entry 1/4, which leaves [[1/4, −1/4], [−1/4, 1/4]]. "
        "With s a (k, 1) column, s @ s.T is the (k, k) outer product.",
    )
)
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


@exercise_check(
    hints=(
        "Start from section 8's entries: (vᵀ J)_j = Σ_i v_i ([i = j] s_i − s_i s_j). In the first "
        "part the bracket keeps only i = j; in the second, s_j comes out of the sum, and what "
        "stays inside is one number per example, the average of v weighted by s. The result is "
        "(k, m) like z, and no (k, k) matrix appears anywhere.",
        "Entry j simplifies to s_j (v_j − Σ_i s_i v_i), that is s ⊙ (v − sᵀv) for one column, "
        "with s = softmax(z) from the given softmax (it normalises each column and copes with "
        "large logits). In a batch each column has its own s and so its own weighted average: m "
        "numbers, one per column, never one number for the whole batch.",
        "np.sum(s * v, axis=0, keepdims=True) is the (1, m) row of weighted averages: axis=0 sums "
        "down each column (each example), and the row broadcasts down every column of the (k, m) "
        "arrays. Confirm your formula in the 'check your derivation' cell before the exercise.",
    )
)
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


@exercise_check(
    hints=(
        "Two steps of the chain rule (section 9): ∂C/∂s = −y/s, then back through softmax with "
        "the VJP of exercise 7. Do that composition on paper, not in code: hand −y/s to your VJP "
        "formula as v and simplify. The result is (k, m) like z, column e the gradient of example "
        "e's own loss, not divided by m.",
        "With v = −y/s, the product s ⊙ v is just −y, and the weighted average sᵀv is −Σ_i y_i, "
        "which is −1 because every column of y is a probability distribution. What is left is "
        "short, uses only s and y, and divides by nothing. Computing −y/s in code is exactly what "
        "the check rejects: one of its probabilities is exactly 0.",
        "Get s from the given softmax, which subtracts each column's own maximum, so logits near "
        "750 do not overflow (a shift by the largest logit of the whole batch would send a column "
        "of small logits to 0/0). Then return your collapsed expression in s and y, and compare "
        "it with `mine` in the 'check your derivation' cell.",
    )
)
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


@exercise_check(
    hints=(
        "Two counts for the gradient of one dense layer's weights, W of shape (n_out, n_in), one "
        "example, then times m (section 10). Materialised: vᵀJ with J = ∂z/∂W of shape (n_out, "
        "n_out·n_in) costs one multiply-add per entry of J. VJP: v aᵀ costs one per entry of the "
        "result, which is shaped like W.",
        "Per example that is n_out · n_out · n_in against n_out · n_in, and m examples multiply "
        "both by m. The sizes come in the order of W's shape, so count_multiply_adds(256, 784) is "
        "the 784 → 256 layer of section 10 and must give 51,380,224 and 200,704; the check names "
        "the swapped sizes.",
        "Return the record, not a plain tuple: MultiplyAdds(materialised=..., vjp=...) with two "
        "ints, imported in the setup cell. Its ratio should then come out as n_out.",
    )
)
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
