"""Lesson 03, Jacobians: the chain rule for vectors, and why backprop never builds them.

For f: R^n -> R^k the Jacobian J[i, j] = d f_i / d x_j has shape (k, n).
The chain rule for a composition is a product of Jacobians, and backprop
multiplies from the left with a row vector: a vector-Jacobian product (VJP)
``v^T J``. Each VJP below computes that product without forming J, at the cost
of the forward operation instead of the cost of J.

Vectors here are single columns (n, 1), as in the notation card; Jacobians
are plain 2-D matrices. Weight matrices are flattened row by row
(``W.reshape(-1)``, numpy's default order), so entry W[i, j] is coordinate
``i * n_in + j``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backprop_course.structures import MultiplyAdds

from ._shapes import as_float_array, check_same_shape, check_shape, checked_by
from .forward_pass import softmax

Array = np.ndarray


def _check_numerical_jacobian(f: Callable[[Array], Array], x: Array, h: float = 1e-6) -> None:
    as_float_array("x", x)
    if not callable(f):
        raise ValueError(f"f must be a function of an array, got {type(f).__name__}")


@checked_by(_check_numerical_jacobian)
def numerical_jacobian(f: Callable[[Array], Array], x: Array, h: float = 1e-6) -> Array:
    """Jacobian of f at x by centred differences: (f(x + h e_j) - f(x - h e_j)) / 2h.

    Shapes: x any shape with n entries, f(x) any shape with k entries -> (k, n),
    both flattened row by row. x is not modified. The error is O(h^2) plus
    rounding of order eps/h; h = 1e-6 balances the two for float64.
    """
    x = np.array(x, dtype=np.float64)  # a copy: the caller's x stays as it is
    columns = []
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = h
        step = step.reshape(x.shape)
        f_plus = np.ravel(f(x + step))
        f_minus = np.ravel(f(x - step))
        columns.append((f_plus - f_minus) / (2 * h))  # column j: d f / d x_j
    return np.stack(columns, axis=1)


# -- elementwise maps a = sigma(z): the Jacobian is diagonal ----------------


def _check_column(sigma_prime: Callable[[Array], Array], z: Array) -> None:
    check_shape("z", z, (None, 1), "(n, 1)")


@checked_by(_check_column)
def elementwise_jacobian(sigma_prime: Callable[[Array], Array], z: Array) -> Array:
    """Jacobian of an elementwise map a = sigma(z): diag(sigma'(z)).

    Shapes: z (n, 1) -> (n, n). Nielsen's Sigma'(z).
    """
    return np.diag(sigma_prime(z)[:, 0])


def _check_vjp(v: Array, sigma_prime: Callable[[Array], Array], z: Array) -> None:
    check_shape("v", v, np.shape(z), "like z")


@checked_by(_check_vjp)
def elementwise_vjp(v: Array, sigma_prime: Callable[[Array], Array], z: Array) -> Array:
    """v^T diag(sigma'(z)), as the column v * sigma'(z): n multiplications, not n^2.

    Shapes: v (n, m), z (n, m) -> (n, m). Works column by column for a batch.
    """
    return v * sigma_prime(z)


# -- the linear map z = W a (+ b) ---------------------------------------------


def linear_jacobian_input(W: Array) -> Array:
    """Jacobian of z = W a + b with respect to a: W itself. Shapes: (k, n) -> (k, n)."""
    check_shape("W", W, (None, None), "(k, n)")
    return np.array(W, copy=True)


def _check_weights_and_input(W: Array, a: Array) -> None:
    check_shape("W", W, (None, None), "(k, n)")
    check_shape("a", a, (W.shape[1], 1), "(n, 1)")


@checked_by(_check_weights_and_input)
def linear_jacobian_weights(W: Array, a: Array) -> Array:
    """Jacobian of z = W a + b with respect to W, flattened row by row.

    d z_i / d W[p, j] = a_j if p == i else 0, so the result is block diagonal:
    row i holds a^T in columns i*n .. i*n + n - 1.
    Shapes: W (k, n), a (n, 1) -> (k, k * n).
    """
    k = W.shape[0]
    # Row i holds a^T in the i-th block of n columns: np.kron lays the blocks out.
    return np.kron(np.eye(k), a.T)


def _check_vjp_input(v: Array, W: Array) -> None:
    check_shape("W", W, (None, None), "(k, n)")
    check_shape("v", v, (W.shape[0], None), "(k, m)")


@checked_by(_check_vjp_input)
def linear_vjp_input(v: Array, W: Array) -> Array:
    """v^T (dz/da) = W^T v: the error passed back to the layer's input.

    Shapes: v (k, m), W (k, n) -> (n, m).
    """
    return W.T @ v


def _check_vjp_weights(v: Array, a: Array) -> None:
    check_shape("v", v, (None, None), "(k, m)")
    check_shape("a", a, (None, v.shape[1]), "(n, m)")


@checked_by(_check_vjp_weights)
def linear_vjp_weights(v: Array, a: Array) -> Array:
    """v^T (dz/dW), reshaped like W: the outer product v a^T (summed over columns).

    Shapes: v (k, m), a (n, m) -> (k, n). For one example this is BP4.
    """
    return v @ a.T


# -- softmax: a dense Jacobian with a cheap VJP --------------------------------


def _check_softmax_column(z: Array) -> None:
    check_shape("z", z, (None, 1), "(k, 1)")


@checked_by(_check_softmax_column)
def softmax_jacobian(z: Array) -> Array:
    """Jacobian of s = softmax(z): diag(s) - s s^T. Shapes: z (k, 1) -> (k, k)."""
    s = softmax(z)
    return np.diag(s[:, 0]) - s @ s.T


def _check_like(v: Array, z: Array) -> None:
    check_shape("v", v, np.shape(z), "like z")


@checked_by(_check_like)
def softmax_vjp(v: Array, z: Array) -> Array:
    """v^T J_softmax(z) as a column: s * (v - s^T v), in O(k) instead of O(k^2).

    Shapes: v (k, m), z (k, m) -> (k, m). Works column by column for a batch.
    """
    s = softmax(z)
    return s * (v - np.sum(s * v, axis=0, keepdims=True))


# -- softmax and cross-entropy together: the gradient with respect to the logits --------


def _check_targets(z: Array, y: Array) -> None:
    check_shape("z", z, (None, None), "(k, m): one column of logits per example")
    check_same_shape("z", z, "y", y)
    y = as_float_array("y", y)
    sums = np.sum(y, axis=0)
    bad = np.flatnonzero(np.any(y < 0, axis=0) | ~np.isclose(sums, 1.0, rtol=0.0, atol=1e-6))
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            "each column of y must be a probability distribution (entries >= 0 summing to 1): "
            f"column {j} sums to {sums[j]:.6g}"
            + (" and has a negative entry" if np.any(y[:, j] < 0) else "")
            + ". For targets of another total c, the gradient keeps that factor: "
            "c * softmax(z) - y."
        )


@checked_by(_check_targets)
def softmax_cross_entropy_gradient(z: Array, y: Array) -> Array:
    """Per-example gradient of softmax cross-entropy with respect to the logits z.

    One example's loss is C = -sum_i y_i log s_i with s = softmax(z). Composing
    dC/ds = -y / s with the softmax VJP gives s (1^T y) - y, and since each column
    of y sums to 1 this is s - y: no Jacobian, no division by s, finite for any
    logits (going through -y / s fails as soon as some s_i underflows to 0).
    Shapes: z (k, m) logits, y (k, m) targets whose columns are probability
    distributions (one-hot or soft labels; anything else raises ValueError)
    -> (k, m), column e the gradient of example e's loss (not divided by m).
    """
    return softmax(z) - y


# -- what materialising would cost ----------------------------------------------


def _check_sizes(n_out: int, n_in: int, m: int = 1) -> None:
    for name, n in (("n_out", n_out), ("n_in", n_in), ("m", m)):
        if int(n) != n or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")


@checked_by(_check_sizes)
def count_multiply_adds(n_out: int, n_in: int, m: int = 1) -> MultiplyAdds:
    """Count multiply-adds for dC/dW of a dense layer (n_out x n_in), over m examples.

    The sizes come in the order of W's shape (n_out, n_in): a 784 -> 256 layer
    (784 inputs, 256 outputs) is count_multiply_adds(256, 784).
    Materialising: v^T J with J of shape (n_out, n_out * n_in) costs
    n_out * n_out * n_in per example (most of J is zeros, but a generic
    matrix product does not know that). The VJP v a^T costs n_out * n_in.
    The ratio is n_out: a 784 -> 256 layer pays 256 times more, and J alone
    holds 256 * 256 * 784 ~ 51 million numbers per example.
    """
    return MultiplyAdds(materialised=m * n_out * n_out * n_in, vjp=m * n_out * n_in)
