"""Hidden checks for lesson 05, mini-batches: one function per exercise.

Random batches (m >= 2) and networks; backprop_batch's calls of the two batch
gradients, and sgd's calls of backprop_batch, answered by recorded stand-ins.
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import call_case, columns, random_params, random_sizes
from backprop_autograder.hidden.matrix_form import _network, _targets
from backprop_reference import mini_batch as ref

Rng = np.random.Generator


def batch_weight_gradient(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        n_l, n_prev, m = (int(n) for n in rng.integers(2, 6, size=3))
        Delta, A_prev = columns(rng, n_l, m), columns(rng, n_prev, m)
        total = Delta @ A_prev.T
        variants = {"missing_1_over_m": total, "doubled_1_over_m": total / m**2}
        cases.append(call_case(ref.batch_weight_gradient, Delta, A_prev, variants=variants))
    return cases


def batch_bias_gradient(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        Delta = columns(rng, int(rng.integers(2, 6)), int(rng.integers(2, 6)))
        variants = [
            ("missing_1_over_m", Delta.sum(axis=1, keepdims=True)),
            ("bias_wrong_axis", Delta.mean(axis=0, keepdims=True)),
            ("bias_wrong_axis", Delta.sum(axis=0, keepdims=True)),
        ]
        cases.append(call_case(ref.batch_bias_gradient, Delta, variants=variants))
    return cases


def backprop_batch(rng: Rng) -> list[dict]:
    cases = []
    for layers in (1, 2, 3):
        sizes, activations, loss = _network(rng, layers)
        m = int(rng.integers(2, 6))
        X, Y = columns(rng, sizes[0], m), _targets(rng, loss, sizes[-1], m)
        cases.append(
            call_case(
                ref.backprop_batch,
                X,
                Y,
                random_params(rng, sizes),
                activations,
                loss,
                isolate=["batch_weight_gradient", "batch_bias_gradient"],
            )
        )
    return cases


def evaluate(rng: Rng) -> list[dict]:
    sizes = random_sizes(rng, 2, low=2, high=5)
    m = 7
    X, Y = columns(rng, sizes[0], m), np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], size=m)]
    params = random_params(rng, sizes)
    return [
        call_case(ref.evaluate, X, Y, params, ["tanh", "identity"], loss)
        for loss in ("softmax_cross_entropy", "half_squared_error")
    ]


def sgd(rng: Rng) -> list[dict]:
    cases = []
    sizes, activations, loss = _network(rng, 2)
    m = 6
    X, Y = columns(rng, sizes[0], m), _targets(rng, loss, sizes[-1], m)
    params = random_params(rng, sizes)
    settings = (
        # One batch per epoch: the order of the columns cannot matter.
        {"epochs": 3, "batch_size": m, "eta": 0.1, "momentum": 0.9, "seed": 3},
        # Batches of 4 then 2, shuffled by rng.permutation(m) from default_rng(seed).
        {"epochs": 2, "batch_size": 4, "eta": 0.05, "momentum": 0.0, "seed": 7},
    )
    for kwargs in settings:
        cases.append(
            call_case(
                ref.sgd, params, X, Y, activations, loss, kwargs=kwargs,
                isolate=["backprop_batch"], rtol=1e-6,
            )
        )  # fmt: skip
    return cases
