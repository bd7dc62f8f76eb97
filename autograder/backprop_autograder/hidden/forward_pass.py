"""Hidden checks for lesson 01, the forward pass: one function per exercise.

Random shapes (m = 1 included) and values; expected results from the
reference; dependencies on earlier exercises isolated (see
:mod:`backprop_course.replay`).
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import (
    Judged,
    call_case,
    columns,
    random_params,
    random_sizes,
    replaying_check,
)
from backprop_course.checks import forward_pass as check
from backprop_reference import forward_pass as ref

Rng = np.random.Generator
NAMES = ["sigmoid", "tanh", "relu", "identity"]


def _shape(rng: Rng) -> tuple[int, int]:
    return int(rng.integers(1, 6)), int(rng.choice([1, int(rng.integers(2, 7))]))


def sigmoid(rng: Rng) -> list[dict]:
    cases = [call_case(ref.sigmoid, columns(rng, *_shape(rng), scale=4.0)) for _ in range(3)]
    extreme = rng.choice([-1.0, 1.0], (2, 3)) * rng.uniform(700.0, 1000.0, (2, 3))
    return [*cases, call_case(ref.sigmoid, extreme)]


def sigmoid_prime(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(3):
        z = columns(rng, *_shape(rng), scale=3.0)
        variants = {"sigma_prime_of_a": z * (1 - z)}
        cases.append(call_case(ref.sigmoid_prime, z, isolate=["sigmoid"], variants=variants))
    return cases


def relu(rng: Rng) -> list[dict]:
    z = columns(rng, 4, 5)
    z[0, :2] = 0.0
    return [call_case(ref.relu, z), call_case(ref.relu, columns(rng, *_shape(rng)))]


def relu_prime(rng: Rng) -> list[dict]:
    z = columns(rng, 3, 6)
    z[1, ::2] = 0.0
    return [call_case(ref.relu_prime, z), call_case(ref.relu_prime, columns(rng, *_shape(rng)))]


def softmax(rng: Rng) -> list[dict]:
    cases = []
    for scale, offset in ((2.0, 0.0), (3.0, 600.0), (1.0, -900.0)):
        z = columns(rng, int(rng.integers(2, 6)), int(rng.integers(2, 5)), scale) + offset
        e = np.exp(z - z.max())
        cases.append(
            call_case(
                ref.softmax,
                z,
                variants={"softmax_wrong_axis": e / e.sum(axis=1, keepdims=True)},
            )
        )
    return cases


def dense_forward(rng: Rng) -> list[dict]:
    cases = []
    for square in (False, False, True):
        n_prev = int(rng.integers(2, 6))
        n_l = n_prev if square else n_prev + int(rng.integers(1, 3))
        m = 1 if square else int(rng.integers(1, 5))
        W, b, a_prev = columns(rng, n_l, n_prev), columns(rng, n_l, 1), columns(rng, n_prev, m)
        z = W @ a_prev + b
        variants = {"a_l_for_a_prev": (z, (z, W, b))}
        if square:
            variants["transposed"] = (W.T @ a_prev + b, (a_prev, W, b))
            variants["elementwise_for_matmul"] = (W * a_prev + b, (a_prev, W, b))
        cases.append(call_case(ref.dense_forward, W, b, a_prev, variants=variants))
    return cases


def layer_forward(rng: Rng) -> list[dict]:
    cases = []
    for activation in NAMES:
        n_prev, n_l, m = (int(n) for n in rng.integers(1, 5, size=3))
        W, b, a_prev = columns(rng, n_l, n_prev), columns(rng, n_l, 1), columns(rng, n_prev, m)
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


def init_params(rng: Rng) -> Judged:
    sizes = random_sizes(rng, int(rng.integers(2, 5)), low=2, high=9)
    return replaying_check(check.init_params, ref.init_params, sizes=sizes)


def forward(rng: Rng) -> list[dict]:
    cases = []
    for layers in (1, 2, 3, 4):
        sizes = random_sizes(rng, layers)
        activations = [str(rng.choice(NAMES)) for _ in range(layers)]
        x = columns(rng, sizes[0], int(rng.integers(1, 5)))
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
    cases = []
    for _ in range(3):
        n_L, m = int(rng.integers(1, 5)), int(rng.integers(2, 6))
        a, y = columns(rng, n_L, m), columns(rng, n_L, m)
        cost = ref.half_squared_error(a, y)
        variants = {"missing_1_over_m": cost * m}
        if n_L > 1:
            variants["mean_over_units"] = cost / n_L
        cases.append(call_case(ref.half_squared_error, a, y, variants=variants))
    return cases


def weight_shape(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(3):
        sizes = random_sizes(rng, int(rng.integers(2, 5)), low=1, high=900)
        l = int(rng.integers(1, len(sizes)))
        shape = ref.weight_shape(sizes, l)
        cases.append(call_case(ref.weight_shape, sizes, l, variants={"transposed": shape[::-1]}))
    return cases


def parameter_count(rng: Rng) -> list[dict]:
    return [
        call_case(ref.parameter_count, random_sizes(rng, layers, low=1, high=500))
        for layers in (1, 2, 4)
    ]
