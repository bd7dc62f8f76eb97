"""Small named records the notebooks and the reference library share.

They hold data only: no exercise's answer lives here.
"""

from __future__ import annotations

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
