"""Hidden checks for lesson 05, mini-batches: one function per exercise.

Random batches (m >= 2) and networks; backprop_batch's calls of the two batch
gradients, and sgd's calls of backprop_batch, answered by recorded stand-ins.
"""

from __future__ import annotations

import numpy as np

from backprop_autograder.cases import call_case, columns, random_params
from backprop_autograder.hidden.matrix_form import _distinct, _networks, _targets
from backprop_course.replay import encode
from backprop_reference import forward_pass as fp
from backprop_reference import mini_batch as ref

Rng = np.random.Generator


def batch_weight_gradient(rng: Rng) -> list[dict]:
    """n_l, n_{l-1} and m all different, so no transposed or misplaced factor fits."""
    cases = []
    for _ in range(2):
        n_l, n_prev, m = _distinct(rng, 3)
        Delta, A_prev = columns(rng, n_l, m), columns(rng, n_prev, m)
        total = Delta @ A_prev.T
        variants = {"missing_1_over_m": total, "doubled_1_over_m": total / m**2}
        cases.append(call_case(ref.batch_weight_gradient, Delta, A_prev, variants=variants))
    return cases


def batch_bias_gradient(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(2):
        Delta = columns(rng, *_distinct(rng, 2))  # never square: the axis matters
        variants = [
            ("missing_1_over_m", Delta.sum(axis=1, keepdims=True)),
            ("bias_wrong_axis", Delta.mean(axis=0, keepdims=True)),
            ("bias_wrong_axis", Delta.sum(axis=0, keepdims=True)),
        ]
        cases.append(call_case(ref.batch_bias_gradient, Delta, variants=variants))
    return cases


def backprop_batch(rng: Rng) -> list[dict]:
    """Lesson 04's four networks with batches of m > 1, then a 3-layer one with m = 1."""
    cases = []
    drawn = _networks(rng)
    batches = [(network, int(rng.integers(2, 7))) for network in drawn] + [(drawn[1], 1)]
    for (sizes, activations, loss), m in batches:
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


def _labels(rng: Rng, predicted: np.ndarray, classes: int, X: np.ndarray) -> np.ndarray:
    """One-hot targets on which the accuracy is neither 0 nor 1 and tells the answers apart.

    ``right`` columns are labelled with the predicted class, the others with
    another one; ``right`` is chosen so that no misplaced comparison (with
    class 0, or with the argmax of the inputs) happens to give the same share.
    """
    m = predicted.size
    decoys = (np.mean(predicted == 0), np.mean(predicted == np.argmax(X, axis=0)))
    right = next(k for k in rng.permutation(np.arange(1, m))
                 if all(abs(k / m - decoy) > 1e-9 for decoy in decoys))  # fmt: skip
    labels = (predicted + rng.integers(1, classes, size=m)) % classes
    correct = rng.permutation(m)[:right]
    labels[correct] = predicted[correct]
    return np.eye(classes)[:, labels]


def evaluate(rng: Rng) -> list[dict]:
    """Three or four classes, m = 9 examples, mixed right and wrong predictions."""
    classes = int(rng.integers(3, 5))
    sizes = [int(rng.choice([2, 5, 6])), int(rng.integers(2, 6)), classes]
    m = 9
    X, params = columns(rng, sizes[0], m), random_params(rng, sizes)
    A_L, _ = fp.forward(X, params, ["tanh", "identity"])
    Y = _labels(rng, np.argmax(A_L, axis=0), classes, X)
    return [
        call_case(ref.evaluate, X, Y, params, ["tanh", "identity"], loss)
        for loss in ("softmax_cross_entropy", "half_squared_error")
    ]


def _with_callback(case: dict, *args: object, kwargs: dict) -> dict:
    """The case observes what sgd hands its callback after each epoch, too."""
    calls: list = []
    result = ref.sgd(*args, **kwargs, callback=lambda epoch, p: calls.append([epoch, p.copy()]))
    return {**case, "callback": "callback", "expected": encode({"return": result,
                                                                 "callback": calls})}  # fmt: skip


def sgd(rng: Rng) -> list[dict]:
    """Shuffled batches with a smaller last one; momentum; the callback after every epoch."""
    cases = []
    sizes, activations, loss = _networks(rng)[1]
    m = 7  # never equal to a layer size (at most 6): the examples are the columns
    X, Y = columns(rng, sizes[0], m), _targets(rng, loss, sizes[-1], m)
    params = random_params(rng, sizes)
    settings = (
        # One batch per epoch: the order of the columns cannot matter.
        {"epochs": 3, "batch_size": m, "eta": 0.1, "momentum": 0.9, "seed": 3},
        # Batches of 4 then 3, shuffled by rng.permutation(m) from one default_rng(seed).
        {"epochs": 2, "batch_size": 4, "eta": 0.05, "momentum": 0.0, "seed": 7},
        # Batches of 3, 3 and 1: the last batch's cost weighs a seventh of the epoch's.
        {"epochs": 3, "batch_size": 3, "eta": 0.1, "momentum": 0.5,
         "seed": int(rng.integers(0, 1000))},
    )  # fmt: skip
    for number, kwargs in enumerate(settings):
        made = call_case(
            ref.sgd, params, X, Y, activations, loss, kwargs=kwargs,
            isolate=["backprop_batch"], rtol=1e-6,
        )  # fmt: skip
        if number != 1:
            made = _with_callback(made, params, X, Y, activations, loss, kwargs=kwargs)
        cases.append(made)
    return cases
