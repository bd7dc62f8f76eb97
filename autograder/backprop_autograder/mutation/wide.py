"""Inputs drawn wider than the checks draw: the oracle that tells equivalent mutants.

A mutant that agrees with the reference on all of these, within the checks'
own tolerance, is *equivalent*: no fair check could fail it. The draws are
deliberately broader than any hidden check's (sizes 1 to 7, m = 1 and m up to
8, square and not, every activation mixed across layers, every loss, both
signs, large and exactly-zero entries, graphs whose nodes feed several paths,
a smaller last batch), so a check that never draws a shape or an order shows
up as a survivor instead of hiding behind its own blind spot.

Each generator returns cases in the kernel's format (``args``, ``kwargs``,
``graph``, ``observe``; see :mod:`backprop_course.replay`), without isolation:
the mutant calls the reference's other answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from backprop_autograder.cases import Encoded, graph_spec
from backprop_autograder.hidden.chain_rule import random_graph
from backprop_course.protocol import encode
from backprop_reference import chain_rule as chain

Rng = np.random.Generator
ACTIVATIONS = ["sigmoid", "tanh", "relu", "identity"]
OUTPUTS = [("sigmoid", "half_squared_error"), ("tanh", "mean_squared_error"),
           ("identity", "softmax_cross_entropy"), ("identity", "half_squared_error"),
           ("relu", "mean_squared_error")]  # fmt: skip
ACTIVATE = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
            "relu": lambda z: np.maximum(z, 0), "identity": lambda z: z.copy()}  # fmt: skip
DRAWS = 24  # cases per exercise and round


def case(*args: Any, **kwargs: Any) -> dict[str, Any]:
    found = {"args": [encode(a) for a in args]}
    if kwargs:
        found["kwargs"] = encode(kwargs)
    return found


def _n(rng: Rng, low: int = 1, high: int = 7) -> int:
    return int(rng.integers(low, high + 1))


def _m(rng: Rng) -> int:
    return 1 if rng.random() < 0.3 else _n(rng, 2, 8)


def batch(rng: Rng, rows: int, m: int) -> np.ndarray:
    """Both signs, a spread of scales, and now and then an exact zero."""
    values = rng.normal(0.0, float(rng.choice([0.3, 1.0, 3.0])), (rows, m))
    values[rng.random((rows, m)) < 0.1] = 0.0
    return values


def network(rng: Rng, m: int | None = None) -> tuple:
    """(x, y, params, activations, loss) of a random network of 1 to 4 layers."""
    layers = _n(rng, 1, 4)
    sizes = [_n(rng) for _ in range(layers + 1)]
    output, loss = OUTPUTS[int(rng.integers(len(OUTPUTS)))]
    if loss == "softmax_cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    activations = [str(rng.choice(ACTIVATIONS)) for _ in range(layers - 1)] + [output]
    params = {}
    for l in range(1, layers + 1):
        params[f"W{l}"] = rng.normal(0.0, 1.0, (sizes[l], sizes[l - 1]))
        params[f"b{l}"] = rng.normal(0.0, 1.0, (sizes[l], 1))
    m = _m(rng) if m is None else m
    x = batch(rng, sizes[0], m)
    y = targets(rng, loss, sizes[-1], m)
    return x, y, params, activations, loss


def targets(rng: Rng, loss: str, n: int, m: int) -> np.ndarray:
    if loss == "softmax_cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    return rng.uniform(-0.5, 1.5, (n, m))


def _sizes(rng: Rng, high: int = 900) -> list[int]:
    return [int(n) for n in rng.integers(1, high + 1, size=_n(rng, 2, 6))]


def _graph_case(order: list, observe: str, *args: Any) -> dict[str, Any]:
    return {"graph": graph_spec(order), "args": list(args), "observe": observe}


def _numbers(rng: Rng, count: int, low: float = -4.0, high: float = 4.0) -> list[float]:
    return [float(v) for v in rng.uniform(low, high, count)]


def _polynomial(rng: Rng) -> Encoded:
    return Encoded(callable="polynomial", coefficients=_numbers(rng, 5, -2.0, 2.0))


# -- one generator per exercise, by name ------------------------------------------------


def _elementwise(rng: Rng, scale: float = 1.0) -> dict:
    z = batch(rng, _n(rng), _m(rng)) * scale
    return case(z)


def _extreme(rng: Rng) -> dict:
    n, m = _n(rng), _m(rng)
    return case(rng.choice([-1.0, 1.0], (n, m)) * rng.uniform(0.0, 1000.0, (n, m)))


def _dense(rng: Rng) -> tuple:
    n_l, n_prev, m = _n(rng), _n(rng), _m(rng)
    return batch(rng, n_l, n_prev), batch(rng, n_l, 1), batch(rng, n_prev, m)


def _init_params(rng: Rng) -> dict:
    return case(
        _sizes(rng, 7),
        seed=int(rng.integers(0, 1000)),
        scheme=str(rng.choice(["lecun", "glorot", "he"])),
        dtype=np.float64 if rng.random() < 0.7 else np.float32,
    )


def _backward(rng: Rng) -> dict:
    """Gradients already in the graph, and now and then two calls: backward adds."""
    order = random_graph(rng, _n(rng, 1, 16))
    if rng.random() < 0.5:
        for node in order:
            node.grad = float(rng.normal())
    return {**_graph_case(order, "grads", {"node": len(order) - 1}), "calls": _n(rng, 1, 2)}


def _topological(rng: Rng) -> dict:
    order = random_graph(rng, _n(rng, 1, 16))
    return _graph_case(order, "order", {"node": len(order) - 1})


def _descent_step(rng: Rng) -> dict:
    count = _n(rng, 1, 5)
    leaves = [chain.Value(v, label=f"w{i}") for i, v in enumerate(_numbers(rng, count))]
    for leaf, g in zip(leaves, _numbers(rng, count), strict=True):
        leaf.grad = g
    return _graph_case(leaves, "data", {"nodes": list(range(count))}, float(rng.uniform(0, 2)))


def _numerical_jacobian(rng: Rng) -> dict:
    if rng.random() < 0.5:
        n, k = _n(rng), _n(rng)
        f = Encoded(callable="tanh_of_linear", matrix=rng.normal(size=(k, n)).tolist())
        x = batch(rng, n, 1)
    else:
        f, x = Encoded(callable="cube"), batch(rng, _n(rng), _m(rng))
    h = float(rng.choice([1e-1, 3e-2, 1e-3, 1e-6]))
    return case(f, x, h) if rng.random() < 0.7 else case(f, x)


def _elementwise_derivative(rng: Rng) -> Encoded:
    return Encoded(callable=str(rng.choice(["tanh_prime", "cube_prime"])))


def _cross_entropy(rng: Rng) -> dict:
    """Logits shifted by 0 or +-600, now and then one 1000 below its column's others;
    targets one-hot, soft or nearly sparse, every column a probability distribution."""
    k, m = _n(rng), _m(rng)
    z = batch(rng, k, m) + rng.choice([0.0, 600.0, -600.0])
    if rng.random() < 0.3:
        z[int(rng.integers(k)), int(rng.integers(m))] -= 1000.0
    kind = int(rng.integers(0, 3))
    if kind == 0:
        y = np.eye(k)[:, rng.integers(0, k, size=m)]
    else:
        y = rng.dirichlet(np.full(k, 1.0 if kind == 1 else 0.3), size=m).T
    return case(z, y)


def _sgd(rng: Rng) -> dict:
    x, y, params, activations, loss = network(rng, m=_n(rng, 3, 9))
    N = x.shape[1]  # the training set's size
    decay = {} if rng.random() < 0.3 else {"weight_decay": float(rng.choice([0.0, 0.5, 2.0, 7.0]))}
    made = case(
        params, x, y, activations, loss,
        epochs=_n(rng, 1, 3), batch_size=_n(rng, 1, N), eta=float(rng.uniform(0.01, 0.3)),
        momentum=float(rng.choice([0.0, 0.5, 0.9])), seed=int(rng.integers(0, 100)), **decay,
    )  # fmt: skip
    if rng.random() < 0.5:  # without one, sgd must not call it
        return made
    return {**made, "callback": "callback"}  # what the callback is given counts too


def _update(rng: Rng) -> dict:
    _, _, params, _, _ = network(rng)
    grads = {k: rng.normal(size=v.shape) for k, v in params.items() if rng.random() < 0.7}
    return case(params, grads, float(rng.uniform(0.01, 2.0)))


def _relative_error(rng: Rng) -> dict:
    shape = (_n(rng), _m(rng))
    a = batch(rng, *shape)
    kind = rng.integers(0, 4)
    if kind == 0:
        return case(float(rng.normal()), float(rng.normal()))
    if kind == 1:
        return case(a, a + 1e-6 * rng.normal(size=shape))
    if kind == 2:
        return case(np.zeros(shape), np.zeros(shape))
    return case(a, batch(rng, *shape), float(rng.choice([1e-12, 1e-3])))


def _output_error(rng: Rng) -> dict:
    if rng.random() < 0.25:  # lesson 04's sigmoid output with the binary cross-entropy
        n, m = _n(rng), _m(rng)
        z = batch(rng, n, m) * float(rng.choice([1.0, 10.0, 30.0]))
        if rng.random() < 0.5:  # a saturated unit: σ(z) rounds to 1 (or nearly 0)
            where = int(rng.integers(n)), int(rng.integers(m))
            z[where] = rng.choice([-1, 1]) * rng.uniform(38, 700)
        y = np.where(rng.random((n, m)) < 0.7, rng.integers(0, 2, (n, m)), rng.random((n, m)))
        return case(ACTIVATE["sigmoid"](z), y, z, "sigmoid", "binary_cross_entropy")
    activation, loss = OUTPUTS[int(rng.integers(len(OUTPUTS)))]
    n, m = _n(rng, 2), _m(rng)
    z = batch(rng, n, m)
    a = ACTIVATE[activation](z)
    return case(a, targets(rng, loss, n, m), z, activation, loss)


def _hidden_error(rng: Rng) -> dict:
    n_next, n_l, m = _n(rng), _n(rng), _m(rng)
    activation = str(rng.choice(ACTIVATIONS))
    return case(batch(rng, n_next, n_l), batch(rng, n_next, m), batch(rng, n_l, m), activation)


def _dense_backward(rng: Rng) -> dict:
    n_l, n_prev = _n(rng), _n(rng)
    return case(batch(rng, n_l, 1), (batch(rng, n_prev, 1), batch(rng, n_l, n_prev)))


def _backprop(rng: Rng) -> dict:
    x, y, params, activations, loss = network(rng, m=1)
    if rng.random() < 0.25:  # a sigmoid output with the binary cross-entropy (lesson 04)
        activations, loss = [*activations[:-1], "sigmoid"], "binary_cross_entropy"
        y = rng.integers(0, 2, y.shape).astype(float)
    return case(x, y, params, activations, loss)


def _gradient_check(rng: Rng) -> dict:
    """Columns, matrices and 1-D arrays; grads for some of them, exact, nearly, planted,
    random or zero; costs that ignore some entries; steps from 1e-6 to 1e-2."""
    from backprop_autograder.hidden.matrix_form import _exact_gradients, _quadratic_cost

    kinds = [lambda: (_n(rng), 1), lambda: (_n(rng), _n(rng)), lambda: (_n(rng),)]
    shapes = {f"p{i}": kinds[int(rng.integers(3))]() for i in range(_n(rng, 1, 3))}
    unused = {key: [0] for key in shapes if rng.random() < 0.3}
    cost = _quadratic_cost(rng, shapes, unused)
    params = {key: batch(rng, int(np.prod(s)), 1).reshape(s) for key, s in shapes.items()}
    exact = _exact_gradients(cost, params)
    grads = {}
    for key in [k for k in shapes if rng.random() < 0.8] or list(shapes)[:1]:
        kind, g = int(rng.integers(5)), exact[key].copy()
        if kind == 1:
            g = g * (1.0 + 1e-3 * rng.normal(size=g.shape))
        elif kind == 2:
            g[tuple(int(rng.integers(n)) for n in g.shape)] += float(rng.normal())
        elif kind == 3:
            g = rng.normal(size=g.shape)
        elif kind == 4:
            g = np.zeros(g.shape)
        grads[key] = g
    if rng.random() < 0.3:
        return case(cost, params, grads)
    return case(cost, params, grads, float(rng.choice([1e-6, 1e-4, 1e-3, 1e-2])))


# -- lesson 06: sequences (caches made as the forward pass makes them) -------------------------

LOSS_NAMES = ("softmax_cross_entropy", "half_squared_error", "mean_squared_error")


def _rnn(rng: Rng, n_y: int | None = None) -> tuple:
    """(X, h0, params) of a random RNN: sizes 1 to 7, T 1 to 6, m 1 to 8; weights from small
    to saturating (every state ±1 to the last digit), h0 zero, a state, or any values."""
    n_x, n_h, T, m = _n(rng), _n(rng), _n(rng, 1, 6), _m(rng)
    gain = float(rng.choice([0.3, 1.0, 1.0, 30.0]))  # 30: saturated states
    params = {"W_xh": gain * batch(rng, n_h, n_x), "W_hh": batch(rng, n_h, n_h) / np.sqrt(n_h),
              "b_h": batch(rng, n_h, 1)}  # fmt: skip
    if n_y is not None:
        params["W_hy"], params["b_y"] = batch(rng, n_y, n_h), batch(rng, n_y, 1)
    X = np.stack([batch(rng, n_x, m) for _ in range(T)])
    kind = int(rng.integers(3))
    h0 = [np.zeros((n_h, m)), np.tanh(batch(rng, n_h, m)), batch(rng, n_h, m)][kind]
    return X, h0, params


def _step_cache(rng: Rng) -> tuple:
    """(dh, cache) with cache.h = tanh(W_hh h_prev + W_xh x + b_h), as rnn_step_forward makes it."""
    from backprop_course.structures import StepCache

    X, h_prev, params = _rnn(rng)
    x = X[0]
    h = np.tanh(params["W_hh"] @ h_prev + params["W_xh"] @ x + params["b_h"])
    return batch(rng, *h.shape), StepCache(x, h_prev, h, params["W_xh"], params["W_hh"])


def _rnn_backward(rng: Rng) -> dict:
    from backprop_course.structures import StepCache

    X, h, params = _rnn(rng)
    caches = []
    for x in X:
        h_prev, h = h, np.tanh(params["W_hh"] @ h + params["W_xh"] @ x + params["b_h"])
        caches.append(StepCache(x, h_prev, h, params["W_xh"], params["W_hh"]))
    dH = np.stack([batch(rng, *h.shape) for _ in caches])
    return case(dH, caches)


def _sequence_problem(rng: Rng) -> tuple:
    """(X, Y, h0, params, loss): every loss, identity outputs, n_y >= 2 for the softmax."""
    loss = LOSS_NAMES[int(rng.integers(len(LOSS_NAMES)))]
    n_y = _n(rng, 2 if loss == "softmax_cross_entropy" else 1)
    X, h0, params = _rnn(rng, n_y)
    Y = np.stack([targets(rng, loss, n_y, X.shape[2]) for _ in X])
    return X, Y, h0, params, loss


def _truncated(rng: Rng) -> dict:
    problem = _sequence_problem(rng)
    return case(*problem, _n(rng, 1, problem[0].shape[0] + 2))  # k from 1 to T + 2


def _clip(rng: Rng) -> dict:
    """1 to 4 arrays (1-D, columns, matrices, now and then all zeros); max_norm below, equal
    to or above their global norm (now and then exactly 1)."""
    kinds = [lambda: (_n(rng),), lambda: (_n(rng), 1), lambda: (_n(rng), _n(rng))]
    shapes = [kinds[int(rng.integers(3))]() for _ in range(_n(rng, 1, 4))]
    grads = {f"g{i}": batch(rng, 1, int(np.prod(s))).reshape(s) for i, s in enumerate(shapes)}
    if rng.random() < 0.1:
        grads = {key: np.zeros_like(g) for key, g in grads.items()}
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    where = int(rng.integers(4))
    if norm == 0.0 or where == 3:
        max_norm = float(rng.choice([1.0, float(rng.uniform(0.1, 5.0))]))
    else:
        max_norm = norm * [float(rng.uniform(0.05, 0.9)), 1.0, float(rng.uniform(1.1, 3.0))][where]
    return case(grads, max_norm)


Generator = Callable[[Rng], dict[str, Any]]
WIDE: dict[str, Generator] = {
    # lesson 01
    "sigmoid": lambda rng: _extreme(rng) if rng.random() < 0.3 else _elementwise(rng, 5.0),
    "sigmoid_prime": lambda rng: _elementwise(rng, 3.0),
    "relu_prime": _elementwise,
    "softmax": lambda rng: case(batch(rng, _n(rng, 2), _m(rng)) + rng.choice([0.0, 800, -800])),
    "dense_forward": lambda rng: case(*_dense(rng)),
    "layer_forward": lambda rng: case(*_dense(rng), str(rng.choice(ACTIVATIONS))),
    "init_params": _init_params,
    "forward": lambda rng: case(*(lambda n: (n[0], n[2], n[3]))(network(rng))),
    "half_squared_error": lambda rng: case(*(lambda s: (batch(rng, *s), batch(rng, *s)))(
        (_n(rng), _m(rng)))),
    "parameter_count": lambda rng: case(_sizes(rng)),
    # lesson 02
    "numerical_derivative": lambda rng: (
        case(_polynomial(rng), float(rng.uniform(-3, 3)), float(rng.choice([0.1, 0.01, 1e-4])))
        if rng.random() < 0.7 else case(_polynomial(rng), float(rng.uniform(-3, 3)))
    ),
    "neuron_gradients": lambda rng: case(*_numbers(rng, 3), float(rng.uniform(-0.5, 1.5))),
    "mul_rule": lambda rng: case(*_numbers(rng, 2, -6.0, 6.0)),
    "pow_rule": lambda rng: case(float(rng.uniform(0.1, 4.0)),
                                 float(rng.choice([2, 3, -1, 0.5, -2, 1.5, 4, 1]))),
    "tanh_rule": lambda rng: case(float(rng.uniform(-4.0, 4.0))),
    "topological_order": _topological,
    "backward": _backward,
    "gradient_descent_step": _descent_step,
    # lesson 03
    "numerical_jacobian": _numerical_jacobian,
    "elementwise_jacobian": lambda rng: case(_elementwise_derivative(rng), batch(rng, _n(rng), 1)),
    "linear_jacobian_weights": lambda rng: (lambda k, n: case(batch(rng, k, n), batch(rng, n, 1)))(
        _n(rng), _n(rng)),
    "linear_vjp_input": lambda rng: (lambda k, n, m: case(batch(rng, k, m), batch(rng, k, n)))(
        _n(rng), _n(rng), _m(rng)),
    "linear_vjp_weights": lambda rng: (lambda k, n, m: case(batch(rng, k, m), batch(rng, n, m)))(
        _n(rng), _n(rng), _m(rng)),
    "softmax_jacobian": lambda rng: case(batch(rng, _n(rng, 2), 1) * rng.choice([1, 5])),
    "softmax_vjp": lambda rng: (lambda k, m: case(
        batch(rng, k, m), batch(rng, k, m) + rng.choice([0.0, 600.0])))(_n(rng, 2), _m(rng)),
    "softmax_cross_entropy_gradient": _cross_entropy,
    "count_multiply_adds": lambda rng: case(_n(rng, 1, 1000), _n(rng, 1, 1000), _n(rng, 1, 64)),
    # lesson 04
    "output_error": _output_error,
    "hidden_error": _hidden_error,
    "weight_gradient": lambda rng: case(batch(rng, _n(rng), 1), batch(rng, _n(rng), 1)),
    "activation_backward": lambda rng: (lambda n, m: case(batch(rng, n, m), batch(rng, n, m),
                                                          str(rng.choice(ACTIVATIONS))))(
        _n(rng), _m(rng)),
    "dense_backward": _dense_backward,
    "backprop": _backprop,
    "gradient_descent_update": _update,
    "relative_error": _relative_error,
    "gradient_check": _gradient_check,
    # lesson 05
    "batch_weight_gradient": lambda rng: (lambda n, k, m: case(batch(rng, n, m), batch(rng, k, m)))(
        _n(rng), _n(rng), _m(rng)),
    "batch_bias_gradient": lambda rng: case(batch(rng, _n(rng), _m(rng))),
    "evaluate": lambda rng: (lambda n: case(n[0], np.eye(n[1].shape[0])[
        :, rng.integers(0, n[1].shape[0], size=n[0].shape[1])], *n[2:]))(network(rng)),
    "sgd": _sgd,
    # lesson 06
    "rnn_step_forward": lambda rng: (lambda p: case(p[0][0], p[1], p[2]))(_rnn(rng)),
    "rnn_forward": lambda rng: case(*_rnn(rng)),
    "rnn_step_backward": lambda rng: case(*_step_cache(rng)),
    "rnn_backward": _rnn_backward,
    "bptt": lambda rng: case(*_sequence_problem(rng)),
    "truncated_bptt": _truncated,
    "clip_by_global_norm": _clip,
}  # fmt: skip


def wide_cases(exercise: str, seed: int, draws: int = DRAWS) -> list[dict[str, Any]]:
    """``draws`` wide cases for ``exercise``; the same seed gives the same cases."""
    generate = WIDE.get(exercise)
    if generate is None:
        raise KeyError(
            f"no wide inputs for {exercise}: add a generator to WIDE in {__name__} "
            "(mutation testing needs one per exercise)"
        )
    rng = np.random.default_rng([seed, sum(map(ord, exercise))])
    return [generate(rng) for _ in range(draws)]
