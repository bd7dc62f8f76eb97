"""Whole networks against centred differences: the oracle of the backprop checks.

Mazur's network is a fine worked example but a poor test: two layers, both
sigmoid, every matrix 2 × 2, so a transposed weight, an activation taken
from the wrong layer or an index off by one can all give his numbers. The
networks here are chosen so that each of those shows: one and three layers,
all layer sizes different, three different activations, every loss (the
cross-entropy is not symmetric in its two arguments).

Their gradients come from centred differences of the cost, computed with
the forward pass and the losses that the lesson's notebook defines (given
code), never from an answer: ∂C/∂p ≈ (C(p + h) − C(p − h)) / 2h.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from backprop_course.checking import CheckFailed, Checks, namespace_of

STEP = 1e-6
AGREE = {"rtol": 1e-5, "atol": 1e-8}  # centred differences carry about 1e-9 of error here


class Network(NamedTuple):
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    seed: int  # drawn once; no z^l of the relu layers comes near the kink at 0

    def describe(self, m: int) -> str:
        layers = len(self.sizes) - 1
        return (
            f"a {layers}-layer network of sizes {list(self.sizes)} "
            f"({', '.join(self.activations)}; {self.loss}), m = {m}"
        )


NETWORKS = (
    Network((3, 4), ("identity",), "softmax_cross_entropy", 1),
    Network((4, 3, 2), ("tanh", "sigmoid"), "mean_squared_error", 2),
    Network((2, 5, 3, 4), ("relu", "tanh", "sigmoid"), "half_squared_error", 3),
)
# Lesson 04's sigmoid output with the binary cross-entropy (targets in [0, 1]).
BCE_NETWORK = Network((3, 5, 2), ("relu", "sigmoid"), "binary_cross_entropy", 7)


def inputs(network: Network, m: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(X, Y, params) for ``network`` and a batch of ``m`` columns."""
    rng = np.random.default_rng([network.seed, m])
    params = {}
    for l in range(1, len(network.sizes)):
        params[f"W{l}"] = rng.normal(0.0, 1.0, (network.sizes[l], network.sizes[l - 1]))
        params[f"b{l}"] = rng.normal(0.0, 0.5, (network.sizes[l], 1))
    X = rng.normal(0.0, 1.0, (network.sizes[0], m))
    n_L = network.sizes[-1]
    if network.loss == "softmax_cross_entropy":
        Y = np.eye(n_L)[:, rng.integers(0, n_L, size=m)]
    else:
        Y = rng.uniform(0.0, 1.0, (n_L, m))
    return X, Y, params


def cost_function(
    fn: Callable[..., Any], X: np.ndarray, Y: np.ndarray, network: Network
) -> Callable[[Mapping[str, np.ndarray]], float]:
    """C(params): the notebook's own forward pass and loss, on this batch."""
    namespace = namespace_of(fn)
    forward, losses = namespace.get("forward"), namespace.get("LOSSES")
    if not callable(forward) or not isinstance(losses, Mapping):
        raise CheckFailed(
            "this check needs the notebook's forward and LOSSES: run the cell that defines "
            "them (near the top of the notebook) first."
        )

    def cost(params: Mapping[str, np.ndarray]) -> float:
        a_L, _ = forward(X, params, list(network.activations))
        return float(losses[network.loss].cost(a_L, Y))

    return cost


def centred_gradients(
    cost: Callable[[Mapping[str, np.ndarray]], float], params: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """∂C/∂p for every entry of every parameter, by centred differences."""
    found = {}
    for key, value in params.items():
        gradient = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[key][index] = value[index] + STEP
            up = cost(shifted)
            shifted[key][index] = value[index] - STEP
            gradient[index] = (up - cost(shifted)) / (2 * STEP)
        found[key] = gradient
    return found


def gradient(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """∂f/∂x for a scalar function of an array, entry by entry, by centred differences."""
    found = np.zeros_like(x, dtype=float)
    for index in np.ndindex(x.shape):
        shifted = np.array(x, dtype=float)
        shifted[index] = x[index] + STEP
        up = f(shifted)
        shifted[index] = x[index] - STEP
        found[index] = (up - f(shifted)) / (2 * STEP)
    return found


def numerical_stand_ins(fn: Callable[..., Any], names: Sequence[str]) -> dict[str, Any]:
    """Stand-ins for the earlier exercises ``fn`` calls, answering ANY call by differences.

    Each differentiates the map its exercise is the backward pass of (a layer's
    activation, a loss, z = W a + b), so it answers every call as a correct
    answer would, and a mistake in an earlier exercise costs this check nothing.
    No answer is stored anywhere: each is computed from the call's own arguments.
    """
    namespace = namespace_of(fn)
    sigma, losses = namespace.get("ACTIVATIONS"), namespace.get("LOSSES")
    if not isinstance(sigma, Mapping) or not isinstance(losses, Mapping):
        raise CheckFailed(
            "this check needs the notebook's ACTIVATIONS and LOSSES: run the cell that defines "
            "them (near the top of the notebook) first."
        )

    def output_error(a_L, y, z_L, activation, loss):  # ∂(per-example loss)/∂z^L
        m = np.shape(z_L)[1]
        return m * gradient(lambda z: losses[loss].cost(sigma[activation](z), y), z_L)

    def hidden_error(W_next, delta_next, z, activation):  # the VJP of z^l -> W σ(z^l)
        return gradient(lambda v: float(np.sum(delta_next * (W_next @ sigma[activation](v)))), z)

    def weight_gradient(delta, a_prev):  # the VJP of W -> W a_prev
        W = np.zeros((np.shape(delta)[0], np.shape(a_prev)[0]))
        return gradient(lambda V: float(np.sum(delta * (V @ a_prev))), W)

    def bias_gradient(delta):  # the VJP of b -> b, broadcast over the columns
        return gradient(lambda b: float(np.sum(delta * b)), np.zeros((np.shape(delta)[0], 1)))

    def activation_backward(da, z, activation):  # the VJP of z -> σ(z)
        return gradient(lambda v: float(np.sum(da * sigma[activation](v))), z)

    def dense_backward(dz, cache):  # the VJPs of z = W a_prev + b, one example
        a_prev, W = cache
        da_prev = gradient(lambda a: float(np.sum(dz * (W @ a))), a_prev)
        return da_prev, weight_gradient(dz, a_prev), bias_gradient(dz)

    def batch_weight_gradient(Delta, A_prev):
        return weight_gradient(Delta, A_prev) / np.shape(Delta)[1]

    def batch_bias_gradient(Delta):
        return bias_gradient(Delta) / np.shape(Delta)[1]

    made = {f.__name__: f for f in (output_error, hidden_error, weight_gradient, bias_gradient,
                                    activation_backward, dense_backward,
                                    batch_weight_gradient, batch_bias_gradient)}  # fmt: skip
    return {name: (lambda own, f=made[name]: f) for name in names}


def check_networks(
    checks: Checks,
    fn: Callable[..., Any],
    m: int,
    uses: Sequence[str],
    split: Callable[[Checks, object, str], tuple[dict, float]],
    networks: Sequence[Network] = NETWORKS,
) -> None:
    """``fn(X, Y, params, activations, loss)`` against centred differences on every network.

    ``uses``: the earlier exercises ``fn`` calls; numerical stand-ins answer them.
    """
    for network in networks:
        X, Y, params = inputs(network, m)
        cost = cost_function(fn, X, Y, network)
        with checks.isolating(fn, numerical_stand_ins(fn, uses)):
            result = checks.call(fn, X, Y, params, list(network.activations), network.loss)
        grads, got_cost = split(checks, result, fn.__name__)
        try:
            checks.expect(grads, centred_gradients(cost, params), what="grads", **AGREE)
            checks.expect(got_cost, cost(params), what="the cost")
        except CheckFailed as failure:
            context = f"On {network.describe(m)}, against centred differences of the cost:"
            raise CheckFailed(
                f"{context}\n{failure}",
                what=f"{fn.__name__} on {network.describe(m)}: {failure.what}",
                mistake=failure.mistake,
            ) from None
