"""Lesson 04, matrix form: the four backpropagation equations for one example.

With the error of layer l defined as delta^l = dC/dz^l (shape (n_l, 1)):

    BP1  delta^L = grad_a C  (.)  sigma'(z^L)
    BP2  delta^l = ((W^{l+1})^T delta^{l+1})  (.)  sigma'(z^l)
    BP3  dC/db^l = delta^l
    BP4  dC/dW^l = delta^l (a^{l-1})^T

(.) is the elementwise product. Dimension check for BP4: (n_l, 1) times
(1, n_{l-1}) gives (n_l, n_{l-1}), the shape of W^l, as it must.

Everything here is for ONE example, an (n_0, 1) column. Lesson 05
(:mod:`backprop_reference.mini_batch`) stacks m examples as columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._shapes import as_float_array, check_same_shape, check_shape, checked_by
from .forward_pass import (
    DERIVATIVES,
    LOSSES,
    Params,
    forward,
    get_activation,
    get_loss,
    num_layers,
)

Array = np.ndarray


def _check_output_error(a_L: Array, y: Array, z_L: Array, activation: str, loss: str) -> None:
    check_same_shape("a_L", a_L, "z_L", z_L)
    check_same_shape("y", y, "a_L", a_L)
    get_loss(loss)
    get_activation(activation)


@checked_by(_check_output_error)
def output_error(a_L: Array, y: Array, z_L: Array, activation: str, loss: str) -> Array:
    """BP1: delta^L = grad_a C (.) sigma'(z^L).

    Shapes: a_L, y, z_L (n_L, m) -> delta^L (n_L, m); each column is one
    example's error (no 1/m here). With ``softmax_cross_entropy`` and an
    ``identity`` output layer this is softmax(z^L) - y.
    """
    return LOSSES[loss].gradient(a_L, y) * DERIVATIVES[activation](z_L)


def _check_hidden_error(W_next: Array, delta_next: Array, z: Array, activation: str) -> None:
    check_shape("W_next", W_next, (None, None), "(n_{l+1}, n_l)")
    n_next, n_l = W_next.shape
    check_shape("delta_next", delta_next, (n_next, None), "(n_{l+1}, m)")
    check_shape("z", z, (n_l, delta_next.shape[1]), "(n_l, m)")
    get_activation(activation)


@checked_by(_check_hidden_error)
def hidden_error(W_next: Array, delta_next: Array, z: Array, activation: str) -> Array:
    """BP2: delta^l = ((W^{l+1})^T delta^{l+1}) (.) sigma'(z^l).

    Shapes: W_next (n_{l+1}, n_l), delta_next (n_{l+1}, m), z (n_l, m)
    -> delta^l (n_l, m).
    """
    return (W_next.T @ delta_next) * DERIVATIVES[activation](z)


def _check_one_example(delta: Array) -> None:
    check_shape("delta", delta, (None, 1), "(n_l, 1): one example (use mini_batch for m > 1)")


@checked_by(_check_one_example)
def bias_gradient(delta: Array) -> Array:
    """BP3 for one example: dC/db^l = delta^l. Shapes: (n_l, 1) -> (n_l, 1)."""
    return np.array(delta, copy=True)


def _check_weight_gradient(delta: Array, a_prev: Array) -> None:
    _check_one_example(delta)
    check_shape("a_prev", a_prev, (None, 1), "(n_{l-1}, 1)")


@checked_by(_check_weight_gradient)
def weight_gradient(delta: Array, a_prev: Array) -> Array:
    """BP4 for one example: dC/dW^l = delta^l (a^{l-1})^T.

    Shapes: delta (n_l, 1), a_prev (n_{l-1}, 1) -> (n_l, n_{l-1}), like W^l.
    """
    return delta @ a_prev.T


def _check_backprop(
    x: Array, y: Array, params: Mapping[str, Array], activations: Sequence[str], loss: str
) -> None:
    check_shape("x", x, (None, 1), "(n_0, 1): one example (use mini_batch for m > 1)")
    L = num_layers(params)
    check_shape("y", y, (np.shape(params[f"W{L}"])[0], 1), "(n_L, 1) like the output a^L")
    get_loss(loss)


@checked_by(_check_backprop)
def backprop(
    x: Array,
    y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
) -> tuple[Params, float]:
    """Gradient of the cost of one example with respect to every parameter.

    Shapes:
        x       (n_0, 1)
        y       (n_L, 1)
        params  W^l (n_l, n_{l-1}), b^l (n_l, 1)
    Returns ``(grads, cost)`` where grads["Wl"] is like W^l and grads["bl"]
    like b^l. One forward pass, then BP1, and BP2-BP4 from layer L down to 1.
    """
    a_L, caches = forward(x, params, activations)
    grads = {}
    delta = output_error(a_L, y, caches[-1].z, activations[-1], loss)
    for l in range(len(caches), 0, -1):
        cache = caches[l - 1]
        grads[f"W{l}"] = weight_gradient(delta, cache.a_prev)
        grads[f"b{l}"] = bias_gradient(delta)
        if l > 1:  # BP2 carries the error one layer down
            delta = hidden_error(cache.W, delta, caches[l - 2].z, activations[l - 2])
    return grads, LOSSES[loss].cost(a_L, y)


def _check_update(params: Mapping[str, Array], grads: Mapping[str, Array], eta: float) -> None:
    unknown = set(grads) - set(params)
    if unknown:
        raise ValueError(f"grads has entries that params lacks: {sorted(unknown)}")
    for key in grads:
        check_same_shape(f"grads[{key!r}]", grads[key], f"params[{key!r}]", params[key])


@checked_by(_check_update)
def gradient_descent_update(
    params: Mapping[str, Array], grads: Mapping[str, Array], eta: float
) -> Params:
    """One gradient-descent step: p <- p - eta dC/dp for every parameter.

    Returns a NEW dict; ``params`` is left untouched. Parameters without a
    gradient in ``grads`` are copied unchanged (Mazur's example keeps the
    biases fixed this way). Shapes: each grads[k] like params[k].
    """
    return {
        key: value - eta * grads[key] if key in grads else np.array(value, copy=True)
        for key, value in params.items()
    }


def _check_pair_of_arrays(a: Array | float, b: Array | float, eps: float = 1e-12) -> None:
    check_same_shape("a", as_float_array("a", a), "b", as_float_array("b", b))


@checked_by(_check_pair_of_arrays)
def relative_error(a: Array | float, b: Array | float, eps: float = 1e-12) -> float:
    """|a - b| / max(eps, |a| + |b|) with Euclidean norms. Shapes: a like b -> scalar.

    Below 1e-7 two gradients agree; above 1e-2 one of them is wrong. Two exact
    zeros give 0: ``eps`` only guards that 0/0 case.
    """
    diff = np.linalg.norm(np.ravel(np.subtract(a, b)))
    scale = np.linalg.norm(np.ravel(a)) + np.linalg.norm(np.ravel(b))
    return float(diff / max(eps, scale))


def bp4_shapes(sizes: Sequence[int], l: int) -> dict[str, tuple[int, int]]:
    """The shapes in BP4 for layer l of a network with sizes [n_0, ..., n_L], one example.

    Shapes: {"delta": (n_l, 1), "a_prev_T": (1, n_{l-1}), "dC_dW": (n_l, n_{l-1})}:
    a column times a row is a matrix shaped like W^l.
    """
    return {
        "delta": (sizes[l], 1),
        "a_prev_T": (1, sizes[l - 1]),
        "dC_dW": (sizes[l], sizes[l - 1]),
    }
