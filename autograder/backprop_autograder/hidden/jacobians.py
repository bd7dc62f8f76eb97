"""Hidden checks for lesson 03, Jacobians: one function per exercise.

Random shapes and values; the elementwise derivative passed in is one of a
few known functions, encoded by name.
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import Encoded, call_case, columns
from backprop_reference import jacobians as ref

Rng = np.random.Generator


def _n(rng: Rng, low: int = 1, high: int = 5) -> int:
    return int(rng.integers(low, high + 1))


def numerical_jacobian(rng: Rng) -> list[dict]:
    cases = []
    n, k = _n(rng, 2), _n(rng, 2)
    f = Encoded(callable="tanh_of_linear", matrix=columns(rng, k, n).tolist())
    cases.append(call_case(ref.numerical_jacobian, f, columns(rng, n, 1), rtol=1e-6, atol=1e-8))
    x = columns(rng, _n(rng, 2, 3), _n(rng, 2, 3))
    h = 0.1
    one_sided = np.diag(np.ravel(((x + h) ** 3 - x**3) / h))
    cases.append(
        call_case(
            ref.numerical_jacobian,
            Encoded(callable="cube"),
            x,
            h,
            variants={"one_sided_difference": one_sided},
            rtol=1e-7,
            atol=1e-8,
        )
    )
    return cases


def elementwise_jacobian(rng: Rng) -> list[dict]:
    return [
        call_case(ref.elementwise_jacobian, Encoded(callable=name), columns(rng, _n(rng, 2), 1))
        for name in ("tanh_prime", "cube_prime")
    ]


def elementwise_vjp(rng: Rng) -> list[dict]:
    cases = []
    for name in ("tanh_prime", "cube_prime"):
        n, m = _n(rng), _n(rng)
        v, z = columns(rng, n, m), columns(rng, n, m)
        cases.append(
            call_case(
                ref.elementwise_vjp,
                v,
                Encoded(callable=name),
                z,
                variants={"missing_sigma_prime": v},
            )
        )
    return cases


def linear_jacobian_weights(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        k, n = _n(rng), _n(rng, 2)
        cases.append(call_case(ref.linear_jacobian_weights, columns(rng, k, n), columns(rng, n, 1)))
    return cases


def linear_vjp_input(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        k, n, m = _n(rng), _n(rng), _n(rng)
        cases.append(call_case(ref.linear_vjp_input, columns(rng, k, m), columns(rng, k, n)))
    return cases


def linear_vjp_weights(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        k, n, m = _n(rng), _n(rng), _n(rng)
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
    cases = []
    for offset in (0.0, 500.0):
        k, m = _n(rng, 2), _n(rng)
        cases.append(
            call_case(ref.softmax_vjp, columns(rng, k, m), columns(rng, k, m, 2.0) + offset)
        )
    return cases


def count_multiply_adds(rng: Rng) -> list[dict]:
    return [
        call_case(ref.count_multiply_adds, _n(rng, 1, 1000), _n(rng, 1, 1000), _n(rng, 1, 64))
        for _ in range(3)
    ]
