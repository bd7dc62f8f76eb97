"""Lesson 01 reference: activations, losses, layers, the forward pass, Mazur's numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backprop_reference import forward_pass as fp
from backprop_reference.gradcheck import numerical_gradient, relative_error

finite = st.floats(-30, 30, allow_nan=False)
columns = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)), elements=finite)


# -- Mazur's forward pass (A Step by Step Backpropagation Example) ------------


def test_mazur_forward_values(mazur):
    params, x, y, activations, _ = mazur
    out, caches = fp.forward(x, params, activations)
    np.testing.assert_allclose(caches[0].a[:, 0], [0.593269992, 0.596884378], atol=1e-8)
    np.testing.assert_allclose(out[:, 0], [0.75136507, 0.772928465], atol=1e-8)
    assert fp.half_squared_error(out, y) == pytest.approx(0.298371109, abs=1e-8)


def test_dense_forward_caches_exactly_what_its_backward_pass_needs(mazur):
    params, x, _, _, _ = mazur
    z, cache = fp.dense_forward(params["W1"], params["b1"], x)
    np.testing.assert_allclose(z[:, 0], [0.3775, 0.3925], rtol=1e-12)
    assert isinstance(cache, tuple) and len(cache) == 2
    a_prev, W = cache
    assert a_prev is x and W is params["W1"]


def test_forward_caches_hold_what_backprop_needs(mazur):
    params, x, _, activations, _ = mazur
    out, caches = fp.forward(x, params, activations)
    assert len(caches) == 2
    np.testing.assert_array_equal(caches[0].a_prev, x)
    np.testing.assert_array_equal(caches[1].a_prev, caches[0].a)
    np.testing.assert_allclose(caches[1].z, params["W2"] @ caches[0].a + params["b2"])
    np.testing.assert_array_equal(caches[1].a, out)


# -- activations and their derivatives ---------------------------------------


@pytest.mark.parametrize("name", sorted(fp.ACTIVATIONS))
@given(z=columns)
def test_activation_derivative_matches_centred_differences(name, z):
    act = fp.get_activation(name)
    if name == "relu":
        z = np.where(np.abs(z) < 1e-3, 0.5, z)  # stay away from the kink
    numeric = np.vectorize(
        lambda v: numerical_gradient(lambda t: act.function(t).item(), np.array([v]))[0]
    )(z)
    np.testing.assert_allclose(act.derivative(z), numeric, rtol=1e-6, atol=1e-9)


def test_sigmoid_known_values():
    z = np.array([[0.0], [np.log(3.0)], [-np.log(3.0)]])
    np.testing.assert_allclose(fp.sigmoid(z), [[0.5], [0.75], [0.25]], rtol=1e-15)


@pytest.mark.parametrize("z", [1e3, -1e3, 710.0, -745.0])
def test_stable_functions_have_no_overflow_warning(z):
    big = np.array([[z], [-z], [0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            s, p, lp = fp.sigmoid(big), fp.softmax(big), fp.log_softmax(big)
            fp.sigmoid_prime(big)
            fp.softmax_cross_entropy(big, np.array([[0.0], [1.0], [0.0]]))
    for result in (s, p, lp):
        assert np.all(np.isfinite(result))
    assert s[0, 0] == pytest.approx(1.0 if z > 0 else 0.0, abs=1e-300)
    np.testing.assert_allclose(np.sum(p, axis=0), 1.0)
    np.testing.assert_allclose(lp[:, 0], big[:, 0] - np.max(big), atol=1e-12)


@given(z=columns)
def test_softmax_columns_are_distributions_and_shift_invariant(z):
    p = fp.softmax(z)
    assert np.all(p > 0)
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    np.testing.assert_allclose(fp.softmax(z + 7.0), p, rtol=1e-12)
    np.testing.assert_allclose(np.exp(fp.log_softmax(z)), p, rtol=1e-12)


def test_float32_stays_float32():
    z = np.linspace(-5, 5, 6, dtype=np.float32).reshape(3, 2)
    for name in fp.ACTIVATIONS:
        act = fp.get_activation(name)
        assert act.function(z).dtype == np.float32, name
        assert act.derivative(z).dtype == np.float32, name
    assert fp.softmax(z).dtype == np.float32


# -- losses --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(fp.LOSSES))
@given(a=columns, seed=st.integers(0, 2**32 - 1))
def test_loss_gradient_is_m_times_cost_gradient(name, a, seed):
    """The per-example gradient columns are m * dC/da, C being the batch mean."""
    loss = fp.get_loss(name)
    rng = np.random.default_rng(seed)
    y = rng.random(a.shape)
    if name == "softmax_cross_entropy":
        y = y / y.sum(axis=0, keepdims=True)
    numeric = numerical_gradient(lambda t: loss.cost(t, y), a.copy())
    m = a.shape[1]
    assert relative_error(loss.gradient(a, y) / m, numeric) < 1e-7


def test_softmax_cross_entropy_with_one_hot_targets():
    z = np.array([[2.0, 0.0], [1.0, 0.0], [0.1, 0.0]])
    y = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    p = fp.softmax(z)
    expected = -(np.log(p[0, 0]) + np.log(p[2, 1])) / 2
    assert fp.softmax_cross_entropy(z, y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(fp.softmax_cross_entropy_gradient(z, y), p - y, rtol=1e-12)


def test_mean_squared_error_is_mean_over_units_and_examples():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.zeros((2, 2))
    assert fp.mean_squared_error(a, y) == pytest.approx((1 + 4 + 9 + 16) / 4)
    assert fp.half_squared_error(a, y) == pytest.approx(((1 + 9) / 2 + (4 + 16) / 2) / 2)


# -- parameters ----------------------------------------------------------------


def test_init_params_shapes_and_seed():
    p = fp.init_params([4, 3, 2], seed=7)
    assert {k: v.shape for k, v in p.items()} == {
        "W1": (3, 4),
        "b1": (3, 1),
        "W2": (2, 3),
        "b2": (2, 1),
    }
    q = fp.init_params([4, 3, 2], seed=7)
    r = fp.init_params([4, 3, 2], seed=8)
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["W1"], r["W1"])
    assert fp.init_params([4, 3], seed=1, dtype=np.float32)["W1"].dtype == np.float32


@pytest.mark.parametrize(
    ("scheme", "variance"),
    [
        ("lecun", lambda n_in, n_out: 1 / n_in),  # LeCun et al. 1998
        ("glorot", lambda n_in, n_out: 2 / (n_in + n_out)),  # Glorot and Bengio 2010
        ("he", lambda n_in, n_out: 2 / n_in),  # He et al. 2015
    ],
)
def test_init_params_scale_follows_scheme(scheme, variance):
    sizes = [400, 300, 100]
    params = fp.init_params(sizes, seed=0, scheme=scheme)
    for l in (1, 2):
        n_in, n_out = sizes[l - 1], sizes[l]
        assert params[f"W{l}"].std() == pytest.approx(np.sqrt(variance(n_in, n_out)), rel=0.03)


def test_init_params_default_is_lecun():
    default = fp.init_params([5, 4, 3], seed=3)
    lecun = fp.init_params([5, 4, 3], seed=3, scheme="lecun")
    assert all(np.array_equal(default[k], lecun[k]) for k in default)


def test_he_keeps_the_scale_through_relu_layers_and_lecun_halves_it():
    """He's factor 2 makes up for ReLU zeroing half of each layer's inputs."""
    rng = np.random.default_rng(0)
    sizes = [500] * 9
    x = rng.standard_normal((500, 200))
    spread = {}
    for scheme in ("lecun", "he"):
        _, caches = fp.forward(x, fp.init_params(sizes, 1, scheme), ["relu"] * 8)
        spread[scheme] = [float(np.mean(cache.z**2)) for cache in caches]
    he, lecun = np.array(spread["he"]), np.array(spread["lecun"])
    # Seven ReLU layers later: He's spread within a factor 2 (one draw of the weights
    # wanders a little), LeCun's halved seven times (2^-7 = 1/128).
    assert 0.5 < he[-1] / he[1] < 2.0
    assert lecun[-1] / lecun[1] < 1 / 40


def test_all_zero_weights_give_hidden_layers_exactly_zero_gradients():
    """Lesson 01's claim: with W = 0 a hidden unit's output reaches the cost only through
    zero weights, so every hidden weight and bias has a gradient of exactly zero; with tanh
    or ReLU (sigma(0) = 0) the output weights too, and only the output biases move."""
    sizes = [3, 4, 4, 2]
    params = {k: np.zeros_like(v) for k, v in fp.init_params(sizes, 0).items()}
    x = np.random.default_rng(0).normal(size=(3, 5))
    y = np.random.default_rng(1).uniform(size=(2, 5))
    for hidden in ("sigmoid", "tanh", "relu"):
        activations = [hidden, hidden, "sigmoid"]

        def cost(_: np.ndarray, activations=activations) -> float:
            return fp.half_squared_error(fp.forward(x, params, activations)[0], y)

        grads = {key: numerical_gradient(cost, params[key]) for key in params}
        for key in ("W1", "b1", "W2", "b2"):
            assert not np.any(grads[key]), (hidden, key)  # exactly zero, not just small
        assert np.all(np.abs(grads["b3"]) > 1e-3), hidden
        assert np.any(grads["W3"]) == (hidden == "sigmoid"), hidden


@pytest.mark.parametrize(
    "call",
    [
        lambda: fp.init_params([3]),
        lambda: fp.init_params([3, 0]),
        lambda: fp.init_params([3, 2], scheme="lecun-ish"),
        lambda: fp.init_params([3, 2], scheme="xavier"),  # the schemes are named lecun, glorot
        lambda: fp.get_activation("softplus"),
        lambda: fp.get_loss("hinge"),
        lambda: fp.forward(np.ones((2, 1)), {"W1": np.ones((2, 2))}, ["sigmoid"]),
        lambda: fp.forward(
            np.ones((2, 1)), {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))}, ["sigmoid"] * 2
        ),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_forward_does_not_modify_inputs(mazur):
    params, x, _, activations, _ = mazur
    before = {k: v.copy() for k, v in params.items()}
    x_before = x.copy()
    fp.forward(x, params, activations)
    assert all(np.array_equal(params[k], before[k]) for k in params)
    np.testing.assert_array_equal(x, x_before)
