"""Bad shapes raise ValueError naming the expected and the received shape."""

from __future__ import annotations

import re

import numpy as np
import pytest

from backprop_reference import forward_pass as fp
from backprop_reference import gradcheck as gc
from backprop_reference import jacobians as jac
from backprop_reference import matrix_form as mf
from backprop_reference import mini_batch as mb

W = np.ones((3, 4))
b = np.ones((3, 1))
a_prev = np.ones((4, 5))
params = {
    "W1": np.ones((3, 4)),
    "b1": np.ones((3, 1)),
    "W2": np.ones((2, 3)),
    "b2": np.ones((2, 1)),
}
act = ["sigmoid", "sigmoid"]

# (call, expected shape as printed, received shape as printed)
CASES = {
    "weights transposed": (lambda: fp.dense_forward(W.T, b, a_prev), "(3, 4)", "(4, 3)"),
    "input rows": (lambda: fp.dense_forward(W, b, np.ones((3, 5))), "(4, ?)", "(3, 5)"),
    "bias as 1-D vector": (lambda: fp.dense_forward(W, np.ones(3), a_prev), "(3, 1)", "(3,)"),
    "bias as a row": (lambda: fp.dense_forward(W, np.ones((1, 3)), a_prev), "(3, 1)", "(1, 3)"),
    "input with wrong n_0": (lambda: fp.forward(np.ones((5, 2)), params, act), "(4, ?)", "(5, 2)"),
    "input as 1-D vector": (lambda: fp.forward(np.ones(4), params, act), "(?, ?)", "(4,)"),
    "loss a vs y": (
        lambda: fp.half_squared_error(np.ones((2, 3)), np.ones((3, 2))),
        "(2, 3)",
        "(3, 2)",
    ),
    "cross-entropy z vs y": (
        lambda: fp.softmax_cross_entropy(np.ones((10, 4)), np.ones((10, 1))),
        "(10, 4)",
        "(10, 1)",
    ),
    "single-example x is a batch": (
        lambda: mf.backprop(np.ones((4, 2)), np.ones((2, 2)), params, act, "half_squared_error"),
        "(?, 1)",
        "(4, 2)",
    ),
    "single-example y wrong": (
        lambda: mf.backprop(np.ones((4, 1)), np.ones((3, 1)), params, act, "half_squared_error"),
        "(2, 1)",
        "(3, 1)",
    ),
    "BP2 delta_next": (
        lambda: mf.hidden_error(W, np.ones((4, 1)), np.ones((4, 1)), "tanh"),
        "(3, ?)",
        "(4, 1)",
    ),
    "BP2 z": (
        lambda: mf.hidden_error(W, np.ones((3, 2)), np.ones((4, 1)), "tanh"),
        "(4, 2)",
        "(4, 1)",
    ),
    "BP4 batch delta": (
        lambda: mf.weight_gradient(np.ones((3, 2)), np.ones((4, 2))),
        "(?, 1)",
        "(3, 2)",
    ),
    "batch Y": (
        lambda: mb.backprop_batch(
            np.ones((4, 6)), np.ones((2, 5)), params, act, "mean_squared_error"
        ),
        "(2, 6)",
        "(2, 5)",
    ),
    "batch m mismatch": (
        lambda: mb.batch_weight_gradient(np.ones((3, 6)), np.ones((4, 5))),
        "(?, 6)",
        "(4, 5)",
    ),
    "update shapes": (
        lambda: mf.gradient_descent_update(params, {"W1": np.ones((4, 3))}, 0.1),
        "(3, 4)",
        "(4, 3)",
    ),
    "linear Jacobian a": (
        lambda: jac.linear_jacobian_weights(W, np.ones((3, 1))),
        "(4, 1)",
        "(3, 1)",
    ),
    "softmax VJP": (lambda: jac.softmax_vjp(np.ones((3, 2)), np.ones((3, 1))), "(3, 1)", "(3, 2)"),
    "relative error": (
        lambda: gc.relative_error(np.ones((2, 3)), np.ones((3, 2))),
        "(3, 2)",
        "(2, 3)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_shape_names_both_shapes(case):
    call, expected, received = CASES[case]
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert expected in message and received in message, message


def test_one_d_input_gets_a_reshape_hint():
    with pytest.raises(ValueError, match=re.escape("reshape(-1, 1)")):
        fp.dense_forward(W, np.ones(3), a_prev)


def test_transposed_weights_get_a_transpose_hint():
    with pytest.raises(ValueError, match=re.escape("W.T?")):
        fp.dense_forward(W.T, b, a_prev)
    with pytest.raises(ValueError, match=re.escape(".T?")):
        mf.gradient_descent_update(params, {"W1": np.ones((4, 3))}, 0.1)


def test_the_failing_layer_is_named():
    bad = dict(params, W2=np.ones((2, 4)))
    with pytest.raises(ValueError, match="layer 2"):
        fp.forward(np.ones((4, 1)), bad, act)
