"""Shared test settings: hypothesis profiles and the Mazur network."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests: no per-example deadline (the machine is shared and noisy),
# a fixed database-free run in CI so a failure reproduces from its seed.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=60,
    derandomize=True,
    database=None,
    print_blob=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def mazur():
    """Mazur's 2-2-2 network: parameters, input, target, activations, loss."""
    params = {
        "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),
        "b1": np.full((2, 1), 0.35),
        "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),
        "b2": np.full((2, 1), 0.60),
    }
    x = np.array([[0.05], [0.10]])
    y = np.array([[0.01], [0.99]])
    return params, x, y, ["sigmoid", "sigmoid"], "half_squared_error"
