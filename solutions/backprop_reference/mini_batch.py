"""Lesson 05, mini-batches: backprop for m examples at once, and SGD with momentum.

Stack the m examples of a batch as the columns of X (n_0, m). The forward
pass is unchanged (``W X`` transforms every column at once), and the errors
of all examples form Delta^l (n_l, m), one column per example. Because the
cost is the MEAN of the per-example losses, its gradient is the mean of the
per-example gradients:

    dC/dW^l = (1/m) Delta^l (A^{l-1})^T      (the sum over examples is inside the product)
    dC/db^l = (1/m) Delta^l 1                (sum the columns: axis=1)

One matrix product per layer replaces a Python loop over examples, which is
where the speed comes from (``make bench`` measures it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backprop_course.structures import EpochRecord

from ._shapes import check_column_batch, check_shape, checked_by
from .forward_pass import LOSSES, Params, forward, get_loss, num_layers
from .matrix_form import backprop, hidden_error, output_error

Array = np.ndarray


def _check_batch_weight_gradient(Delta: Array, A_prev: Array) -> None:
    check_column_batch("Delta", Delta)
    check_shape("A_prev", A_prev, (None, Delta.shape[1]), "(n_{l-1}, m): same m as Delta")


@checked_by(_check_batch_weight_gradient)
def batch_weight_gradient(Delta: Array, A_prev: Array) -> Array:
    """dC/dW^l = (1/m) Delta^l (A^{l-1})^T.

    Shapes: Delta (n_l, m), A_prev (n_{l-1}, m) -> (n_l, n_{l-1}).
    """
    # Divide the smaller factor: Delta is (n_l, m), the product (n_l, n_{l-1}).
    return (Delta / Delta.shape[1]) @ A_prev.T


def _check_delta(Delta: Array) -> None:
    check_column_batch("Delta", Delta)


@checked_by(_check_delta)
def batch_bias_gradient(Delta: Array) -> Array:
    """dC/db^l = (1/m) Delta^l 1: the mean over examples (columns, axis=1).

    Shapes: Delta (n_l, m) -> (n_l, 1).
    """
    return Delta.sum(axis=1, keepdims=True) / Delta.shape[1]


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
    """Gradient of the mean cost over a batch, fully matrix-based.

    Shapes:
        X       (n_0, m)
        Y       (n_L, m)
        params  W^l (n_l, n_{l-1}), b^l (n_l, 1)
    Returns ``(grads, cost)``: grads["Wl"] like W^l, grads["bl"] like b^l.
    No gradient is computed for the input X (nothing would use it).
    """
    A_L, caches = forward(X, params, activations)
    grads = {}
    Delta = output_error(A_L, Y, caches[-1].z, activations[-1], loss)  # (n_L, m)
    for l in range(len(caches), 0, -1):
        cache = caches[l - 1]
        grads[f"W{l}"] = batch_weight_gradient(Delta, cache.a_prev)
        grads[f"b{l}"] = batch_bias_gradient(Delta)
        if l > 1:
            Delta = hidden_error(cache.W, Delta, caches[l - 2].z, activations[l - 2])
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


def _check_sgd(params, X, Y, activations, loss, *, epochs, batch_size, eta, momentum=0.0, **_):
    _check_batch(X, Y, params, activations, loss)
    if epochs < 0 or batch_size < 1 or not 0.0 <= momentum < 1.0 or eta <= 0:
        raise ValueError(
            "need epochs >= 0, batch_size >= 1, eta > 0 and 0 <= momentum < 1; got "
            f"epochs={epochs}, batch_size={batch_size}, eta={eta}, momentum={momentum}"
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
    seed: int | None = 0,
    callback: Callable[[int, Params], None] | None = None,
) -> tuple[Params, list[EpochRecord]]:
    """Mini-batch stochastic gradient descent with (heavy-ball) momentum.

    Each epoch shuffles the m columns with a generator seeded by ``seed`` and
    walks through them ``batch_size`` at a time (the last batch may be
    smaller). For every parameter p with velocity v (starting at 0):

        v <- momentum * v - eta * dC/dp
        p <- p + v

    Shapes: X (n_0, m), Y (n_L, m). ``params`` is not modified: the trained
    parameters are returned with one ``EpochRecord(epoch, cost)`` per epoch.
    ``callback(epoch, params)``, if given, runs after every epoch (for
    progress bars and learning curves). Same seed, same result.
    """
    m = X.shape[1]
    rng = np.random.default_rng(seed)
    params = {key: np.array(value, copy=True) for key, value in params.items()}
    velocity = {key: np.zeros_like(value) for key, value in params.items()}
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(m)
        total_cost = 0.0
        for start in range(0, m, batch_size):
            batch = order[start : start + batch_size]
            grads, cost = backprop_batch(X[:, batch], Y[:, batch], params, activations, loss)
            for key, g in grads.items():
                velocity[key] = momentum * velocity[key] - eta * g
                params[key] = params[key] + velocity[key]
            total_cost += cost * len(batch)  # the batch's mean cost, weighted by its size
        history.append(EpochRecord(epoch, total_cost / m))
        if callback is not None:
            callback(epoch, params)
    return params, history
