"""Lesson 03 reference: Jacobians, vector-Jacobian products, the cost of materialising."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_reference import forward_pass as fp
from backprop_reference import jacobians as jac

seeds = st.integers(0, 2**32 - 1)
sizes = st.integers(1, 6)


def rng_of(seed):
    return np.random.default_rng(seed)


def test_numerical_jacobian_of_a_known_map():
    f = lambda x: np.array([[x[0, 0] * x[1, 0]], [np.sin(x[0, 0])], [x[1, 0] ** 2]])  # noqa: E731
    x = np.array([[0.3], [-1.2]])
    expected = [[-1.2, 0.3], [np.cos(0.3), 0.0], [0.0, -2.4]]
    np.testing.assert_allclose(jac.numerical_jacobian(f, x), expected, atol=1e-9)
    np.testing.assert_array_equal(x, [[0.3], [-1.2]])


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "identity"])
@given(n=sizes, seed=seeds)
def test_elementwise_jacobian_is_diagonal_and_right(name, n, seed):
    act = fp.get_activation(name)
    z = rng_of(seed).standard_normal((n, 1))
    J = jac.elementwise_jacobian(act.derivative, z)
    np.testing.assert_allclose(J, jac.numerical_jacobian(act.function, z), atol=1e-8)
    np.testing.assert_array_equal(J, np.diag(np.diag(J)))


@given(k=sizes, n=sizes, seed=seeds)
def test_linear_jacobians(k, n, seed):
    rng = rng_of(seed)
    W, a, b = rng.standard_normal((k, n)), rng.standard_normal((n, 1)), rng.standard_normal((k, 1))
    J_a = jac.linear_jacobian_input(W)
    np.testing.assert_allclose(J_a, jac.numerical_jacobian(lambda t: W @ t + b, a), atol=1e-8)
    J_W = jac.linear_jacobian_weights(W, a)
    assert J_W.shape == (k, k * n)
    numeric = jac.numerical_jacobian(lambda w: w.reshape(k, n) @ a + b, W)
    np.testing.assert_allclose(J_W, numeric, atol=1e-8)


@given(k=sizes, seed=seeds)
def test_softmax_jacobian(k, seed):
    z = 3 * rng_of(seed).standard_normal((k, 1))
    J = jac.softmax_jacobian(z)
    np.testing.assert_allclose(J, jac.numerical_jacobian(fp.softmax, z), atol=1e-8)
    np.testing.assert_allclose(J, J.T, atol=1e-15)
    np.testing.assert_allclose(J.sum(axis=0), 0.0, atol=1e-12)  # softmax sums to 1


@given(k=sizes, n=sizes, m=st.integers(1, 4), seed=seeds)
def test_vjps_equal_row_vector_times_jacobian(k, n, m, seed):
    rng = rng_of(seed)
    W = rng.standard_normal((k, n))
    z, v_k = rng.standard_normal((k, m)), rng.standard_normal((k, m))
    a = rng.standard_normal((n, m))
    for i in range(m):  # column by column against the materialised Jacobians
        col = slice(i, i + 1)
        np.testing.assert_allclose(
            jac.softmax_vjp(v_k, z)[:, col],
            jac.softmax_jacobian(z[:, col]).T @ v_k[:, col],
            atol=1e-12,
        )
        np.testing.assert_allclose(
            jac.elementwise_vjp(v_k, fp.tanh_prime, z)[:, col],
            jac.elementwise_jacobian(fp.tanh_prime, z[:, col]).T @ v_k[:, col],
            atol=1e-12,
        )
        np.testing.assert_allclose(
            jac.linear_vjp_input(v_k, W)[:, col],
            jac.linear_jacobian_input(W).T @ v_k[:, col],
            atol=1e-12,
        )
    per_example = sum(
        (jac.linear_jacobian_weights(W, a[:, [i]]).T @ v_k[:, [i]]).reshape(k, n) for i in range(m)
    )
    np.testing.assert_allclose(jac.linear_vjp_weights(v_k, a), per_example, atol=1e-12)


def test_chain_rule_is_a_product_of_jacobians():
    rng = rng_of(3)
    W = rng.standard_normal((4, 3))
    x = rng.standard_normal((3, 1))
    z = W @ x
    composed = jac.numerical_jacobian(lambda t: fp.softmax(np.tanh(W @ t)), x)
    product = (
        jac.softmax_jacobian(np.tanh(z))
        @ jac.elementwise_jacobian(fp.tanh_prime, z)
        @ jac.linear_jacobian_input(W)
    )
    np.testing.assert_allclose(product, composed, atol=1e-8)


def total_cross_entropy(z, y):
    """The examples' losses summed (not averaged): the gradient's columns are per example."""
    return z.shape[1] * fp.softmax_cross_entropy(z, y)


@given(k=st.integers(2, 6), m=st.integers(1, 4), soft=st.booleans(), seed=seeds)
def test_softmax_cross_entropy_gradient_is_the_gradient_of_the_cost(k, m, soft, seed):
    rng = rng_of(seed)
    z = 3 * rng.standard_normal((k, m))
    y = rng.dirichlet(np.ones(k), size=m).T if soft else np.eye(k)[:, rng.integers(0, k, m)]
    gradient = jac.softmax_cross_entropy_gradient(z, y)
    numeric = jac.numerical_jacobian(lambda t: total_cross_entropy(t, y), z).reshape(k, m)
    np.testing.assert_allclose(gradient, numeric, atol=1e-7)
    # The derivation: -y/s, the gradient with respect to s, sent back through softmax's VJP.
    composed = jac.softmax_vjp(-y / fp.softmax(z), z)
    np.testing.assert_allclose(gradient, composed, atol=1e-12)
    np.testing.assert_allclose(gradient.sum(axis=0), 0.0, atol=1e-12)
    # Any targets (a column summing to c): the general gradient, c s - y, by the same route.
    c = rng.uniform(0.5, 3.0, (1, m))
    np.testing.assert_allclose(
        jac.softmax_vjp(-c * y / fp.softmax(z), z), fp.softmax(z) * c - c * y, atol=1e-12
    )


def test_softmax_cross_entropy_gradient_stays_finite_where_minus_y_over_s_does_not():
    z = np.array([[750.0, 0.0], [750.0 + np.log(2.0), -1000.0], [750.0 + np.log(3.0), np.log(3.0)]])
    y = np.array([[0.0, 0.5], [1.0, 0.5], [0.0, 0.0]])
    expected = [[1 / 6, -1 / 4], [-2 / 3, -1 / 2], [1 / 2, 3 / 4]]
    np.testing.assert_allclose(jac.softmax_cross_entropy_gradient(z, y), expected, atol=1e-15)
    with np.errstate(all="ignore"):
        composed = jac.softmax_vjp(-y / fp.softmax(z), z)
    assert np.isfinite(composed[:, 0]).all() and np.isnan(composed[:, 1]).all()


@pytest.mark.parametrize(
    "y",
    [
        np.array([[0.5, 0.0], [0.0, 1.0]]),  # a column summing to 0.5
        np.array([[1.5, 0.0], [-0.5, 1.0]]),  # a negative entry
    ],
    ids=["sum", "negative"],
)
def test_softmax_cross_entropy_gradient_takes_distributions_only(y):
    with pytest.raises(ValueError, match="probability distribution"):
        jac.softmax_cross_entropy_gradient(np.zeros((2, 2)), y)
    with pytest.raises(ValueError, match="same shape"):
        jac.softmax_cross_entropy_gradient(np.zeros((2, 3)), np.eye(2))


def test_count_multiply_adds():
    cost = jac.count_multiply_adds(n_out=256, n_in=784)
    assert cost.vjp == 256 * 784
    assert cost.materialised == 256 * 256 * 784
    assert cost.ratio == 256
    assert jac.count_multiply_adds(256, 784) == cost  # the order of W's shape: (n_out, n_in)
    assert jac.count_multiply_adds(10, 20, m=32).vjp == 32 * 10 * 20
    # The count agrees with the shapes actually multiplied.
    J = jac.linear_jacobian_weights(np.zeros((3, 5)), np.zeros((5, 1)))
    v = np.zeros((3, 1))
    assert v.T.shape[1] == J.shape[0]
    assert v.T.shape[0] * J.shape[0] * J.shape[1] == jac.count_multiply_adds(3, 5).materialised
    with pytest.raises(ValueError):
        jac.count_multiply_adds(0, 5)
