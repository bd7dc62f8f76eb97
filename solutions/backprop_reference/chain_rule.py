"""Lesson 02, the chain rule: a scalar reverse-mode automatic-differentiation engine.

The engine's frame, :class:`backprop_course.engine.Value`, records each
operation's result and its *local* derivatives with respect to its parents,
using a rule that keeps the forward and backward parts side by side::

    mul_rule(x, y) = (x * y, (y, x))

This module holds the lesson's answers: the rules for ``*``, ``**`` and
``tanh`` (and ``relu``'s, which the notebook gives), the topological order and
the backward pass that applies the chain rule once per edge, in reverse
topological order, so every node's gradient is complete before it is passed
on to its parents:

    d root / d parent  +=  d root / d node  *  d node / d parent

Gradients accumulate. ``backward(root)`` ADDS d root / d node to the ``grad``
of every node of the graph (the root's own grad grows by 1). Calling it twice
therefore doubles every gradient, exactly, as PyTorch does when you call
backward twice on a retained graph. Call ``root.zero_grad()`` to reset the
whole graph before computing a fresh gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from backprop_course.engine import (
    GraphNode,
    add_rule,
    exp_rule,
    graph_nodes,
    log_rule,
    make_value_class,
    sigmoid_rule,
)
from backprop_course.engine import Value as BaseValue

from ._shapes import checked_by

__all__ = [
    "GraphNode",
    "Value",
    "add_rule",
    "as_value",
    "backward",
    "exp_rule",
    "gradient_descent_step",
    "graph_nodes",
    "log_rule",
    "mul_rule",
    "neuron_gradients",
    "numerical_derivative",
    "pow_rule",
    "relu_rule",
    "sigmoid_rule",
    "tanh_rule",
    "topological_order",
]


def numerical_derivative(f: Callable[[float], float], x: float, h: float = 1e-6) -> float:
    """df/dx at x by the centred difference (f(x + h) - f(x - h)) / 2h.

    Shapes: scalars. Its error shrinks like h^2, against h for the one-sided
    (f(x + h) - f(x)) / h.
    """
    return (f(x + h) - f(x - h)) / (2 * h)


def neuron_gradients(w: float, b: float, x: float, y: float) -> tuple[float, float]:
    """dC/dw and dC/db for one sigmoid neuron, by the chain rule by hand.

    Shapes: scalars. The neuron computes z = w x + b and a = sigma(z); its cost
    is C = 1/2 (a - y)^2. Returns (dC/dw, dC/db).
    """
    a = 1.0 / (1.0 + math.exp(-(w * x + b)))
    dC_dz = (a - y) * a * (1.0 - a)  # dC/da times da/dz
    return dC_dz * x, dC_dz  # dz/dw = x and dz/db = 1


# -- the rules: result, then local derivatives (one per operand) ------------


def mul_rule(x: float, y: float) -> tuple[float, tuple[float, float]]:
    """x * y; d/dx = y and d/dy = x. Shapes: scalars."""
    return x * y, (y, x)


def pow_rule(x: float, c: float) -> tuple[float, tuple[float]]:
    """x ** c for a constant c; d/dx = c x^(c - 1). Shapes: scalars.

    Only x is a node of the graph, so there is one local derivative.
    """
    return x**c, (c * x ** (c - 1),)


def tanh_rule(x: float) -> tuple[float, tuple[float]]:
    """tanh x; d/dx = 1 - tanh(x)^2, computed from the result. Shapes: scalars."""
    t = math.tanh(x)
    return t, (1.0 - t * t,)


def relu_rule(x: float) -> tuple[float, tuple[float]]:
    """max(0, x); d/dx = 1 for x > 0 and 0 otherwise (0 at the kink). Shapes: scalars.

    Given in the notebook (lesson 01 graded relu' already); the engine needs it here.
    """
    return (x, (1.0,)) if x > 0 else (0.0, (0.0,))


# -- reverse mode -------------------------------------------------------------


def topological_order(root: BaseValue) -> list[BaseValue]:
    """Every node that ``root`` depends on, parents before children, ``root`` last.

    Shapes: a graph of scalar Values in, a list of its nodes out, each once.
    An iterative depth-first search, so deep graphs do not hit Python's
    recursion limit.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))  # comes back once its parents are placed
            stack.extend((parent, False) for parent in reversed(node.parents))
    return order


def backward(root: BaseValue) -> None:
    """Add d root / d node to ``node.grad`` for every node of ``root``'s graph.

    Shapes: scalar Values; changes the ``grad`` attributes in place. Works in
    reverse topological order with a fresh table of this call's gradients, so
    an earlier call never leaks into this one: calling backward twice gives
    exactly twice the gradients (see the module text).
    """
    order = topological_order(root)
    fresh = {id(node): 0.0 for node in order}
    fresh[id(root)] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            fresh[id(parent)] += fresh[id(node)] * local  # the chain rule, one edge
    for node in order:
        node.grad += fresh[id(node)]


def _check_leaves(leaves: Iterable[BaseValue], eta: float) -> None:
    if not isinstance(leaves, (list, tuple)):
        raise ValueError(f"leaves must be a list of Values such as [w, b], got {leaves!r}")
    for leaf in leaves:
        if leaf.parents:
            raise ValueError(f"{leaf!r} is not a leaf: only update parameters, not results")


@checked_by(_check_leaves)
def gradient_descent_step(leaves: list[BaseValue], eta: float) -> None:
    """One step of gradient descent, in place: w <- w - eta dC/dw for each leaf w.

    Shapes: scalar Values. Call after ``cost.backward()``; zero the gradients
    before the next backward.
    """
    for leaf in leaves:
        leaf.data -= eta * leaf.grad


# The engine, running the rules and the backward pass above.
Value = make_value_class(globals())


def as_value(x: BaseValue | float) -> BaseValue:
    """Wrap a plain number as a constant leaf; a Value passes through unchanged."""
    return Value.wrap(x)
