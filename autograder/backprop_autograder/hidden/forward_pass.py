"""Hidden checks for lesson 01, the forward pass: one function per exercise.

Random values, and shapes that are never degenerate, by construction under
every seed: wherever a shape or an order matters, a case has at least two
rows and two columns and is not square, so that a transposed or broadcast
answer cannot pass for the right one; m = 1 and m > 1 both appear where an
answer may treat them alike; every network mixes its activations and has
layers of different widths. Expected results from the reference;
dependencies on earlier exercises isolated (see :mod:`backprop_course.stand_ins`).
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import (
    Judged,
    call_case,
    columns,
    random_params,
    replaying_check,
    unambiguous,
)
from backprop_course.checks import forward_pass as check
from backprop_reference import forward_pass as ref

Rng = np.random.Generator
NAMES = ["sigmoid", "tanh", "relu", "identity"]


def _non_square(rng: Rng, low: int = 2, high: int = 6) -> tuple[int, int]:
    """(rows, columns), both >= low and never equal: a transpose has another shape."""
    rows = int(rng.integers(low, high + 1))
    cols = int(rng.integers(low, high))
    return rows, cols + (cols >= rows)


def _widths(rng: Rng, count: int, low: int = 1, high: int = 9) -> list[int]:
    """``count`` different widths: no W^l is square, and no index slip lands on an equal size."""
    return [int(n) for n in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def _column(rng: Rng, low: int = 2, high: int = 6) -> tuple[int, int]:
    """A single example (m = 1) of at least ``low`` rows."""
    return int(rng.integers(low, high + 1)), 1


def _around_the_kink(rng: Rng, rows: int, cols: int) -> np.ndarray:
    """Random z holding, at random places, a value on each side of relu's kink and
    thresholds: below -1, in (-1, 0), exactly 0, in (0, 1), above 1."""
    z = columns(rng, rows, cols, scale=2.0)
    special = [
        -rng.uniform(1.1, 3.0),
        -rng.uniform(0.05, 0.95),
        0.0,
        rng.uniform(0.05, 0.95),
        rng.uniform(1.1, 3.0),
    ]
    z.flat[rng.choice(z.size, size=len(special), replace=False)] = special
    return z


def sigmoid(rng: Rng) -> list[dict]:
    shapes = [_non_square(rng), _column(rng), _non_square(rng)]
    cases = [call_case(ref.sigmoid, columns(rng, *shape, scale=4.0)) for shape in shapes]
    shape = _non_square(rng, high=4)
    extreme = _both_signs(rng, shape) * rng.uniform(700.0, 1000.0, shape)
    return [*cases, call_case(ref.sigmoid, extreme)]


def _both_signs(rng: Rng, shape: tuple[int, int]) -> np.ndarray:
    """Random signs, each of -1 and +1 at least once (the two ends of an S-curve)."""
    signs = rng.choice([-1.0, 1.0], shape)
    first, second = rng.choice(signs.size, size=2, replace=False)
    signs.flat[first], signs.flat[second] = -1.0, 1.0
    return signs


def sigmoid_prime(rng: Rng) -> list[dict]:
    cases = []
    for shape in (_non_square(rng), _column(rng), _non_square(rng)):
        z = columns(rng, *shape, scale=3.0)
        variants = {"sigma_prime_of_a": z * (1 - z)}
        cases.append(call_case(ref.sigmoid_prime, z, isolate=["sigmoid"], variants=variants))
    return cases


def relu_prime(rng: Rng) -> list[dict]:
    shapes = [_non_square(rng), _column(rng, low=5, high=7)]
    return [call_case(ref.relu_prime, _around_the_kink(rng, *shape)) for shape in shapes]


def softmax(rng: Rng) -> list[dict]:
    """Every batch has a column of large logits (exp overflows without the shift) next to
    columns of ordinary ones, and another shift per column: only each column's own maximum
    keeps every column right."""
    cases = []
    for scale in (1.0, 2.0, 3.0):
        k, m = _non_square(rng)
        offsets = rng.choice([-900.0, -3.0, 0.0, 5.0, 750.0], m)
        offsets[rng.integers(m)] = 750.0
        z = columns(rng, k, m, scale) + offsets
        e = np.exp(z - z.max())
        variants = [("softmax_wrong_axis", e / e.sum(axis=1, keepdims=True)),
                    *_unshifted_softmaxes(z)]  # fmt: skip
        cases.append(call_case(ref.softmax, z, variants=unambiguous(variants)))
    return cases


def _unshifted_softmaxes(z: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What exp(z) without the shift gives, along the wrong axis and the right one: inf and
    nan where the large logits overflow, exactly as a student's numpy computes them."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return [("softmax_wrong_axis", e / e.sum(axis=1, keepdims=True)),
                ("unstable_softmax", e / e.sum(axis=0, keepdims=True))]  # fmt: skip


def dense_forward(rng: Rng) -> list[dict]:
    """A layer that is not square on a batch, then on one example; then a square layer
    on one example, where W a_prev + b has the shape of the mistakes it is told from.
    The cache is (a_prev, W): an (a_prev, W, b) cache, say, loses every case."""
    cases = []
    rows, cols = _non_square(rng)
    batch = int(rng.choice([m for m in range(2, 7) if m not in (rows, cols)]))
    for n_l, n_prev, m in ((rows, cols, batch), (cols, rows, 1), (cols, cols, 1)):
        W, b, a_prev = columns(rng, n_l, n_prev), columns(rng, n_l, 1), columns(rng, n_prev, m)
        z = W @ a_prev + b
        variants = [
            ("a_l_for_a_prev", (z, (z, W))),
            ("wrong_dense_cache", (z, (a_prev, W, b))),
            ("wrong_dense_cache", (z, (W, a_prev))),
            ("wrong_dense_cache", (z, (a_prev, W, z))),
        ]
        if n_l == n_prev:
            variants.append(("transposed", (W.T @ a_prev + b, (a_prev, W))))
            variants.append(("elementwise_for_matmul", (W * a_prev + b, (a_prev, W))))
        cases.append(call_case(ref.dense_forward, W, b, a_prev, variants=variants))
    return cases


def layer_forward(rng: Rng) -> list[dict]:
    cases = []
    for activation, m in zip(NAMES, (1, 3, 2, 4), strict=True):
        n_l, n_prev = _non_square(rng, high=5)
        W, a_prev = columns(rng, n_l, n_prev), columns(rng, n_prev, m)
        b = _biases_for_both_signs(rng, W @ a_prev)
        a, cache = ref.layer_forward(W, b, a_prev, activation)
        cases.append(
            call_case(
                ref.layer_forward,
                W,
                b,
                a_prev,
                activation,
                isolate=["dense_forward", "ACTIVATIONS"],
                variants={"a_l_for_a_prev": (a, cache._replace(a_prev=a))},
            )
        )
    return cases


def _biases_for_both_signs(rng: Rng, Wa: np.ndarray) -> np.ndarray:
    """Random biases, except that row 0 of z = W a + b is all positive and row 1 all
    negative: every activation (relu too) then differs from its derivative, and a from z."""
    b = columns(rng, Wa.shape[0], 1)
    b[0] = -Wa[0].min() + rng.uniform(0.5, 1.5)
    b[1] = -Wa[1].max() - rng.uniform(0.5, 1.5)
    return b


def init_params(rng: Rng) -> Judged:
    # Two to four layers of different widths: an index slip (n_{l-2}, n_L) gives another shape.
    sizes = _widths(rng, int(rng.integers(3, 6)), low=2)
    return replaying_check(check.init_params, ref.init_params, sizes=sizes)


def forward(rng: Rng) -> list[dict]:
    """One network of each depth 1 to 4, different widths, different activations per layer."""
    cases = []
    for layers, m in zip((1, 2, 3, 4), (3, 1, 4, 2), strict=True):
        sizes = _widths(rng, layers + 1, high=6)
        activations = [str(name) for name in rng.permutation(NAMES)[:layers]]
        x = columns(rng, sizes[0], m)
        cases.append(
            call_case(
                ref.forward,
                x,
                random_params(rng, sizes),
                activations,
                isolate=["layer_forward"],
            )
        )
    return cases


def half_squared_error(rng: Rng) -> list[dict]:
    """n_L >= 2 units and m >= 2 examples, never as many: every axis and every mean matters."""
    cases = []
    for _ in range(3):
        n_L, m = _non_square(rng)
        a, y = columns(rng, n_L, m), columns(rng, n_L, m)
        cost = ref.half_squared_error(a, y)
        variants = {"missing_1_over_m": cost * m, "mean_over_units": cost / n_L}
        cases.append(call_case(ref.half_squared_error, a, y, variants=variants))
    return cases


def parameter_count(rng: Rng) -> list[dict]:
    """Networks of two to four layers of different widths: with L = 1, n_{1 - l} would be
    n_{l - 1}, and with equal widths an index slip would land on the same number."""
    cases = []
    for layers in (2, 3, 4):
        sizes = _widths(rng, layers + 1, high=500)
        weights = sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes)))
        variants = {"missing_biases": weights}
        cases.append(call_case(ref.parameter_count, sizes, variants=variants))
    return cases
