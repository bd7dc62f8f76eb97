"""Hidden checks for lesson 05, mini-batches: one function per exercise.

Random batches and networks; sgd's calls of backprop_batch (given code, which
calls the two batch gradients) answered by recorded stand-ins.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_autograder.cases import call_case, columns, random_params
from backprop_course.protocol import encode
from backprop_course.structures import EpochRecord
from backprop_reference import forward_pass as fp
from backprop_reference import mini_batch as ref

Rng = np.random.Generator
HIDDEN = ["sigmoid", "tanh", "relu"]
OUTPUTS = [("sigmoid", "half_squared_error"), ("tanh", "mean_squared_error"),
           ("identity", "softmax_cross_entropy")]  # fmt: skip


def _distinct(rng: Rng, count: int, low: int = 2, high: int = 6) -> list[int]:
    """``count`` different sizes: no two dimensions that a mistake could confuse are equal."""
    return [int(n) for n in rng.choice(np.arange(low, high + 1), size=count, replace=False)]


def _targets(rng: Rng, loss: str, n: int, m: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    return rng.uniform(0.0, 1.0, (n, m))


def batch_weight_gradient(rng: Rng) -> list[dict]:
    """n_l, n_{l-1} and m all different, so no transposed or misplaced factor fits; then m = 1."""
    cases = []
    for _ in range(2):
        n_l, n_prev, m = _distinct(rng, 3)
        Delta, A_prev = columns(rng, n_l, m), columns(rng, n_prev, m)
        total = Delta @ A_prev.T
        variants = {"missing_1_over_m": total, "doubled_1_over_m": total / m**2}
        cases.append(call_case(ref.batch_weight_gradient, Delta, A_prev, variants=variants))
    n_l, n_prev = _distinct(rng, 2)
    cases.append(
        call_case(ref.batch_weight_gradient, columns(rng, n_l, 1), columns(rng, n_prev, 1))
    )
    return cases


def batch_bias_gradient(rng: Rng) -> list[dict]:
    """Never square (the axis matters), then m = 1: a column, whatever m is."""
    cases = []
    for _ in range(2):
        Delta = columns(rng, *_distinct(rng, 2))
        m = Delta.shape[1]
        variants = [
            ("missing_1_over_m", Delta.sum(axis=1, keepdims=True)),
            ("doubled_1_over_m", Delta.sum(axis=1, keepdims=True) / m**2),
            ("bias_wrong_axis", Delta.mean(axis=0, keepdims=True)),
            ("bias_wrong_axis", Delta.sum(axis=0, keepdims=True)),
        ]
        cases.append(call_case(ref.batch_bias_gradient, Delta, variants=variants))
    cases.append(call_case(ref.batch_bias_gradient, columns(rng, int(rng.integers(2, 6)), 1)))
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


# -- sgd ------------------------------------------------------------------------------

N = 7  # training examples: never a layer size (at most 5), nor a batch size drawn below


def _decayed_sgd(params, X, Y, activations, loss, *, rate: Callable[[int], float], biases: bool,
                 epochs, batch_size, eta, momentum=0.0, seed=0, callback=None, **_):  # fmt: skip
    """sgd with a wrong penalty gradient: ``rate(len(batch)) * p`` added, biases too if asked."""
    rng = np.random.default_rng(seed)
    params = {key: np.array(value, copy=True) for key, value in params.items()}
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    history = []
    for epoch in range(1, epochs + 1):
        order, total = rng.permutation(X.shape[1]), 0.0
        for start in range(0, X.shape[1], batch_size):
            batch = order[start : start + batch_size]
            grads, cost = ref.backprop_batch(X[:, batch], Y[:, batch], params, activations, loss)
            for key, g in grads.items():
                if key.startswith("W") or biases:
                    g = g + rate(len(batch)) * params[key]
                velocity[key] = momentum * velocity[key] - eta * g
                params[key] = params[key] + velocity[key]
            total += cost * len(batch)
        history.append(EpochRecord(epoch, total / X.shape[1]))
        if callback is not None:
            callback(epoch, params)
    return params, history


def _observed(run: Callable[..., tuple], *args: object, kwargs: dict) -> dict:
    """What a case with a callback observes: the return value and every callback call."""
    calls: list = []
    result = run(*args, **kwargs, callback=lambda epoch, p: calls.append([epoch, p.copy()]))
    return {"return": result, "callback": calls}


def _decay_variants(args: tuple, kwargs: dict) -> list[tuple[str, object]]:
    lam, size = kwargs["weight_decay"], kwargs["batch_size"]
    wrong = {
        "decay_on_biases": ({"rate": lambda batch: lam / N, "biases": True}),
        "decay_missing_1_over_n": ({"rate": lambda batch: lam, "biases": False}),
        "decay_doubled_1_over_n": ({"rate": lambda batch: lam / N**2, "biases": False}),
        "decay_over_batch_size": ({"rate": lambda batch: lam / batch, "biases": False}),
    }
    found = [(key, _observed(_decayed_sgd, *args, kwargs={**kwargs, **how}))
             for key, how in wrong.items()]  # fmt: skip
    how = {"rate": lambda batch: lam / size, "biases": False}
    found.append(
        ("decay_over_batch_size", _observed(_decayed_sgd, *args, kwargs={**kwargs, **how}))
    )
    return [(key, encode(value)) for key, value in found]


def sgd(rng: Rng) -> list[dict]:
    """Shuffled batches with a smaller last one; momentum; weight decay; the callback.

    A two-layer network with three different sizes and N = 7 examples: small, so
    that the recorded gradients of every batch fit in the test cell.
    """
    sizes = _distinct(rng, 3, 2, 5)
    output, loss = OUTPUTS[int(rng.integers(len(OUTPUTS)))]
    activations = [str(rng.choice([h for h in HIDDEN if h != output])), output]
    X, Y = columns(rng, sizes[0], N), _targets(rng, loss, sizes[-1], N)
    params = random_params(rng, sizes)
    args = (params, X, Y, activations, loss)
    settings = (
        # One batch per epoch: the order of the columns cannot matter.
        {"epochs": 2, "batch_size": N, "eta": 0.1, "momentum": 0.9, "seed": 3},
        # Batches of 4 then 3, shuffled by rng.permutation(N) from one default_rng(seed).
        {"epochs": 2, "batch_size": 4, "eta": 0.05, "momentum": 0.0, "seed": 7},
        # Batches of 3, 3 and 1 with weight decay: λ/N, λ/3 and λ/1 all differ, and λ is
        # neither η nor the momentum; the last batch's cost weighs a seventh of the epoch's.
        {"epochs": 2, "batch_size": 3, "eta": 0.1, "momentum": 0.5,
         "weight_decay": round(float(rng.uniform(1.5, 3.0)), 2),
         "seed": int(rng.integers(0, 1000))},
    )  # fmt: skip
    cases = []
    for number, kwargs in enumerate(settings):
        made = call_case(
            ref.sgd, *args, kwargs=kwargs, isolate=["backprop_batch"], rtol=1e-6
        )  # fmt: skip
        if number != 1:  # the case observes what sgd hands its callback after each epoch, too
            made = {**made, "callback": "callback",
                    "expected": encode(_observed(ref.sgd, *args, kwargs=kwargs))}  # fmt: skip
        if "weight_decay" in kwargs:
            made["variants"] = _decay_variants(args, kwargs)
        cases.append(made)
    return cases
