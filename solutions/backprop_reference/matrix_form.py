"""Lesson 04, matrix form: the four backpropagation equations for one example.

With the error of layer l defined as delta^l = dC/dz^l (shape (n_l, 1)):

    BP1  delta^L = grad_a C  (.)  sigma'(z^L)
    BP2  delta^l = ((W^{l+1})^T delta^{l+1})  (.)  sigma'(z^l)
    BP3  dC/db^l = delta^l
    BP4  dC/dW^l = delta^l (a^{l-1})^T

(.) is the elementwise product. Dimension check for BP4: (n_l, 1) times
(1, n_{l-1}) gives (n_l, n_{l-1}), the shape of W^l, as it must.

A sigmoid output with the binary cross-entropy has grad_a C = (a - y) / (a (1 - a))
and sigma'(z) = a (1 - a): they cancel, and delta^L = a - y (Nielsen, chapter 3).

The backward pass is built from two layer functions (CS231n's pattern):
``activation_backward`` (the elementwise VJP, the sigma' half of BP1 and BP2) and
``dense_backward`` (BP4, BP3 and the (W^l)^T half of BP2); ``backprop`` is a loop
over them. ``gradient_check`` compares any analytic gradient with centred
differences, parameter by parameter and entry by entry.

Everything here is for ONE example, an (n_0, 1) column. Lesson 05
(:mod:`backprop_reference.mini_batch`) stacks m examples as columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from backprop_course.structures import GradientCheck, LayerCache, Loss

from ._shapes import as_float_array, check_same_shape, check_shape, checked_by
from .forward_pass import (
    ACTIVATIONS,
    DERIVATIVES,
    Params,
    _check_pair,
    forward,
    get_activation,
    num_layers,
)
from .forward_pass import LOSSES as LESSON_01_LOSSES

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "LOSSES",
    "GradientCheck",
    "LayerCache",
    "activation_backward",
    "backprop",
    "binary_cross_entropy",
    "binary_cross_entropy_gradient",
    "dense_backward",
    "forward",
    "get_loss",
    "gradient_check",
    "gradient_descent_update",
    "hidden_error",
    "output_error",
    "relative_error",
    "weight_gradient",
]

Array = np.ndarray

# --------------------------------------------------------------------------
# The binary cross-entropy, for a sigmoid output (lesson 04 adds it to lesson 01's losses).
# --------------------------------------------------------------------------

CLIP = 1e-15  # a saturated output (a = 0 or 1 in floating point) must not give log 0


@checked_by(_check_pair)
def binary_cross_entropy(a: Array, y: Array) -> float:
    """C = mean over columns of  -sum_j [y_j log a_j + (1 - y_j) log(1 - a_j)].

    Shapes: a (n_L, m) with entries in (0, 1) (a sigmoid output), y (n_L, m) with
    entries in [0, 1] -> scalar. a is clipped to [1e-15, 1 - 1e-15] so that a
    saturated output gives a large cost instead of inf or nan.
    """
    a = np.clip(a, CLIP, 1.0 - CLIP)
    return float(np.mean(-np.sum(y * np.log(a) + (1.0 - y) * np.log(1.0 - a), axis=0)))


@checked_by(_check_pair)
def binary_cross_entropy_gradient(a: Array, y: Array) -> Array:
    """Per-example gradient with respect to a: -y/a + (1 - y)/(1 - a). Shapes: (n_L, m).

    It equals (a - y) / (a (1 - a)), and divides by zero where a saturates (a = 1 or
    0 exactly): BP1 with a sigmoid output cancels that factor on paper instead (see
    :func:`output_error`).
    """
    return -y / a + (1.0 - y) / (1.0 - a)


LOSSES: dict[str, Loss] = {
    **LESSON_01_LOSSES,
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", binary_cross_entropy, binary_cross_entropy_gradient
    ),
}


def get_loss(name: str) -> Loss:
    """Look a loss up by name; unknown names list the known ones."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; choose one of: {known}") from None


# --------------------------------------------------------------------------
# Checking a gradient: the relative error, and the whole-network gradient check.
# --------------------------------------------------------------------------


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


def _check_gradient_check(
    cost: Callable[[Mapping[str, Array]], float],
    params: Mapping[str, Array],
    grads: Mapping[str, Array],
    h: float = 1e-6,
) -> None:
    if not callable(cost):
        raise ValueError(f"cost must be a function of a dict of parameters, got {cost!r:.60}")
    if not isinstance(params, Mapping) or not isinstance(grads, Mapping):
        raise ValueError("params and grads must be dicts name -> array")
    unknown = set(grads) - set(params)
    if unknown:
        raise ValueError(f"grads has entries that params lacks: {sorted(unknown)}")
    for key in grads:
        check_same_shape(f"grads[{key!r}]", grads[key], f"params[{key!r}]", params[key])
    if not h > 0:
        raise ValueError(f"h must be a positive step, got {h!r}")


@checked_by(_check_gradient_check)
def gradient_check(
    cost: Callable[[Mapping[str, Array]], float],
    params: Mapping[str, Array],
    grads: Mapping[str, Array],
    h: float = 1e-6,
) -> dict[str, GradientCheck]:
    """Every parameter's analytic gradient against centred differences of the cost.

    Shapes:
        cost    params dict -> float C
        params  dict name -> array of any shape (W^l (n_l, n_{l-1}), b^l (n_l, 1), ...)
        grads   dict name -> array like params[name], for some or all of the names
    Returns {name: GradientCheck(relative_error, worst_index, worst_error)}, one per
    key of grads, in its order. Each entry of params[name] is moved by +h and -h
    in a working copy, one at a time and put back after: dC/dtheta_i ~
    (C(theta + h e_i) - C(theta - h e_i)) / 2h; ``params`` itself is not changed.
    The entry errors divide by |g_i| + |n_i|, but never by less than its mean over
    the array: where both gradients are about 0 their difference is rounding.
    """
    work = {key: np.array(value, dtype=float) for key, value in params.items()}
    report = {}
    for key, analytic in grads.items():
        theta = work[key]
        numeric = np.zeros(theta.shape)
        for index in np.ndindex(theta.shape):
            original = theta[index]
            theta[index] = original + h
            cost_plus = cost(work)
            theta[index] = original - h
            cost_minus = cost(work)
            theta[index] = original  # put back before the next entry moves
            numeric[index] = (cost_plus - cost_minus) / (2 * h)
        size = np.abs(analytic) + np.abs(numeric)
        floor = max(np.mean(size), 1e-12)  # 1e-12: both arrays all zero
        errors = np.abs(analytic - numeric) / np.maximum(size, floor)
        worst = np.unravel_index(np.argmax(errors), errors.shape)
        report[key] = GradientCheck(
            relative_error(analytic, numeric), tuple(int(i) for i in worst), float(errors[worst])
        )
    return report


# --------------------------------------------------------------------------
# The four equations, one example at a time.
# --------------------------------------------------------------------------


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
    ``identity`` output layer this is softmax(z^L) - y; with
    ``binary_cross_entropy`` and a ``sigmoid`` output it is a^L - y, written so
    (sigma' cancelled on paper) because the product divides 0 by 0 where a
    saturates.
    """
    if activation == "sigmoid" and loss == "binary_cross_entropy":
        return a_L - y  # the sigma'(z) = a (1 - a) of the sigmoid cancels the loss's
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


def _check_weight_gradient(delta: Array, a_prev: Array) -> None:
    _check_one_example(delta)
    check_shape("a_prev", a_prev, (None, 1), "(n_{l-1}, 1)")


@checked_by(_check_weight_gradient)
def weight_gradient(delta: Array, a_prev: Array) -> Array:
    """BP4 for one example: dC/dW^l = delta^l (a^{l-1})^T.

    Shapes: delta (n_l, 1), a_prev (n_{l-1}, 1) -> (n_l, n_{l-1}), like W^l.
    """
    return delta @ a_prev.T


# --------------------------------------------------------------------------
# The layers' backward passes, and backprop as a loop over them.
# --------------------------------------------------------------------------


def _check_activation_backward(da: Array, z: Array, activation: str) -> None:
    check_same_shape("da", da, "z", z)
    get_activation(activation)


@checked_by(_check_activation_backward)
def activation_backward(da: Array, z: Array, activation: str) -> Array:
    """An activation layer's backward pass: dz = da (.) sigma'(z), the elementwise VJP.

    Shapes: da = dC/da (n_l, m), z (n_l, m) -> dz = dC/dz (n_l, m); any m.
    """
    return da * DERIVATIVES[activation](z)


def _check_dense_backward(dz: Array, cache: tuple[Array, Array]) -> None:
    check_shape("dz", dz, (None, 1), "(n_l, 1): one example (lesson 05 takes m)")
    if not isinstance(cache, (tuple, list)) or len(cache) != 2:
        raise ValueError("cache must be the pair (a_prev, W) that dense_forward returns")
    a_prev, W = cache
    check_shape("W", W, (dz.shape[0], None), "(n_l, n_{l-1})")
    check_shape("a_prev", a_prev, (W.shape[1], 1), "(n_{l-1}, 1)")


@checked_by(_check_dense_backward)
def dense_backward(dz: Array, cache: tuple[Array, Array]) -> tuple[Array, Array, Array]:
    """A dense layer's backward pass, z = W a_prev + b, for ONE example.

    Shapes:
        dz       (n_l, 1)        dC/dz, the layer's error delta^l
        cache    (a_prev (n_{l-1}, 1), W (n_l, n_{l-1})), from dense_forward
    Returns ``(da_prev, dW, db)``: dC/da_prev (n_{l-1}, 1), the first half of BP2;
    dC/dW (n_l, n_{l-1}), BP4; dC/db (n_l, 1), BP3, a new array (never dz itself).
    """
    a_prev, W = cache
    return W.T @ dz, weight_gradient(dz, a_prev), np.array(dz, copy=True)


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
    like b^l. One forward pass, BP1, then from layer L down to 1 the dense layer's
    backward pass and, below it, the activation's.
    """
    a_L, caches = forward(x, params, activations)
    grads = {}
    delta = output_error(a_L, y, caches[-1].z, activations[-1], loss)
    for l in range(len(caches), 0, -1):
        cache = caches[l - 1]
        da_prev, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(delta, (cache.a_prev, cache.W))
        if l > 1:  # BP2's second half: through the activation of layer l - 1
            delta = activation_backward(da_prev, caches[l - 2].z, activations[l - 2])
    return grads, LOSSES[loss].cost(a_L, y)


# --------------------------------------------------------------------------
# One step of gradient descent.
# --------------------------------------------------------------------------


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
