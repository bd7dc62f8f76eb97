"""Gradient checking: compare an analytic gradient with centred differences.

The relative error of two arrays is

    |a - b| / max(eps, |a| + |b|)

with |.| the Euclidean norm of the whole array (the absolute value for
scalars). How to read it, in float64: below 1e-7 the gradient is right;
around 1e-4 something is suspicious (a kink of ReLU nearby, or a small bug);
above 1e-2 it is wrong.

Lesson 04's exercise :func:`~backprop_reference.matrix_form.gradient_check` (re-exported
here) reports, per parameter, that error and the worst single entry with its index.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .forward_pass import Params, get_loss
from .forward_pass import forward as network_forward
from .matrix_form import gradient_check, relative_error
from .mini_batch import backprop_batch

__all__ = [
    "check_network_gradients",
    "gradient_check",
    "network_numerical_gradients",
    "numerical_gradient",
    "relative_error",
]

Array = np.ndarray

GOOD = 1e-7
WRONG = 1e-2


def numerical_gradient(f: Callable[[Array], float], x: Array, h: float = 1e-6) -> Array:
    """Gradient of a scalar function by centred differences, shaped like x.

    Shapes: x any shape -> same shape. df/dx_j ~ (f(x + h e_j) - f(x - h e_j)) / 2h.
    x is perturbed in place and restored after every evaluation, so f sees
    a live view; the caller's array ends unchanged.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError("x must be a floating numpy array (it is perturbed in place)")
    grad = np.zeros_like(x, dtype=np.float64)
    flat_x = x.reshape(-1)  # a view: writes reach x
    if not np.shares_memory(flat_x, x):
        raise ValueError("x must be contiguous so it can be perturbed in place")
    flat_grad = grad.reshape(-1)
    for j in range(flat_x.size):
        original = flat_x[j]
        flat_x[j] = original + h
        f_plus = float(f(x))
        flat_x[j] = original - h
        f_minus = float(f(x))
        flat_x[j] = original
        flat_grad[j] = (f_plus - f_minus) / (2 * h)
    return grad


def network_numerical_gradients(
    X: Array,
    Y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
    h: float = 1e-6,
) -> Params:
    """Centred-difference gradient of the mean cost for every parameter.

    Shapes: X (n_0, m), Y (n_L, m); the result is shaped like ``params``.
    Costs two forward passes per parameter entry: for small networks only.
    """
    work = {key: np.array(value, dtype=np.float64, copy=True) for key, value in params.items()}
    cost = get_loss(loss).cost

    def cost_of_params(_: Array) -> float:
        A_L, _caches = network_forward(X, work, activations)
        return cost(A_L, Y)

    return {key: numerical_gradient(cost_of_params, work[key], h) for key in work}


def check_network_gradients(
    X: Array,
    Y: Array,
    params: Mapping[str, Array],
    activations: Sequence[str],
    loss: str,
    h: float = 1e-6,
) -> dict[str, float]:
    """Relative error between backprop's and centred differences' gradients.

    Returns one error per parameter ("W1", "b1", ...) and "all" for every
    gradient flattened into a single vector. Shapes as in
    :func:`network_numerical_gradients`.
    """
    analytic, _ = backprop_batch(X, Y, params, activations, loss)
    numeric = network_numerical_gradients(X, Y, params, activations, loss, h)
    errors = {key: relative_error(analytic[key], numeric[key]) for key in params}
    keys = list(params)
    errors["all"] = relative_error(
        np.concatenate([analytic[k].ravel() for k in keys]),
        np.concatenate([numeric[k].ravel() for k in keys]),
    )
    return errors
