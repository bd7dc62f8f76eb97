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

import contextlib
import io
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


def check_networks(
    checks: Checks,
    fn: Callable[..., Any],
    m: int,
    uses: Sequence[str],
    split: Callable[[Checks, object, str], tuple[dict, float]],
) -> None:
    """``fn(X, Y, params, activations, loss)`` against centred differences on every network.

    ``uses``: the exercises ``fn`` calls. Here they are the student's own, so
    when this check fails, the message says which of them fail their own checks.
    """
    for network in NETWORKS:
        X, Y, params = inputs(network, m)
        cost = cost_function(fn, X, Y, network)
        result = checks.call(fn, X, Y, params, list(network.activations), network.loss)
        grads, got_cost = split(checks, result, fn.__name__)
        try:
            checks.expect(grads, centred_gradients(cost, params), what="grads", **AGREE)
            checks.expect(got_cost, cost(params), what="the cost")
        except CheckFailed as failure:
            context = f"On {network.describe(m)}, against centred differences of the cost:"
            raise CheckFailed(
                f"{context}\n{failure}{_blame(fn, uses)}",
                what=f"{fn.__name__} on {network.describe(m)}: {failure.what}",
                mistake=failure.mistake,
            ) from None


def _blame(fn: Callable[..., Any], uses: Sequence[str]) -> str:
    """A note naming the exercises ``fn`` calls that fail their own visible checks."""
    namespace = namespace_of(fn)
    check = namespace.get("check")
    failing = []
    for name in uses:
        own, visible = namespace.get(name), getattr(check, name, None)
        if callable(own) and callable(visible):
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # its ✔ line is not news here
                    getattr(visible, "__wrapped__", visible)(own)
            except Exception:
                failing.append(name)
    if not failing:
        return ""
    return (
        f"\nNote: {', '.join(failing)} fail{'s' if len(failing) == 1 else ''} "
        "its own check, and this function calls it: fix that first."
    )
