"""The frame of lesson 02's scalar engine: a ``Value`` that records a graph.

Each operation is a *rule*: a small function that takes plain numbers and
returns the result together with its local derivatives, forward and backward
side by side::

    def add_rule(x, y):
        return x + y, (1.0, 1.0)        # x + y, then d/dx and d/dy

``Value`` does the bookkeeping only. It finds the rules, ``backward`` and
``topological_order`` **by name, when they are used**, in the namespace it was
made from (a notebook's ``globals()`` or a module's ``vars()``)::

    Value = make_value_class(globals())

So the functions you write later in the notebook are the ones the engine
runs, and running a cell again replaces them. The rules for ``+``, ``exp``,
``log`` and ``sigmoid`` are given here as worked examples (the notebook gives
``relu``'s); the rules for ``*``, ``**`` and ``tanh``, the topological order
and the backward pass are the lesson's exercises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

Number = int | float
Rule = Callable[..., tuple[float, tuple[float, ...]]]


# -- the worked-example rules: result, then local derivatives -------------


def add_rule(x: float, y: float) -> tuple[float, tuple[float, float]]:
    """x + y; d/dx = 1 and d/dy = 1."""
    return x + y, (1.0, 1.0)


def exp_rule(x: float) -> tuple[float, tuple[float]]:
    """e^x; its derivative is e^x again."""
    e = math.exp(x)
    return e, (e,)


def log_rule(x: float) -> tuple[float, tuple[float]]:
    """ln x for x > 0; its derivative is 1/x."""
    if x <= 0:
        raise ValueError(f"log is undefined at {x!r}: its argument must be > 0")
    return math.log(x), (1.0 / x,)


def sigmoid_rule(x: float) -> tuple[float, tuple[float]]:
    """1 / (1 + e^-x); its derivative is s (1 - s), from the result s itself."""
    # Pick the form whose exp cannot overflow.
    s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
    return s, (s * (1.0 - s),)


_SYMBOLS = {"add": "+", "mul": "*", "pow": "**"}

GIVEN_RULES: dict[str, Rule] = {
    "add_rule": add_rule,
    "exp_rule": exp_rule,
    "log_rule": log_rule,
    "sigmoid_rule": sigmoid_rule,
}


class Value:
    """A scalar node of a computational graph: its value, gradient and parents.

    Attributes:
        data         the value computed by the forward pass (float)
        grad         accumulated d(root)/d(this node) from backward() (float)
        parents      the nodes this one was computed from (tuple of Value)
        local_grads  d(this)/d(parent) for each parent, same order (tuple of float)
        op           the operation that made it ("" for a leaf)
        label        an optional name, shown when the graph is drawn

    Use a class made by :func:`make_value_class`; this base class knows no rules.
    """

    __slots__ = ("data", "grad", "label", "local_grads", "op", "parents")
    _namespace: ClassVar[Mapping[str, Any]] = {}

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

    # -- finding the functions this engine runs -------------------------------

    @classmethod
    def lookup(cls, name: str) -> Callable[..., Any]:
        """The function called ``name`` in the engine's namespace (or a given rule)."""
        function = cls._namespace.get(name, GIVEN_RULES.get(name))
        if not callable(function):
            raise NameError(
                f"Value needs a function called {name!r}, and none is defined yet: "
                f"run the cell that defines {name}."
            )
        return function

    def _apply(self, op: str, *others: Value | Number, constant: Number | None = None) -> Value:
        """Run ``{op}_rule`` on the operands' data and record the new node."""
        operands = (self, *(self.wrap(other) for other in others))
        numbers = [node.data for node in operands]
        if constant is not None:
            numbers.append(float(constant))
        result, local_grads = self.lookup(f"{op}_rule")(*numbers)
        symbol = _SYMBOLS.get(op, op)
        label = symbol if constant is None else f"{symbol}{constant:g}"
        return type(self)(result, operands, tuple(local_grads), label)

    @classmethod
    def wrap(cls, x: Value | Number) -> Value:
        """A plain number becomes a constant leaf; a Value passes through unchanged."""
        if isinstance(x, Value):
            return x
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise TypeError(f"cannot combine a Value with {type(x).__name__} {x!r}")
        return cls(x)

    # -- operations with their own rule ---------------------------------------

    def __add__(self, other: Value | Number) -> Value:
        return self._apply("add", other)

    def __mul__(self, other: Value | Number) -> Value:
        return self._apply("mul", other)

    def __pow__(self, exponent: Number) -> Value:
        """self ** c for a constant number c."""
        if isinstance(exponent, Value):
            raise TypeError("only constant exponents are supported: x ** 2, not x ** y")
        if self.data < 0 and not float(exponent).is_integer():
            raise ValueError(f"{self.data!r} ** {exponent!r} is not a real number")
        return self._apply("pow", constant=exponent)

    def exp(self) -> Value:
        return self._apply("exp")

    def log(self) -> Value:
        return self._apply("log")

    def tanh(self) -> Value:
        return self._apply("tanh")

    def sigmoid(self) -> Value:
        return self._apply("sigmoid")

    def relu(self) -> Value:
        return self._apply("relu")

    # -- operations built from the ones above (their gradients come free) ------

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other: Value | Number) -> Value:
        return self + (-self.wrap(other))

    def __truediv__(self, other: Value | Number) -> Value:
        other = self.wrap(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other**-1

    def __radd__(self, other: Number) -> Value:
        return self + other

    def __rmul__(self, other: Number) -> Value:
        return self * other

    def __rsub__(self, other: Number) -> Value:
        return self.wrap(other) - self

    def __rtruediv__(self, other: Number) -> Value:
        return self.wrap(other) / self

    # -- reverse mode, by the functions of the lesson ---------------------------

    def backward(self) -> None:
        """Add d(self)/d(node) to ``node.grad`` for every node: runs ``backward(self)``."""
        self.lookup("backward")(self)

    def zero_grad(self) -> None:
        """Set the gradient of every node of this graph back to 0."""
        for node in self.lookup("topological_order")(self):
            node.grad = 0.0


def make_value_class(namespace: Mapping[str, Any]) -> type[Value]:
    """A ``Value`` class that finds its rules and backward pass in ``namespace``.

    Call it as ``Value = make_value_class(globals())``. Names are looked up at
    each use, so functions defined (or redefined) later are picked up.
    """
    return type("Value", (Value,), {"__slots__": (), "_namespace": namespace})


class GraphNode(NamedTuple):
    """One node of a graph, as a drawing needs it.

    id           position of the node in topological order (0 = first leaf)
    label        the node's label ("" if unnamed)
    op           the operation that produced it ("" for a leaf)
    value        its data
    grad         its accumulated gradient
    parents      ids of its parents (edges run parent -> this node)
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
    order = root.lookup("topological_order")(root)
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
