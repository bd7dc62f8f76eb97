"""The course's reference library: one module per lesson, one function per exercise.

    forward_pass   lesson 01  activations, losses, dense layers, the L-layer forward pass
    chain_rule     lesson 02  a scalar reverse-mode engine (Value)
    jacobians      lesson 03  numerical and analytic Jacobians, vector-Jacobian products
    matrix_form    lesson 04  a gradient check, BP1-BP4 for one example, the layers' backward
                              passes and backprop as a loop over them, a gradient-descent update
    mini_batch     lesson 05  batch backprop, the per-example loop, SGD with momentum
    through_time   lesson 06  a vanilla RNN, backpropagation through time, truncation, clipping
    gradcheck      relative error and whole-network gradient checks

Pure numpy. Columns are examples: a batch is (n_0, m). The data sets live in
the helper package students also get (:mod:`backprop_course.data`).
"""

from . import chain_rule, forward_pass, gradcheck, jacobians, matrix_form, mini_batch, through_time

__all__ = [
    "chain_rule",
    "forward_pass",
    "gradcheck",
    "jacobians",
    "matrix_form",
    "mini_batch",
    "through_time",
]
