"""Hypothesis strategies: random networks, data and targets for every loss."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from backprop_reference.forward_pass import forward, init_params

HIDDEN = ["sigmoid", "tanh", "relu", "identity"]
LOSSES = ["half_squared_error", "mean_squared_error", "softmax_cross_entropy"]


class Problem(NamedTuple):
    """Arguments in the reference library's order: (X, Y, params, activations, loss)."""

    X: np.ndarray
    Y: np.ndarray
    params: dict
    activations: list
    loss: str


def min_abs_preactivation(problem: Problem) -> float:
    """Smallest |z| over every ReLU layer (inf if none): a kink within h breaks FD."""
    _, caches = forward(problem.X, problem.params, problem.activations)
    kinks = [np.min(np.abs(c.z)) for c in caches if c.activation == "relu"]
    return min(kinks, default=np.inf)


@st.composite
def problems(draw, max_layers: int = 4, max_width: int = 5, max_m: int = 4, m=None) -> Problem:
    """A random L-layer network (L = 1..max_layers), batch and targets."""
    L = draw(st.integers(1, max_layers))
    sizes = [draw(st.integers(1, max_width)) for _ in range(L + 1)]
    loss = draw(st.sampled_from(LOSSES))
    hidden = [draw(st.sampled_from(HIDDEN)) for _ in range(L - 1)]
    if loss == "softmax_cross_entropy":
        output = "identity"  # the loss takes logits
    else:
        output = draw(st.sampled_from(HIDDEN))
    m = draw(st.integers(1, max_m)) if m is None else m
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    params = init_params(sizes, seed=seed)
    for key in params:  # non-zero biases so no term is trivially absent
        if key.startswith("b"):
            params[key] = 0.5 * rng.standard_normal(params[key].shape)
    X = rng.standard_normal((sizes[0], m))
    if loss == "softmax_cross_entropy":
        Y = np.zeros((sizes[-1], m))
        Y[rng.integers(0, sizes[-1], m), np.arange(m)] = 1.0
    else:
        Y = rng.standard_normal((sizes[-1], m))
    return Problem(X, Y, params, [*hidden, output], loss)
