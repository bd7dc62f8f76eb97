"""Lesson 02, the chain rule: a scalar reverse-mode automatic-differentiation engine.

Every operation builds a new :class:`Value` that remembers its parents and the
*local* derivative of its result with respect to each parent. The backward
rule of each operation is therefore written right next to its forward rule:
``a * b`` records local derivatives ``(b, a)``.

:meth:`Value.backward` then applies the chain rule once per edge, visiting the
nodes in reverse topological order, so every node's gradient is complete
before it is passed on to its parents:

    dout/dparent += dout/dnode * dnode/dparent

Gradients accumulate. ``root.backward()`` ADDS d root / d node to the ``grad``
of every node of the graph (the root's own grad grows by 1). Calling it twice
therefore doubles every gradient, exactly, as PyTorch does when you call
backward twice on a retained graph. Call :meth:`Value.zero_grad` on the root
to reset the whole graph before computing a fresh gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

Number = int | float


class Value:
    """A scalar node of a computational graph: its value, gradient and parents.

    Attributes:
        data      the value computed by the forward pass (float)
        grad      accumulated d(root)/d(this node) from backward() calls (float)
        parents   the nodes this one was computed from (tuple of Value)
        local_grads  d(this)/d(parent) for each parent, same order (tuple of float)
        op        the operation that made it ("" for a leaf)
        label     an optional name for drawing the graph
    """

    __slots__ = ("data", "grad", "label", "local_grads", "op", "parents")

    def __init__(
        self,
        data: Number,
        parents: tuple[Value, ...] = (),
        local_grads: tuple[float, ...] = (),
        op: str = "",
        label: str = "",
    ) -> None:
        if isinstance(data, Value):
            raise TypeError("Value(Value(...)) is not allowed: use the Value itself")
        if len(parents) != len(local_grads):
            raise ValueError("need one local derivative per parent")
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)
        self.local_grads = tuple(float(g) for g in local_grads)
        self.op = op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # -- each operation: forward value, then local derivatives ------------

    def __add__(self, other: Value | Number) -> Value:
        other = as_value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other: Value | Number) -> Value:
        other = as_value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, exponent: Number) -> Value:
        """self ** c for a constant number c (d/dx x^c = c x^(c-1))."""
        if isinstance(exponent, Value):
            raise TypeError("only constant exponents are supported: x ** 2, not x ** y")
        c = float(exponent)
        if self.data < 0 and not c.is_integer():
            raise ValueError(f"{self.data!r} ** {c!r} is not a real number")
        return Value(self.data**c, (self,), (c * self.data ** (c - 1),), f"**{exponent:g}")

    def exp(self) -> Value:
        """e^x; its derivative is e^x again."""
        e = math.exp(self.data)
        return Value(e, (self,), (e,), "exp")

    def log(self) -> Value:
        """Natural logarithm; defined for data > 0 only."""
        if self.data <= 0:
            raise ValueError(f"log is undefined at {self.data!r}: its argument must be > 0")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self) -> Value:
        """tanh(x); its derivative is 1 - tanh(x)^2."""
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self) -> Value:
        """1 / (1 + e^-x); its derivative is s (1 - s)."""
        x = self.data
        # Pick the form whose exp cannot overflow.
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self) -> Value:
        """max(0, x); its derivative is taken as 0 at x = 0."""
        positive = self.data > 0
        return Value(self.data if positive else 0.0, (self,), (1.0 if positive else 0.0,), "relu")

    # -- operations made from the ones above (their gradients come free) ---

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-as_value(other))

    def __truediv__(self, other: Value | Number) -> Value:
        other = as_value(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other**-1

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return as_value(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return as_value(other) / self

    # -- reverse mode -------------------------------------------------------

    def backward(self) -> None:
        """Add d(self)/d(node) to ``node.grad`` for every node of the graph.

        Works in reverse topological order with a fresh table of this call's
        gradients, so earlier calls never leak into this one: calling
        backward twice gives exactly twice the gradients. See the module text.
        """
        order = topological_order(self)
        fresh = {id(node): 0.0 for node in order}
        fresh[id(self)] = 1.0
        for node in reversed(order):
            upstream = fresh[id(node)]
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                fresh[id(parent)] += upstream * local
        for node in order:
            node.grad += fresh[id(node)]

    def zero_grad(self) -> None:
        """Set the gradient of every node of this graph back to 0."""
        for node in topological_order(self):
            node.grad = 0.0


def as_value(x: Value | Number) -> Value:
    """Wrap a plain number as a constant leaf; a Value passes through unchanged."""
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"cannot combine a Value with {type(x).__name__} {x!r}")
    return Value(x)


def topological_order(root: Value) -> list[Value]:
    """Every node that ``root`` depends on, parents before children, ``root`` last.

    Iterative depth-first search, so deep graphs do not hit Python's recursion
    limit. Each node appears once even if it is used many times.
    """
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in reversed(node.parents) if id(p) not in visited)
    return order


class GraphNode(NamedTuple):
    """One node of a graph, as a drawing needs it.

    id        position of the node in topological order (0 = first leaf)
    label     the node's label ("" if unnamed)
    op        the operation that produced it ("" for a leaf)
    value     its data
    grad      its accumulated gradient
    parents   ids of its parents (edges run parent -> this node)
    local_grads  d(this)/d(parent) for each parent, same order
    """

    id: int
    label: str
    op: str
    value: float
    grad: float
    parents: tuple[int, ...]
    local_grads: tuple[float, ...]


def graph_nodes(root: Value) -> list[GraphNode]:
    """List ``root``'s graph in topological order with values, gradients and edges."""
    order = topological_order(root)
    index = {id(node): i for i, node in enumerate(order)}
    return [
        GraphNode(
            id=index[id(node)],
            label=node.label,
            op=node.op,
            value=node.data,
            grad=node.grad,
            parents=tuple(index[id(p)] for p in node.parents),
            local_grads=node.local_grads,
        )
        for node in order
    ]


def gradient_descent_step(leaves: Iterable[Value], eta: float) -> None:
    """One step of gradient descent on scalar parameters, in place: w <- w - eta dC/dw.

    Call after ``cost.backward()``; zero the gradients before the next backward.
    """
    for leaf in leaves:
        if leaf.parents:
            raise ValueError(f"{leaf!r} is not a leaf: only update parameters, not results")
        leaf.data -= eta * leaf.grad
