"""Lesson 01, the forward pass: layers, activations, losses, an L-layer network.

Notation (the course's notation card): layers l = 1..L, ``z^l = W^l a^{l-1} + b^l``,
``a^l = sigma(z^l)``, ``a^0 = x``. ``W^l`` has shape (n_l, n_{l-1}), ``b^l`` has
shape (n_l, 1), and **columns are examples**: a batch of m inputs is (n_0, m).
Every function also accepts a single example as an (n, 1) column.

Arrays keep their floating dtype (float64 unless you pass float32), so the same
code serves grading (float64) and benchmarks (both).

Each activation's derivative sits right under it; backprop (lessons 04 and 05)
only ever needs ``sigma'(z)``, evaluated at the pre-activation z.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from backprop_course.structures import LayerCache, Loss

from ._shapes import as_float_array, check_column_batch, check_same_shape, check_shape, checked_by

Array = np.ndarray
Params = dict[str, Array]

# --------------------------------------------------------------------------
# Activations, each followed by its derivative sigma'(z).
# All are elementwise: z and the result have the same shape (n, m).
# --------------------------------------------------------------------------


def identity(z: Array) -> Array:
    """sigma(z) = z. Shapes: z (n, m) -> (n, m). Used for logits and regression."""
    return np.array(z, copy=True)


def identity_prime(z: Array) -> Array:
    """sigma'(z) = 1. Shapes: z (n, m) -> (n, m)."""
    return np.ones_like(z)


def sigmoid(z: Array) -> Array:
    """Logistic function 1 / (1 + e^{-z}), safe for any |z|.

    Shapes: z (n, m) -> (n, m).

    For z below about -709 (float64) or -88 (float32), e^{-z} overflows to
    inf and 1 / (1 + inf) = 0 is the correct limit, so that overflow is
    harmless and silenced here; nothing else can go wrong. Written in place
    because backprop spends much of its non-matrix time here.
    """
    z = np.asarray(z)
    if z.dtype.kind != "f":
        z = z.astype(np.float64)
    with np.errstate(over="ignore"):
        s = np.negative(z)
        np.exp(s, out=s)
    s += 1.0
    np.divide(1.0, s, out=s)
    return s


def sigmoid_prime(z: Array) -> Array:
    """sigma'(z) = sigma(z) (1 - sigma(z)). Shapes: z (n, m) -> (n, m)."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: Array) -> Array:
    """Hyperbolic tangent. Shapes: z (n, m) -> (n, m)."""
    return np.tanh(z)


def tanh_prime(z: Array) -> Array:
    """tanh'(z) = 1 - tanh(z)^2. Shapes: z (n, m) -> (n, m)."""
    t = np.tanh(z)
    return 1.0 - t * t


def relu(z: Array) -> Array:
    """max(0, z). Shapes: z (n, m) -> (n, m)."""
    return np.maximum(z, 0)


def relu_prime(z: Array) -> Array:
    """1 where z > 0, else 0 (the course takes 0 at the kink z = 0).

    Shapes: z (n, m) -> (n, m).
    """
    # Keep float32 as float32; integers become float64.
    return (np.asarray(z) > 0).astype(np.result_type(z, 0.5))


class Activation(NamedTuple):
    """An elementwise activation and its derivative, both functions of z."""

    name: str
    function: Callable[[Array], Array]
    derivative: Callable[[Array], Array]


# Networks name their activations; these two tables turn a name into sigma and sigma'.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "identity": identity,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
}
DERIVATIVES: dict[str, Callable[[Array], Array]] = {
    "identity": identity_prime,
    "sigmoid": sigmoid_prime,
    "tanh": tanh_prime,
    "relu": relu_prime,
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name; unknown names list the known ones."""
    try:
        return Activation(name, ACTIVATIONS[name], DERIVATIVES[name])
    except (KeyError, TypeError):
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {known}") from None


# --------------------------------------------------------------------------
# Softmax over the classes of each column (axis 0).
# --------------------------------------------------------------------------


def softmax(z: Array) -> Array:
    """softmax of each column: exp(z_k) / sum_j exp(z_j).

    Shapes: z (k, m) -> (k, m); every column is positive and sums to 1.
    """
    # Subtracting each column's maximum changes nothing mathematically (it
    # cancels between numerator and denominator) but keeps exp from overflowing.
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def log_softmax(z: Array) -> Array:
    """log softmax of each column, without overflow for any |z|.

    Shapes: z (k, m) -> (k, m). Subtracting the column maximum leaves the
    result unchanged and keeps every exponent <= 0.
    """
    z = np.asarray(z)
    shifted = z - np.max(z, axis=0, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))


# --------------------------------------------------------------------------
# Losses. The cost C of a batch is the MEAN over its m columns of the
# per-example loss. Each loss is followed by its gradient: the per-example
# gradient columns (n_L, m), NOT divided by m; the 1/m enters in BP3/BP4
# (lesson 05), so the same gradient serves one example and a batch.
# --------------------------------------------------------------------------


def _check_pair(a: Array, y: Array, a_name: str = "a") -> None:
    check_column_batch(a_name, a)
    check_same_shape(a_name, a, "y", y)


@checked_by(_check_pair)
def half_squared_error(a: Array, y: Array) -> float:
    """C = mean over columns of  sum_j 1/2 (a_j - y_j)^2  (Mazur's E_total).

    Shapes: a (n_L, m), y (n_L, m) -> scalar.
    """
    return float(np.mean(0.5 * np.sum((a - y) ** 2, axis=0)))


def half_squared_error_gradient(a: Array, y: Array) -> Array:
    """Per-example gradient with respect to a: a - y. Shapes: (n_L, m) -> (n_L, m)."""
    _check_pair(a, y)
    return a - y


def mean_squared_error(a: Array, y: Array) -> float:
    """C = mean over columns of  (1/n_L) sum_j (a_j - y_j)^2.

    Shapes: a (n_L, m), y (n_L, m) -> scalar.
    """
    _check_pair(a, y)
    return float(np.mean((a - y) ** 2))


def mean_squared_error_gradient(a: Array, y: Array) -> Array:
    """Per-example gradient: 2 (a - y) / n_L. Shapes: (n_L, m) -> (n_L, m)."""
    _check_pair(a, y)
    return 2.0 * (a - y) / a.shape[0]


def softmax_cross_entropy(z: Array, y: Array) -> float:
    """C = mean over columns of  -sum_k y_k log softmax(z)_k, from the logits z.

    Shapes: z (k, m) logits, y (k, m) targets (usually one-hot) -> scalar.
    Computed with log_softmax, so it stays finite for any |z|.
    """
    _check_pair(z, y, "z")
    return float(np.mean(-np.sum(y * log_softmax(z), axis=0)))


def softmax_cross_entropy_gradient(z: Array, y: Array) -> Array:
    """Per-example gradient with respect to the logits: softmax(z) sum_k y_k - y.

    For one-hot (or any probability) targets this is the familiar softmax(z) - y.
    Shapes: (k, m) -> (k, m).
    """
    _check_pair(z, y, "z")
    return softmax(z) * np.sum(y, axis=0, keepdims=True) - y


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("half_squared_error", half_squared_error, half_squared_error_gradient),
        Loss("mean_squared_error", mean_squared_error, mean_squared_error_gradient),
        Loss("softmax_cross_entropy", softmax_cross_entropy, softmax_cross_entropy_gradient),
    )
}


def get_loss(name: str) -> Loss:
    """Look a loss up by name; unknown names list the known ones."""
    try:
        return LOSSES[name]
    except KeyError:
        known = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; choose one of: {known}") from None


# --------------------------------------------------------------------------
# One dense layer, CS231n style: forward returns (out, cache).
# --------------------------------------------------------------------------


def _check_dense_forward(W: Array, b: Array, a_prev: Array) -> None:
    W = as_float_array("W", W)
    check_shape("W", W, (None, None), "(n_l, n_{l-1})")
    if np.ndim(b) == 2 and np.ndim(a_prev) == 2:
        # When b and a_prev fit a transposed W, W is the one to blame.
        expected = (np.shape(b)[0], np.shape(a_prev)[0])
        if W.shape == expected[::-1]:
            check_shape("W", W, expected, "(n_l, n_{l-1})")
    n_l, n_prev = W.shape
    check_shape("b", b, (n_l, 1), "(n_l, 1)")
    check_shape("a_prev", a_prev, (n_prev, None), "(n_{l-1}, m)")


@checked_by(_check_dense_forward)
def dense_forward(W: Array, b: Array, a_prev: Array) -> tuple[Array, tuple[Array, Array]]:
    """Pre-activation of a dense layer: z = W a_prev + b.

    Shapes:
        W       (n_l, n_{l-1})
        b       (n_l, 1)       broadcast over the m columns
        a_prev  (n_{l-1}, m)
        z       (n_l, m)
    Returns ``(z, cache)`` with ``cache = (a_prev, W)``: exactly what the backward
    pass of this step, ``dense_backward(dz, cache)`` (lesson 04), needs. It needs
    no b, and z belongs to the activation's backward pass (``layer_forward`` keeps it).
    """
    z = W @ a_prev + b
    return z, (a_prev, W)


def _check_layer_forward(W: Array, b: Array, a_prev: Array, activation: str) -> None:
    get_activation(activation)
    _check_dense_forward(W, b, a_prev)


@checked_by(_check_layer_forward)
def layer_forward(W: Array, b: Array, a_prev: Array, activation: str) -> tuple[Array, LayerCache]:
    """One full layer: a = sigma(W a_prev + b).

    Shapes: W (n_l, n_{l-1}), b (n_l, 1), a_prev (n_{l-1}, m) -> a (n_l, m).
    Returns ``(a, cache)`` with a :class:`~backprop_course.structures.LayerCache`
    ``(a_prev, W, z, a, activation)``: everything layer l's backward pass needs.
    """
    z, _ = dense_forward(W, b, a_prev)
    a = ACTIVATIONS[activation](z)
    return a, LayerCache(a_prev, W, z, a, activation)


# --------------------------------------------------------------------------
# Parameters and the L-layer network.
# --------------------------------------------------------------------------


def num_layers(params: Mapping[str, Array]) -> int:
    """L, the number of layers in ``params`` = {"W1", "b1", ..., "WL", "bL"}.

    Shapes: W^l (n_l, n_{l-1}) and b^l (n_l, 1) for l = 1..L; only the keys are read.
    """
    if not isinstance(params, Mapping):
        raise ValueError(
            f"params must be a dict {{'W1': ..., 'b1': ..., ...}}, got {type(params).__name__}"
        )
    L = sum(1 for key in params if key.startswith("W"))
    missing = [f"{p}{l}" for l in range(1, L + 1) for p in "Wb" if f"{p}{l}" not in params]
    if L == 0 or missing:
        raise ValueError(
            "params must hold W1, b1, ..., WL, bL"
            + (f"; missing {', '.join(missing)}" if missing else "; it holds no W1")
        )
    return L


# The initialisation schemes of init_params (see its docstring).
INIT_SCHEMES = ("lecun", "glorot", "he")


def _check_init_params(
    sizes: Sequence[int], seed: int | None = 0, scheme: str = "lecun", dtype: object = None
) -> None:
    if len(sizes) < 2 or any(int(n) != n or n < 1 for n in sizes):
        raise ValueError(
            f"sizes must be at least two positive integers [n_0, ..., n_L], got {sizes!r}"
        )
    if scheme not in INIT_SCHEMES:
        known = ", ".join(INIT_SCHEMES)
        raise ValueError(f"unknown scheme {scheme!r}; choose one of: {known}")


@checked_by(_check_init_params)
def init_params(
    sizes: Sequence[int],
    seed: int | None = 0,
    scheme: str = "lecun",
    dtype: np.dtype | type = np.float64,
) -> Params:
    """Random weights and zero biases for a network with layer sizes n_0..n_L.

    ``sizes = [n_0, n_1, ..., n_L]`` gives ``W^l`` shape (n_l, n_{l-1}) and
    ``b^l`` shape (n_l, 1), returned as {"W1": ..., "b1": ..., ...}.
    ``scheme`` picks the variance of every W^l's entries:
    "lecun"  1 / n_{l-1}             (LeCun et al. 1998; sigmoid, tanh),
    "glorot" 2 / (n_{l-1} + n_l)     (Glorot and Bengio 2010, also called "Xavier"),
    "he"     2 / n_{l-1}             (He et al. 2015; layers whose inputs are ReLU outputs).
    Same seed, same parameters.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        n_l, n_prev = int(sizes[l]), int(sizes[l - 1])
        variance = {
            "lecun": 1.0 / n_prev,  # fan-in
            "glorot": 2.0 / (n_prev + n_l),  # fan-in and fan-out
            "he": 2.0 / n_prev,  # fan-in, doubled: the inputs are ReLU outputs
        }[scheme]
        W = rng.standard_normal((n_l, n_prev)) * np.sqrt(variance)
        params[f"W{l}"] = W.astype(dtype)
        params[f"b{l}"] = np.zeros((n_l, 1), dtype=dtype)  # a column, not a 1-D array
    return params


def _check_activations(activations: Sequence[str], L: int) -> None:
    if len(activations) != L:
        raise ValueError(
            f"need one activation per layer: the network has L = {L} layers "
            f"but {len(activations)} activations were given ({list(activations)})"
        )
    for name in activations:
        get_activation(name)


def _check_forward(x: Array, params: Mapping[str, Array], activations: Sequence[str]) -> None:
    L = num_layers(params)
    _check_activations(activations, L)
    x = as_float_array("x", x)
    check_column_batch("x", x)
    if np.ndim(params["W1"]) == 2:
        # A wrong input is likelier than a wrong W1: blame x first.
        check_shape("x", x, (np.shape(params["W1"])[1], None), "(n_0, m)")
    n_prev = x.shape[0]
    for l in range(1, L + 1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        check_shape(f"W{l}", W, (None, n_prev), f"(n_{l}, n_{l - 1}) in layer {l}")
        check_shape(f"b{l}", b, (W.shape[0], 1), f"(n_{l}, 1) in layer {l}")
        n_prev = W.shape[0]


@checked_by(_check_forward)
def forward(
    x: Array, params: Mapping[str, Array], activations: Sequence[str]
) -> tuple[Array, list[LayerCache]]:
    """The L-layer forward pass a^0 = x -> a^1 -> ... -> a^L.

    Shapes:
        x            (n_0, m)   one example is an (n_0, 1) column
        params       W^l (n_l, n_{l-1}), b^l (n_l, 1) for l = 1..L
        activations  L names, one per layer ("sigmoid", "tanh", "relu", "identity")
        a^L          (n_L, m)
    Returns ``(a_L, caches)``; ``caches[l - 1]`` is layer l's ``LayerCache``.
    """
    a, caches = x, []
    for l, activation in enumerate(activations, start=1):
        a, cache = layer_forward(params[f"W{l}"], params[f"b{l}"], a, activation)
        caches.append(cache)
    return a, caches


# --------------------------------------------------------------------------
# Check your understanding: counting parameters.
# --------------------------------------------------------------------------


def parameter_count(sizes: Sequence[int]) -> int:
    """How many numbers W^1, b^1, ..., W^L, b^L hold together.

    Shapes: W^l (n_l, n_{l-1}) and b^l (n_l, 1), so layer l holds
    n_l (n_{l-1} + 1) of them.
    """
    return sum(sizes[l] * (sizes[l - 1] + 1) for l in range(1, len(sizes)))
