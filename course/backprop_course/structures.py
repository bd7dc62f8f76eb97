"""Small named records the notebooks and the reference library share.

They hold data only: no exercise's answer lives here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class LayerCache(NamedTuple):
    """What layer l's backward pass needs from its forward pass.

    a_prev      (n_{l-1}, m)    the layer's input a^{l-1}
    W           (n_l, n_{l-1})  its weights W^l
    z           (n_l, m)        its pre-activation z^l = W^l a^{l-1} + b^l
    a           (n_l, m)        its activation a^l = sigma(z^l)
    activation  the name of sigma ("sigmoid", "tanh", "relu" or "identity")
    """

    a_prev: np.ndarray
    W: np.ndarray
    z: np.ndarray
    a: np.ndarray
    activation: str


class StepCache(NamedTuple):
    """What one recurrent step's backward pass needs from its forward pass (lesson 06).

    x       (n_x, m)    the step's input x_t
    h_prev  (n_h, m)    the state it started from, h_{t-1}
    h       (n_h, m)    the state it computed, h_t = tanh(W_hh h_{t-1} + W_xh x_t + b_h)
    W_xh    (n_h, n_x)  the input weights
    W_hh    (n_h, n_h)  the recurrent weights
    """

    x: np.ndarray
    h_prev: np.ndarray
    h: np.ndarray
    W_xh: np.ndarray
    W_hh: np.ndarray


class Loss(NamedTuple):
    """A cost (the mean over the batch's columns) and its per-example gradient.

    cost      (a (n_L, m), y (n_L, m)) -> float
    gradient  (a (n_L, m), y (n_L, m)) -> (n_L, m), each column one example's
              gradient with respect to a, not divided by m
    softmax_cross_entropy takes the logits z in place of a.
    """

    name: str
    cost: Callable[[np.ndarray, np.ndarray], float]
    gradient: Callable[[np.ndarray, np.ndarray], np.ndarray]


class MultiplyAdds(NamedTuple):
    """Multiply-adds to get dC/dW of one dense layer from dC/dz.

    materialised  building J = dz/dW, shape (n_out, n_out * n_in), then v^T J
    vjp           the vector-Jacobian product v a^T, without J
    """

    materialised: int
    vjp: int

    @property
    def ratio(self) -> float:
        """How many times more the materialised Jacobian costs."""
        return self.materialised / self.vjp


class GradientCheck(NamedTuple):
    """One parameter's gradient check: an analytic gradient g against centred differences n.

    relative_error  |g - n| / max(eps, |g| + |n|) with the Euclidean norms of the arrays
    worst_index     the index of the entry where they disagree most, one int per axis
    worst_error     that entry's error: |g_i - n_i| divided by the larger of |g_i| + |n_i|
                    and the mean of |g_j| + |n_j| over the array (0 if both arrays are 0)
    """

    relative_error: float
    worst_index: tuple[int, ...]
    worst_error: float


class EpochRecord(NamedTuple):
    """One epoch of training: its number (1-based) and mean mini-batch cost."""

    epoch: int
    cost: float
