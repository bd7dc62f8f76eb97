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

from ._shapes import check_same_shape, check_shape
from .forward_pass import Params, forward, get_activation, get_loss, num_layers

Array = np.ndarray


def output_error(a_L: Array, y: Array, z_L: Array, activation: str, loss: str) -> Array:
    """BP1: delta^L = grad_a C (.) sigma'(z^L).

    Shapes: a_L, y, z_L (n_L, m) -> delta^L (n_L, m); each column is one
    example's error (no 1/m here). With ``softmax_cross_entropy`` and an
    ``identity`` output layer this is softmax(z^L) - y.
    """
    check_same_shape("a_L", a_L, "z_L", z_L)
    grad_a = get_loss(loss).gradient(a_L, y)
    return grad_a * get_activation(activation).derivative(z_L)


def hidden_error(W_next: Array, delta_next: Array, z: Array, activation: str) -> Array:
    """BP2: delta^l = ((W^{l+1})^T delta^{l+1}) (.) sigma'(z^l).

    Shapes: W_next (n_{l+1}, n_l), delta_next (n_{l+1}, m), z (n_l, m)
    -> delta^l (n_l, m).
    """
    check_shape("W_next", W_next, (None, None), "(n_{l+1}, n_l)")
    n_next, n_l = W_next.shape
    check_shape("delta_next", delta_next, (n_next, None), "(n_{l+1}, m)")
    check_shape("z", z, (n_l, delta_next.shape[1]), "(n_l, m)")
    return (W_next.T @ delta_next) * get_activation(activation).derivative(z)


def bias_gradient(delta: Array) -> Array:
    """BP3 for one example: dC/db^l = delta^l. Shapes: (n_l, 1) -> (n_l, 1)."""
    check_shape("delta", delta, (None, 1), "(n_l, 1): one example (use mini_batch for m > 1)")
    return np.array(delta, copy=True)


def weight_gradient(delta: Array, a_prev: Array) -> Array:
    """BP4 for one example: dC/dW^l = delta^l (a^{l-1})^T.

    Shapes: delta (n_l, 1), a_prev (n_{l-1}, 1) -> (n_l, n_{l-1}), like W^l.
    """
    check_shape("delta", delta, (None, 1), "(n_l, 1): one example (use mini_batch for m > 1)")
    check_shape("a_prev", a_prev, (None, 1), "(n_{l-1}, 1)")
    return delta @ a_prev.T


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
    check_shape("x", x, (None, 1), "(n_0, 1): one example (use mini_batch for m > 1)")
    a_L, caches = forward(x, params, activations)
    check_shape("y", y, a_L.shape, "(n_L, 1) like the output a^L")
    L = num_layers(params)
    grads: Params = {}
    delta = output_error(a_L, y, caches[-1].z, activations[-1], loss)
    for l in range(L, 0, -1):
        cache = caches[l - 1]
        grads[f"W{l}"] = weight_gradient(delta, cache.a_prev)
        grads[f"b{l}"] = bias_gradient(delta)
        if l > 1:
            delta = hidden_error(cache.W, delta, caches[l - 2].z, activations[l - 2])
    return grads, get_loss(loss).cost(a_L, y)


def gradient_descent_update(
    params: Mapping[str, Array], grads: Mapping[str, Array], eta: float
) -> Params:
    """One gradient-descent step: p <- p - eta dC/dp for every parameter.

    Returns a NEW dict; ``params`` is left untouched. Parameters without a
    gradient in ``grads`` are copied unchanged (Mazur's example keeps the
    biases fixed this way). Shapes: each grads[k] like params[k].
    """
    unknown = set(grads) - set(params)
    if unknown:
        raise ValueError(f"grads has entries that params lacks: {sorted(unknown)}")
    updated: Params = {}
    for key, value in params.items():
        if key in grads:
            check_same_shape(f"grads[{key!r}]", grads[key], f"params[{key!r}]", value)
            updated[key] = value - eta * grads[key]
        else:
            updated[key] = np.array(value, copy=True)
    return updated
