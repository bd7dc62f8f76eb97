"""Lesson 02 reference: the scalar reverse-mode engine."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backprop_course.checks.chain_rule import micrograd_example
from backprop_reference.chain_rule import (
    Value,
    gradient_descent_step,
    graph_nodes,
    topological_order,
)

small = st.floats(-3, 3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


def test_micrograd_readme_example():
    a, b, g = micrograd_example(Value)  # the expression of micrograd's README
    g.backward()
    assert g.data == pytest.approx(24.7041, abs=1e-4)
    assert a.grad == pytest.approx(138.8338, abs=1e-4)
    assert b.grad == pytest.approx(645.5773, abs=1e-4)


UNARY = {
    "exp": (lambda v: v.exp(), math.exp),
    "log": (lambda v: v.log(), math.log),
    "tanh": (lambda v: v.tanh(), math.tanh),
    "sigmoid": (lambda v: v.sigmoid(), lambda x: 1 / (1 + math.exp(-x))),
    "relu": (lambda v: v.relu(), lambda x: max(x, 0.0)),
    "square": (lambda v: v**2, lambda x: x**2),
    "cube": (lambda v: v**3, lambda x: x**3),
    "inverse": (lambda v: v**-1, lambda x: 1 / x),
    "neg": (lambda v: -v, lambda x: -x),
}

BINARY = {
    "add": (lambda u, v: u + v),
    "sub": (lambda u, v: u - v),
    "mul": (lambda u, v: u * v),
    "div": (lambda u, v: u / v),
}


def centred(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=small)
def test_unary_gradient_matches_centred_difference(name, x):
    op, plain = UNARY[name]
    if name == "log":
        x = abs(x)
    v = Value(x)
    out = op(v)
    assert out.data == pytest.approx(plain(x), rel=1e-12, abs=1e-300)
    out.backward()
    assert v.grad == pytest.approx(centred(plain, x), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", sorted(BINARY))
@given(x=small, y=small)
def test_binary_gradients_match_centred_differences(name, x, y):
    op = BINARY[name]
    u, v = Value(x), Value(y)
    out = op(u, v)
    assert out.data == pytest.approx(op(x, y), rel=1e-12)
    out.backward()
    assert u.grad == pytest.approx(centred(lambda t: op(t, y), x), rel=1e-6, abs=1e-8)
    assert v.grad == pytest.approx(centred(lambda t: op(x, t), y), rel=1e-6, abs=1e-8)


@given(x=small, y=small)
def test_numbers_combine_on_either_side(x, y):
    v = Value(x)
    for expr, expected in [
        (2 + v, 2 + x),
        (v + 2, x + 2),
        (3 * v, 3 * x),
        (v * 3, x * 3),
        (1 - v, 1 - x),
        (v - 1, x - 1),
        (y / v, y / x),
        (v / y, x / y),
    ]:
        assert expr.data == pytest.approx(expected, rel=1e-12)


@given(x=small, y=small)
def test_micrograd_expression_against_centred_differences(x, y):
    def plain(a, b):
        return micrograd_example(Value, a, b)[2].data

    a, b, g = micrograd_example(Value, x, y)
    assume(abs(x + y) > 1e-3 and abs(y - x) > 1e-3 and abs(g.data) < 1e8)  # relu kinks; f = 0
    g.backward()
    assert a.grad == pytest.approx(centred(lambda t: plain(t, y), x), rel=1e-5, abs=1e-6)
    assert b.grad == pytest.approx(centred(lambda t: plain(x, t), y), rel=1e-5, abs=1e-6)


def test_reused_node_accumulates_from_every_path():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad == 7.0


def test_backward_twice_doubles_every_gradient_exactly():
    _, _, g = micrograd_example(Value)
    g.backward()
    once = {id(n): n.grad for n in topological_order(g)}
    g.backward()
    for node in topological_order(g):
        assert node.grad == 2 * once[id(node)]
    assert g.grad == 2.0


def test_zero_grad_resets_the_whole_graph():
    a, b = Value(1.5), Value(-0.5)
    g = (a * b).tanh() + a.exp()
    g.backward()
    g.zero_grad()
    assert all(node.grad == 0.0 for node in topological_order(g))
    g.backward()
    assert a.grad == pytest.approx(b.data * (1 - math.tanh(a.data * b.data) ** 2) + math.exp(1.5))


def test_deep_graph_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_graph_nodes_lists_values_gradients_and_edges():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    L = c + a
    L.label = "L"
    L.backward()
    nodes = graph_nodes(L)
    by_label = {n.label: n for n in nodes}
    assert [n.id for n in nodes] == list(range(4))
    assert nodes[-1].label == "L"
    assert by_label["c"].op == "*" and by_label["a"].op == ""
    assert set(by_label["c"].parents) == {by_label["a"].id, by_label["b"].id}
    assert set(by_label["L"].parents) == {by_label["c"].id, by_label["a"].id}
    assert by_label["a"].grad == pytest.approx(-3.0 + 1.0)
    assert by_label["b"].grad == pytest.approx(2.0)
    assert by_label["c"].value == -6.0
    for node in nodes:  # parents always come first
        assert all(p < node.id for p in node.parents)


def test_gradient_descent_step_moves_downhill():
    w = Value(3.0)
    for _ in range(50):
        loss = (w - 1) ** 2
        w.grad = 0.0
        loss.backward()
        gradient_descent_step([w], eta=0.1)
    assert w.data == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="not a leaf"):
        gradient_descent_step([w * 2], eta=0.1)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: Value(-1.0).log(), ValueError),
        (lambda: Value(0.0).log(), ValueError),
        (lambda: Value(1.0) / 0, ZeroDivisionError),
        (lambda: Value(-2.0) ** 0.5, ValueError),
        (lambda: Value(2.0) ** Value(2.0), TypeError),
        (lambda: Value(1.0) + "1", TypeError),
        (lambda: Value(Value(1.0)), TypeError),
    ],
)
def test_undefined_operations_fail_clearly(call, error):
    with pytest.raises(error):
        call()


def test_sigmoid_is_safe_far_out():
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
