"""Lesson 05, mini-batches: backprop for m examples at once, and SGD with momentum and weight decay.

Stack the m examples of a batch as the columns of X (n_0, m). The forward
pass is unchanged (``W X`` transforms every column at once), and the errors
of all examples form Delta^l (n_l, m), one column per example. Because the
cost is the MEAN of the per-example losses, its gradient is the mean of the
per-example gradients:

    dC/dW^l = (1/m) Delta^l (A^{l-1})^T      (the sum over examples is inside the product)
    dC/db^l = (1/m) Delta^l 1                (the backward pass of a broadcast is a sum)

A batch layer is lesson 04's ``dense_backward`` with these two in place of
BP4 and BP3 (:func:`dense_backward_batch`), and :func:`backprop_batch` is
lesson 04's loop over the layer functions. One matrix product per layer
replaces a Python loop over examples, which is where the speed comes from
(``make bench`` measures it).

:func:`sgd` trains with mini-batches, heavy-ball momentum and L2 weight decay
as in Nielsen's chapter 3: the cost C = C_0 + (lambda / 2N) sum_l ||W^l||^2,
N the size of the training set, adds (lambda / N) W^l to every weight
gradient; biases are not decayed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backprop_course.structures import EpochRecord

from ._shapes import check_column_batch, check_shape, checked_by
from .forward_pass import (
    LOSSES,
    Params,
    forward,
    get_loss,
    init_params,  # noqa: F401  (notebook 05's given code)
    num_layers,
)
from .matrix_form import (  # noqa: F401  (lesson 04's code, given in notebook 05)
    activation_backward,
    backprop,
    dense_backward,
    output_error,
    relative_error,
)

Array = np.ndarray


# -- lesson 05's exercises ------------------------------------------------------------


def _check_batch_weight_gradient(Delta: Array, A_prev: Array) -> None:
    check_column_batch("Delta", Delta)
    check_shape("A_prev", A_prev, (None, Delta.shape[1]), "(n_{l-1}, m): same m as Delta")


@checked_by(_check_batch_weight_gradient)
def batch_weight_gradient(Delta: Array, A_prev: Array) -> Array:
    """dC/dW^l of the mean cost: (1/m) Delta^l (A^{l-1})^T, the mean of the examples' BP4.

    Shapes: Delta (n_l, m) (each column one example's error, not divided by m),
    A_prev (n_{l-1}, m) -> (n_l, n_{l-1}), like W^l.
    """
    # Divide the smaller factor: Delta is (n_l, m), the product (n_l, n_{l-1}).
    return (Delta / Delta.shape[1]) @ A_prev.T


def _check_delta(Delta: Array) -> None:
    check_column_batch("Delta", Delta)


@checked_by(_check_delta)
def batch_bias_gradient(Delta: Array) -> Array:
    """dC/db^l of the mean cost: (1/m) Delta^l 1, the mean of the columns (axis=1).

    Shapes: Delta (n_l, m) -> (n_l, 1), like b^l.
    """
    return Delta.sum(axis=1, keepdims=True) / Delta.shape[1]


# -- given code in notebook 05: the batch layer and the batch backward pass -------------


def _check_dense_backward_batch(dZ: Array, cache: tuple[Array, Array]) -> None:
    check_column_batch("dZ", dZ)
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        raise ValueError("cache must be the pair (A_prev, W) that dense_forward returns")
    A_prev, W = cache
    check_shape("W", W, (dZ.shape[0], None), "(n_l, n_{l-1})")
    check_shape("A_prev", A_prev, (W.shape[1], dZ.shape[1]), "(n_{l-1}, m): same m as dZ")


@checked_by(_check_dense_backward_batch)
def dense_backward_batch(dZ: Array, cache: tuple[Array, Array]) -> tuple[Array, Array, Array]:
    """Lesson 04's ``dense_backward`` for a batch: the means over the examples for W and b.

    Shapes: dZ (n_l, m), one example's error per column (not divided by m),
    cache = (A_prev (n_{l-1}, m), W (n_l, n_{l-1}))
    -> (dA_prev (n_{l-1}, m), one column per example; dW like W; db (n_l, 1)).
    """
    A_prev, W = cache
    return W.T @ dZ, batch_weight_gradient(dZ, A_prev), batch_bias_gradient(dZ)


def _check_batch(
    X: Array, Y: Array, params: Mapping[str, Array], activations: Sequence[str], loss: str
) -> None:
    check_column_batch("X", X)
    L = num_layers(params)
    n_L = np.shape(params[f"W{L}"])[0]
    check_shape("Y", Y, (n_L, X.shape[1]), "(n_L, m) like the output A^L")
    get_loss(loss)


@checked_by(_check_batch)
def backprop_batch(
    X: Array,
    Y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
) -> tuple[Params, float]:
    """Gradient of the mean cost over a batch, fully matrix-based: no loop over the examples.

    Lesson 04's loop over the layer functions, with the batch layer
    :func:`dense_backward_batch`.

    Shapes:
        X       (n_0, m)
        Y       (n_L, m)
        params  W^l (n_l, n_{l-1}), b^l (n_l, 1)
    Returns ``(grads, cost)``: grads["Wl"] like W^l, grads["bl"] like b^l.
    No gradient is computed for the input X (nothing would use it).
    """
    A_L, caches = forward(X, params, activations)
    grads = {}
    dZ = output_error(A_L, Y, caches[-1].z, activations[-1], loss)  # BP1: (n_L, m)
    for l in range(len(caches), 0, -1):
        cache = caches[l - 1]
        dA_prev, grads[f"W{l}"], grads[f"b{l}"] = dense_backward_batch(dZ, (cache.a_prev, cache.W))
        if l > 1:
            dZ = activation_backward(dA_prev, caches[l - 2].z, activations[l - 2])
    return grads, LOSSES[loss].cost(A_L, Y)


@checked_by(_check_batch)
def backprop_loop(
    X: Array,
    Y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
) -> tuple[Params, float]:
    """The same gradient as :func:`backprop_batch`, one example at a time.

    Runs lesson 04's single-example :func:`backprop` on each column and
    averages. Slow on purpose: it is the baseline the batch version is timed
    against. Shapes as in :func:`backprop_batch`.
    """
    m = X.shape[1]
    totals = {key: np.zeros_like(value) for key, value in params.items()}
    total_cost = 0.0
    for i in range(m):
        grads, cost = backprop(X[:, i : i + 1], Y[:, i : i + 1], params, activations, loss)
        for key, g in grads.items():
            totals[key] += g
        total_cost += cost
    return {key: g / m for key, g in totals.items()}, total_cost / m


def predict(X: Array, params: Mapping[str, Array], activations: Sequence[str]) -> Array:
    """Predicted class of each column: the index of the largest output.

    Shapes: X (n_0, m) -> (m,) integers.
    """
    A_L, _ = forward(X, params, activations)
    return np.argmax(A_L, axis=0)


@checked_by(_check_batch)
def evaluate(
    X: Array,
    Y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
) -> tuple[float, float]:
    """Mean cost and classification accuracy on a data set.

    Shapes: X (n_0, m), Y (n_L, m) one-hot columns -> (cost, accuracy in [0, 1]).
    """
    A_L, _ = forward(X, params, activations)
    accuracy = float(np.mean(np.argmax(A_L, axis=0) == np.argmax(Y, axis=0)))
    return LOSSES[loss].cost(A_L, Y), accuracy


def _check_sgd(
    params, X, Y, activations, loss, *, epochs, batch_size, eta, momentum=0.0, weight_decay=0.0,
    **_,
):  # fmt: skip
    _check_batch(X, Y, params, activations, loss)
    if (
        epochs < 0
        or batch_size < 1
        or not 0.0 <= momentum < 1.0
        or eta <= 0
        or not weight_decay >= 0.0
    ):
        raise ValueError(
            "need epochs >= 0, batch_size >= 1, eta > 0, 0 <= momentum < 1 and "
            f"weight_decay >= 0; got epochs={epochs}, batch_size={batch_size}, eta={eta}, "
            f"momentum={momentum}, weight_decay={weight_decay}"
        )


@checked_by(_check_sgd)
def sgd(
    params: Mapping[str, Array],
    X: Array,
    Y: Array,
    activations: Sequence[str],
    loss: str,
    *,
    epochs: int,
    batch_size: int,
    eta: float,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    seed: int | None = 0,
    callback: Callable[[int, Params], None] | None = None,
) -> tuple[Params, list[EpochRecord]]:
    """Mini-batch stochastic gradient descent with (heavy-ball) momentum and L2 weight decay.

    X holds the whole training set, N examples. Each epoch shuffles the N
    columns with a generator seeded by ``seed`` and walks through them
    ``batch_size`` at a time (the last batch may be smaller). The cost trained
    is C = C_0 + (lambda / 2N) sum_l ||W^l||^2 (Nielsen, chapter 3), lambda being
    ``weight_decay``: each step adds (lambda / N) W^l to the batch's weight
    gradients, whatever the batch size; biases are not decayed. For every
    parameter p with velocity v (starting at 0), with g that gradient:

        v <- momentum * v - eta * g
        p <- p + v

    Shapes: X (n_0, N), Y (n_L, N). ``params`` is not modified: the trained
    parameters are returned with one ``EpochRecord(epoch, cost)`` per epoch, the
    cost being the epoch's mean of the batch costs C_0 over its N examples
    (without the penalty). ``callback(epoch, params)``, if given, runs after
    every epoch (for progress bars and learning curves). Same seed, same result.
    """
    N = X.shape[1]
    rng = np.random.default_rng(seed)
    params = {key: np.array(value, copy=True) for key, value in params.items()}
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(N)
        total_cost = 0.0
        for start in range(0, N, batch_size):
            batch = order[start : start + batch_size]
            grads, cost = backprop_batch(X[:, batch], Y[:, batch], params, activations, loss)
            for key, g in grads.items():
                if key.startswith("W"):  # the penalty's gradient; biases are not decayed
                    g = g + (weight_decay / N) * params[key]
                velocity[key] = momentum * velocity[key] - eta * g
                params[key] = params[key] + velocity[key]
            total_cost += cost * len(batch)  # the batch's mean cost, weighted by its size
        history.append(EpochRecord(epoch, total_cost / N))
        if callback is not None:
            callback(epoch, params)
    return params, history
