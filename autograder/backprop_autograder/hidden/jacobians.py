"""Hidden checks for lesson 03, Jacobians: one function per exercise.

Random values, and shapes that are never degenerate, by construction under
every seed: the two sides of every Jacobian and of every product differ
(k != n, n != m, all at least 2), so that no transposed, swapped or
broadcast answer has the right shape and values; m = 1 appears where an
answer may treat one example apart (never where it would be right only
there). Every numerical Jacobian is taken where the one-sided difference is
far outside the tolerance. The elementwise derivative passed in is one of a
few known functions, encoded by name. Logits go where the numerics decide:
near 750, where exp overflows, and far enough below their column's largest
that a probability is exactly 0.
"""

from __future__ import annotations

import inspect

import numpy as np

from backprop_autograder.cases import Encoded, call_case, columns
from backprop_reference import jacobians as ref

Rng = np.random.Generator


def _n(rng: Rng, low: int = 1, high: int = 5) -> int:
    return int(rng.integers(low, high + 1))


def _distinct(rng: Rng, count: int, low: int = 2, high: int = 6) -> list[int]:
    """``count`` different sizes, each at least ``low``."""
    return [int(n) for n in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def _signs(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice([-1.0, 1.0], shape)


def _one_sided(f: Encoded, x: np.ndarray, h: float) -> np.ndarray:
    """What a one-sided difference (f(x + h e_j) - f(x)) / h gives, column by column."""
    x = np.array(x, dtype=np.float64)
    f_x = np.ravel(f(x))
    steps = np.eye(x.size) * h
    return np.stack([(np.ravel(f(x + s.reshape(x.shape))) - f_x) / h for s in steps], axis=1)


def _numerical_case(f: Encoded, x: np.ndarray, h: float | None, **tolerances: float) -> dict:
    """A case of numerical_jacobian(f, x, h), or of its default step when h is None."""
    args = (f, x) if h is None else (f, x, h)
    default = inspect.signature(ref.numerical_jacobian).parameters["h"].default
    one_sided = _one_sided(f, x, default if h is None else h)
    return call_case(
        ref.numerical_jacobian,
        *args,
        variants={"one_sided_difference": one_sided},
        **tolerances,
    )


def numerical_jacobian(rng: Rng) -> list[dict]:
    """tanh(A x) three ways, each curved enough where it is taken that a one-sided
    difference misses by many times the tolerance, and never square (a Jacobian built
    row by row, transposed, has another shape): the default step with steep rows, more
    inputs than outputs; h = 0.1 on a matrix x (flattened row by row); h = 0.01 with
    more outputs than inputs."""
    # Default h = 1e-6: the one-sided error is about h |tanh(u_i)| A_ij^2 sech^2(u_i),
    # tanh(u_i) |A_ij| > 20 times the relative tolerance; u = A x is kept in
    # 0.5 <= |u_i| <= 1.2, where tanh is far from flat and from linear.
    k, n = sorted(_distinct(rng, 2, high=5))  # more inputs than outputs: A x = u has a solution
    A = _signs(rng, (k, n)) * rng.uniform(50.0, 100.0, (k, n))
    u = _signs(rng, (k, 1)) * rng.uniform(0.5, 1.2, (k, 1))
    cases = [_numerical_case(_tanh_of(A), np.linalg.pinv(A) @ u, None, rtol=1e-6, atol=1e-8)]
    # h = 0.1 and 0.01: a one-sided difference is off by about h/2 times the curvature.
    p, q = _distinct(rng, 2, high=4)
    A = columns(rng, _n(rng, 2, p * q - 1), p * q, scale=2.0)
    x = columns(rng, p, q, scale=0.5)
    cases.append(_numerical_case(_tanh_of(A), x, 0.1, rtol=1e-7, atol=1e-8))
    n = _n(rng, 2, 4)
    A = columns(rng, n + _n(rng, 1, 2), n, scale=2.0)
    cases.append(_numerical_case(_tanh_of(A), columns(rng, n, 1, 0.5), 0.01, rtol=1e-7, atol=1e-8))
    return cases


def _tanh_of(A: np.ndarray) -> Encoded:
    """f(x) = tanh(A x), x flattened row by row."""
    return Encoded(callable="tanh_of_linear", matrix=A.tolist())


def elementwise_jacobian(rng: Rng) -> list[dict]:
    return [
        call_case(ref.elementwise_jacobian, Encoded(callable=name), columns(rng, _n(rng, 2), 1))
        for name in ("tanh_prime", "cube_prime")
    ]


def linear_jacobian_weights(rng: Rng) -> list[dict]:
    """W of shape (k, n) with k != n, both at least 2: once wide, once tall."""
    k, n = _distinct(rng, 2, high=5)
    return [
        call_case(ref.linear_jacobian_weights, columns(rng, rows, cols), columns(rng, cols, 1))
        for rows, cols in ((k, n), (n, k))
    ]


def linear_vjp_input(rng: Rng) -> list[dict]:
    """k, n and m all different (so W^T, v and the result have three different shapes),
    then one example (m = 1) with k != n."""
    k, n, m = _distinct(rng, 3)
    return [
        call_case(ref.linear_vjp_input, columns(rng, k, m), columns(rng, k, n)),
        call_case(ref.linear_vjp_input, columns(rng, n, 1), columns(rng, n, k)),
    ]


def linear_vjp_weights(rng: Rng) -> list[dict]:
    """k, n and m all different, m >= 2: for one example v * a^T would be right too."""
    cases = []
    for _ in range(2):
        k, n, m = _distinct(rng, 3)
        v, a = columns(rng, k, m), columns(rng, n, m)
        cases.append(call_case(ref.linear_vjp_weights, v, a, variants={"transposed": a @ v.T}))
    return cases


def softmax_jacobian(rng: Rng) -> list[dict]:
    cases = []
    for scale in (1.0, 3.0):
        z = columns(rng, _n(rng, 2), 1, scale)
        s = np.exp(z - z.max())
        s /= s.sum()
        cases.append(call_case(ref.softmax_jacobian, z, variants={"missing_diagonal": -s @ s.T}))
    return cases


def softmax_vjp(rng: Rng) -> list[dict]:
    """Batches with k != m, one of them of large logits, then one example (m = 1)."""
    k, m = _distinct(rng, 2)
    cases = []
    for (rows, cols), offset in (((k, m), 0.0), ((m, k), 500.0), ((k, 1), -300.0)):
        z = columns(rng, rows, cols, 2.0) + offset
        cases.append(call_case(ref.softmax_vjp, columns(rng, rows, cols), z))
    return cases


def _softmax(z: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _one_hot(rng: Rng, k: int, m: int) -> np.ndarray:
    return np.eye(k)[:, rng.integers(0, k, size=m)]


def _soft(rng: Rng, k: int, m: int) -> np.ndarray:
    """Soft labels: every column a random probability distribution, no entry zero."""
    return rng.dirichlet(np.ones(k), size=m).T


def _ce_variants(z: np.ndarray, y: np.ndarray) -> list[tuple[str, np.ndarray]]:
    s = _softmax(z)
    found = [
        ("probabilities_not_logits", -y / s),
        ("softmax_left_out", z - y),
        ("softmax_wrong_axis", _softmax(z, axis=1) - y),
    ]
    if z.shape[1] > 1:
        found.append(("extra_1_over_m", (s - y) / z.shape[1]))
    return found


def softmax_cross_entropy_gradient(rng: Rng) -> list[dict]:
    """k >= 2 classes and m examples, k != m, both ways round: one-hot targets, then soft
    labels with a shift of every logit; one example (m = 1) with one-hot targets; then
    three examples of 2, 4, 5 or 6 classes where the numerics decide: logits near 750,
    where exp overflows; near 750 too with the target class 1000 below the others, so that
    its probability underflows to exactly 0 and anything that divides by s gets inf or
    nan; and small logits, which vanish when shifted by the batch's largest logit instead
    of their own column's."""
    k, m = _distinct(rng, 2)
    cases = []
    z = columns(rng, k, m, 2.0)
    y = _one_hot(rng, k, m)
    cases.append(call_case(ref.softmax_cross_entropy_gradient, z, y, variants=_ce_variants(z, y)))
    z = columns(rng, m, k, 3.0) + rng.uniform(-40.0, 40.0, (1, k))
    y = _soft(rng, m, k)
    cases.append(call_case(ref.softmax_cross_entropy_gradient, z, y, variants=_ce_variants(z, y)))
    n = _n(rng, 3, 6)
    z = columns(rng, n, 1, 2.0)
    y = _one_hot(rng, n, 1)
    cases.append(call_case(ref.softmax_cross_entropy_gradient, z, y, variants=_ce_variants(z, y)))
    # Column 0 overflows exp without the shift; column 1 too, and has s_u = 0 with
    # y_u >= 1/2; column 2 vanishes when shifted by the batch's maximum, not its own.
    n = int(rng.choice([2, 4, 5, 6]))  # never 3, the number of columns
    u = int(rng.integers(0, n))
    z = np.hstack([750.0 + rng.uniform(-3.0, 3.0, (n, 2)), columns(rng, n, 1, 2.0)])
    z[u, 1] -= 1000.0
    y = np.hstack([_soft(rng, n, 1), 0.5 * np.eye(n)[:, [u]] + 0.5 * _soft(rng, n, 1),
                   _one_hot(rng, n, 1)])  # fmt: skip
    expected = ref.softmax_cross_entropy_gradient(z, y)
    with np.errstate(all="ignore"):
        naive = np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)
        shifted = np.exp(z - z.max())
        global_shift = shifted / shifted.sum(axis=0, keepdims=True)
    divided = expected.copy()
    divided[:, 1] = np.nan
    variants = [
        ("unstable_softmax", naive - y),
        ("unstable_softmax", global_shift - y),
        ("divided_by_s", divided),
        ("extra_1_over_m", expected / 3),
    ]
    cases.append(call_case(ref.softmax_cross_entropy_gradient, z, y, variants=variants))
    return cases


def count_multiply_adds(rng: Rng) -> list[dict]:
    """n_out, n_in and m all different and at least 2: no factor can be dropped or swapped."""
    cases = []
    for _ in range(3):
        m = _n(rng, 2, 64)
        sizes = np.setdiff1d(np.arange(2, 1001), [m])
        n_out, n_in = (int(n) for n in rng.choice(sizes, size=2, replace=False))
        swapped = (m * n_in * n_in * n_out, m * n_out * n_in)
        cases.append(
            call_case(ref.count_multiply_adds, n_out, n_in, m, variants={"swapped_sizes": swapped})
        )
    return cases
