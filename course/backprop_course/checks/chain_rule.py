"""Visible checks for lesson 02, the chain rule: one function per exercise.

Use them as ``check.mul_rule(mul_rule)`` after ``from backprop_course.checks
import chain_rule as check``. Their oracles are finite differences, values
worked by hand, micrograd's published example and the definition of a
topological order.
"""

from __future__ import annotations

import math
import random
from collections import ChainMap
from collections.abc import Callable, Sequence
from typing import Any

from backprop_course.checking import (
    ATOL,
    RTOL,
    CheckFailed,
    Checks,
    described,
    difference,
    namespace_of,
    quiet,
)
from backprop_course.engine import Value, make_value_class
from backprop_course.grading import exercise_check
from backprop_course.hints import asker
from backprop_course.replay import build_graph
from backprop_course.stand_ins import answers

# check.hint("<exercise>") in a notebook: the exercise's next hint (see backprop_course.hints).
hint = asker(__name__)

Function = Callable[..., object]
DIFFERENCE_STEP = 1e-6


def _centred(f: Callable[[float], float], x: float, h: float = DIFFERENCE_STEP) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@exercise_check(
    hints=(
        "Evaluate f on both sides of x, at x + h and at x - h, and divide the change in f by the "
        "distance between those two points. Why is this centred form better than the one-sided "
        "(f(x + h) - f(x)) / h (section 2)?",
        "The two points x - h and x + h are 2h apart, not h. Keep the default h = 1e-6 in the "
        "signature; with h = 0.1, x^3 at x = 1 must give 3.01, while the one-sided difference "
        "gives 3.31, which the check recognises.",
    )
)
def numerical_derivative(fn: Function) -> None:
    """(f(x + h) - f(x - h)) / 2h."""
    checks = Checks("numerical_derivative")
    cube = described(lambda x: x**3, "f(x) = x³")
    # (1.1^3 - 0.9^3) / 0.2 = (1.331 - 0.729) / 0.2 = 3.01; one-sided: 0.331 / 0.1 = 3.31.
    checks.expect(
        checks.call(fn, cube, 1.0, 0.1),
        3.01,
        what="numerical_derivative(x ** 3, 1.0, h=0.1)",
        variants={"one_sided_difference": 3.31},
        rtol=1e-9,
    )
    checks.expect(
        checks.call(fn, math.sin, 0.3),
        math.cos(0.3),
        what="numerical_derivative(math.sin, 0.3) with the default h (cos 0.3 exactly)",
        rtol=1e-8,
    )
    checks.done()


@exercise_check(
    hints=(
        "C depends on w through the chain w → z → a → C, and on b through b → z → a → C: each "
        "derivative is a product of three local derivatives, and the first two are shared (section "
        "3). Work out ∂C/∂a, ∂a/∂z, ∂z/∂w and ∂z/∂b on paper, each from its own step.",
        "∂C/∂a = a - y (the ½ cancels the 2 of the square), ∂a/∂z = σ'(z) = a (1 - a) with a = σ(w "
        "x + b), ∂z/∂w = x and ∂z/∂b = 1. Leaving out the σ' factor is the mistake the check names "
        "most; y - a instead of a - y flips both signs.",
        "Compute a once, then the shared product of the first two factors, ∂C/∂z (lesson 04's δ), "
        "and return the pair (δ x, δ). The worked example w = -0.5, b = 0.3, x = 2, y = 1 must "
        "give about (-0.2963, -0.1481).",
    )
)
def neuron_gradients(fn: Function) -> None:
    """(dC/dw, dC/db) for C = 1/2 (sigma(w x + b) - y)^2."""
    checks = Checks("neuron_gradients")
    for w, b, x, y in ((0.5, -0.2, 1.5, 1.0), (-1.2, 0.3, 0.7, 0.0), (2.0, 1.0, -0.5, 0.25)):

        def cost(w: float, b: float, x: float = x, y: float = y) -> float:
            return 0.5 * (1 / (1 + math.exp(-(w * x + b))) - y) ** 2

        expected = (
            _centred(lambda t, b=b: cost(t, b), w),
            _centred(lambda t, w=w: cost(w, t), b),
        )
        a = 1 / (1 + math.exp(-(w * x + b)))
        checks.expect(
            _pair(checks.call(fn, w, b, x, y)),
            expected,
            what=f"(dC/dw, dC/db) for w={w}, b={b}, x={x}, y={y}, against centred differences",
            variants={
                "missing_sigma_prime": ((a - y) * x, a - y),
                "flipped_sign": (-expected[0], -expected[1]),
            },
            rtol=1e-6,
        )
    checks.done()


def _rule_checks(
    name: str,
    fn: Function,
    points: Sequence[tuple[float, ...]],
    examples: Sequence[tuple[tuple[float, ...], object]],
    variants: Callable[..., dict[str, object]] = lambda *args: {},
) -> None:
    """A rule's examples by hand, then its local derivatives against centred differences."""
    checks = Checks(name)
    for args, expected in examples:
        checks.expect(
            _rule_result(checks.call(fn, *args)),
            expected,
            what=f"{name}{args}",
            variants=variants(*args),
        )
    for args in points:
        _, local = _rule_result(checks.call(fn, *args))
        operands = 1 if name == "pow_rule" else len(args)
        numeric = []
        for i in range(operands):

            def moved(t: float, i: int = i, args: tuple = args) -> float:
                return _rule_result(fn(*args[:i], t, *args[i + 1 :]))[0]

            with quiet():
                numeric.append(_centred(moved, args[i]))
        checks.expect(
            local,
            tuple(numeric),
            what=f"the local derivatives of {name}{args}, against centred differences",
            variants=variants(*args) and {k: v[1] for k, v in variants(*args).items()},
            rtol=1e-6,
            atol=1e-8,
        )
    checks.done()


@exercise_check(
    hints=(
        "A rule returns two things: the result x y, and a tuple of local derivatives, one per "
        "operand, in the order of the operands. Hold y fixed and move x: how fast does x y change? "
        "Then hold x fixed and move y.",
        "∂(x y)/∂x = y and ∂(x y)/∂y = x, so the tuple holds y first and x second; (x, y) swaps "
        "them, a mistake the check recognises. Check by hand: mul_rule(3.0, -2.0) should give "
        "(-6.0, (-2.0, 3.0)).",
    )
)
def mul_rule(fn: Function) -> None:
    """x * y, with (d/dx, d/dy) = (y, x)."""
    _rule_checks(
        "mul_rule",
        fn,
        points=[(1.5, -2.0), (0.3, 4.0)],
        examples=[((3.0, -2.0), (-6.0, (-2.0, 3.0)))],
        variants=lambda x, y: {"swapped_partials": (x * y, (x, y))},
    )


@exercise_check(
    hints=(
        "Only x is a node: c is a constant, so the tuple of local derivatives has exactly one "
        "entry, d(x^c)/dx. What does the power rule give, and does it still hold for c = -1 "
        "(division) and c = 0.5?",
        "The factor c of the power rule is easy to drop: d/dx x^c is c times x^(c - 1), not x^(c - "
        "1) alone. A one-element tuple needs a trailing comma, (value,), since (value) is just a "
        "number; x = 2, c = 3 should give (8.0, (12.0,)).",
    )
)
def pow_rule(fn: Function) -> None:
    """x ** c for a constant c, with d/dx = c x^(c - 1)."""
    _rule_checks(
        "pow_rule",
        fn,
        points=[(1.7, 3.0), (2.5, -1.0), (4.0, 0.5)],
        examples=[((2.0, 3.0), (8.0, (12.0,))), ((2.0, -1.0), (0.5, (-0.25,)))],
        variants=lambda x, c: {"missing_power_factor": (x**c, (x ** (c - 1),))},
    )


@exercise_check(
    hints=(
        "Return tanh x and a one-entry tuple holding d(tanh x)/dx. Derive the derivative from tanh "
        "= sinh / cosh with the quotient rule, then rewrite it with tanh x alone, as lesson 01 did "
        "for the sigmoid.",
        "The quotient rule gives (cosh^2 x - sinh^2 x) / cosh^2 x. Split it into two fractions: "
        "the first is 1, and the second is the square of a ratio you already know.",
        "The derivative is 1 - tanh^2 x. Evaluate tanh x once, keep it in a variable, and build "
        "the local derivative from it; x = 0 should give (0.0, (1.0,)) and x = 0.5 a slope of "
        "about 0.786448.",
    )
)
def tanh_rule(fn: Function) -> None:
    """tanh x, with d/dx = 1 - tanh(x)^2."""
    _rule_checks(
        "tanh_rule",
        fn,
        points=[(0.4,), (-1.3,), (2.2,)],
        examples=[((0.0,), (0.0, (1.0,)))],
        variants=lambda x: {"missing_sigma_prime": (math.tanh(x), (1.0,))},
    )


def _rule_result(result: object) -> tuple[float, tuple[float, ...]]:
    """(result, (local derivatives...)) with lists accepted as tuples."""
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise CheckFailed(
            f"a rule should return a pair (result, local_derivatives), got {result!r:.80}"
        )
    value, local = result
    if not isinstance(local, (tuple, list)):
        raise CheckFailed(
            f"the local derivatives should be a tuple, one per operand, such as (y, x) or "
            f"(2 * x,), got {local!r:.80}"
        )
    return value, tuple(local)


def _pair(result: object) -> object:
    return tuple(result) if isinstance(result, list) else result


# -- graphs -----------------------------------------------------------------------


# The operations of the engine, as plain functions of numbers.
_OPERATIONS: dict[str, Callable[..., float]] = {
    "add": lambda x, y: x + y,
    "mul": lambda x, y: x * y,
    "pow": lambda x, c: x**c,
    "exp": math.exp,
    "log": math.log,
    "tanh": math.tanh,
    "sigmoid": lambda x: 0.5 * (1.0 + math.tanh(0.5 * x)),
    "relu": lambda x: max(x, 0.0),
}


def _numeric_rule(operation: Callable[..., float], operands: int) -> Callable[..., object]:
    """A rule whose local derivatives are centred differences of the operation itself."""

    def rule(*args: float) -> tuple[float, tuple[float, ...]]:
        local = []
        for i in range(operands):

            def moved(t: float, i: int = i) -> float:
                return operation(*args[:i], t, *args[i + 1 :])

            local.append(_centred(moved, args[i]))
        return operation(*args), tuple(local)

    return rule


NUMERIC_RULES = {
    f"{name}_rule": _numeric_rule(op, 2 if name in ("add", "mul") else 1)
    for name, op in _OPERATIONS.items()
}


def _engine(fn: Function) -> type[Value]:
    """A Value class running the student's backward pass and topological order on
    local derivatives from finite differences: a wrong rule elsewhere cannot
    make this exercise's check fail."""
    return make_value_class(ChainMap(NUMERIC_RULES, namespace_of(fn)))


def micrograd_example(
    V: type[Value], a_value: float = -4.0, b_value: float = 2.0
) -> tuple[Value, Value, Value]:
    """micrograd's README example (karpathy/micrograd), written with this engine.

    Returns (a, b, g); at a = -4, b = 2 its README gives g = 24.7041,
    dg/da = 138.8338, dg/db = 645.5773.
    """
    a, b = V(a_value, label="a"), V(b_value, label="b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.label = "g"
    return a, b, g


def _graph(V: type[Value], depth: int = 6) -> Value:
    """A small graph whose nodes are used more than once: x feeds three paths."""
    x, y = V(0.7, label="x"), V(-1.1, label="y")
    h = x * y + x
    out = h
    for k in range(depth):
        out = out * x + (h if k % 2 else y)
    out.label = "out"
    return out


def _ancestors(root: Value) -> dict[int, Value]:
    seen, stack = {}, [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen[id(node)] = node
            stack.extend(node.parents)
    return seen


@exercise_check(
    hints=(
        "The list holds every node root depends on (leaves, intermediate results and root itself), "
        "each exactly once, and every node after all of its parents, so root comes last (section "
        "5). How can you be sure a node's parents are all placed before the node itself?",
        "A depth-first search does it: to place a node, first place each of its parents "
        "(node.parents), then append the node. Keep a set of the nodes already visited, so that a "
        "node reached along several paths, like x in x * x, is placed only once.",
        "With a recursive helper visit(node): return at once if node was visited; otherwise mark "
        "it, call visit on each parent, then append node to the order. Call visit(root) and return "
        "the order: root lands last by itself.",
    )
)
def topological_order(fn: Function, graphs: Sequence[dict] = ()) -> None:
    """Each node once, every node after its parents, the root last.

    ``graphs``: more graphs to try, encoded as in :func:`backprop_course.replay.build_graph`.
    """
    checks = Checks("topological_order")
    V = _engine(fn)
    roots = [V(2.0, label="leaf"), micrograd_example(V)[2], _graph(V)]
    roots += [build_graph(spec, V)[-1] for spec in graphs]
    for root in roots:
        order = checks.call(fn, root)
        describe_root = f"the graph of {root!r}"
        checks.require(
            isinstance(order, list) and all(isinstance(node, Value) for node in order),
            f"topological_order should return a list of the graph's Values, got {order!r:.80}",
        )
        expected = _ancestors(root)
        ids = [id(node) for node in order]
        checks.require(
            len(ids) == len(set(ids)),
            f"{describe_root}: a node appears more than once in the order "
            "(remember which nodes you have visited).",
        )
        missing = len(set(expected) - set(ids))
        checks.require(
            missing == 0 and set(ids) <= set(expected),
            f"{describe_root}: the order should hold the {len(expected)} nodes the root depends "
            f"on; {missing} are missing and {len(set(ids) - set(expected))} do not belong.",
        )
        position = {node_id: i for i, node_id in enumerate(ids)}
        late = [
            (parent, node)
            for node in order
            for parent in node.parents
            if position[id(parent)] > position[id(node)]
        ]
        checks.require(
            not late,
            f"{describe_root}: {late[0][0]!r} comes after {late[0][1]!r}, which is computed "
            "from it. A node may only come after all of its parents."
            if late
            else "",
        )
        checks.require(order[-1] is root, f"{describe_root}: the root should come last.")
    checks.done()


def _tracking_engine(fn: Function, created: list[Value]) -> type[Value]:
    """The checks' engine, also listing every node in the order it was made."""

    class Tracked(_engine(fn)):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    return Tracked


def _backward_graphs(fn: Function) -> tuple[list[Value], dict[str, Callable[[Any], Any]]]:
    """x, x * x, a, b and g of micrograd's example, and a stand-in topological_order.

    Nodes are made after their parents, so the order of making is topological:
    the stand-in answers topological_order(root) with it, sealed. The graphs
    the check uses are copies made in a shuffled order, so that neither a list
    of their nodes nor the order they were made in tells a topological order.
    """
    created: list[Value] = []
    V = _tracking_engine(fn, created)
    x = V(3.0, label="x")
    square = x * x
    a, b, g = micrograd_example(V)
    shuffled = random.sample(created, len(created))
    index = {id(node): i for i, node in enumerate(shuffled)}
    spec = {
        "nodes": [
            [n.data, [index[id(p)] for p in n.parents], list(n.local_grads), n.label, n.grad]
            for n in shuffled
        ],
        "ops": {str(i): n.op for i, n in enumerate(shuffled) if n.op},
    }
    nodes = build_graph(spec, _engine(fn))
    calls = []
    for root in (square, g):
        wanted = _ancestors(root)
        order = [nodes[index[id(node)]] for node in created if id(node) in wanted]
        calls.append(([order[-1]], order))
    copies = [nodes[index[id(node)]] for node in (x, square, a, b, g)]
    return copies, {"topological_order": answers("topological_order", calls, nodes=nodes)}


@exercise_check(
    hints=(
        "List the nodes with your topological_order(root) and walk that list in reverse, so that "
        "each node's gradient is complete before it is passed on. Along each edge to a parent, the "
        "chain rule sends ∂g/∂node times that edge's local derivative, and the parent adds it to "
        "what it has already received (section 6).",
        "Start from ∂g/∂g = 1 for the root and 0 for every other node, and add on every edge: a "
        "node that is a parent twice (x in x * x) must collect both contributions, 6 at x = 3, not "
        "3. zip(node.parents, node.local_grads) walks a node's edges with their local derivatives.",
        "The grad attributes may already hold numbers and backward must add to them, so that a "
        "second call exactly doubles every gradient: do not compute with node.grad. Keep this "
        "call's gradients in a dict of your own, keyed by id(node), and add each entry to its "
        "node's grad only at the end.",
    )
)
def backward(fn: Function) -> None:
    """Every node's gradient, by the chain rule in reverse topological order."""
    checks = Checks("backward")
    (x, square, a, b, g), stand_ins = _backward_graphs(fn)
    # Your backward calls your topological_order: a correct one stands in here.
    with checks.isolating(fn, stand_ins):
        checks.call(fn, square, may_change_inputs=True)
        checks.expect(
            x.grad,
            6.0,
            what="d(x * x)/dx at x = 3 (x is used twice)",
            variants={"overwritten_gradient": 3.0},
        )
        checks.call(fn, g, may_change_inputs=True)
        checks.expect(
            (a.grad, b.grad),
            (138.8338, 645.5773),
            what="(dg/da, dg/db) for micrograd's README example",
            rtol=1e-6,
            atol=1e-4,
        )
        checks.expect(g.grad, 1.0, what="the root's own gradient dg/dg")
        _backward_adds(checks, fn, x, square, g)
    checks.done()


def _backward_adds(checks: Checks, fn: Function, x: Value, square: Value, g: Value) -> None:
    """The engine's rule: backward(root) ADDS d root/d v to v.grad. Gradients already in
    the graph stay, and a second call adds the same again: every gradient exactly doubles."""
    x.grad, square.grad = 0.5, -2.0  # left there by an earlier computation, say
    checks.call(fn, square, may_change_inputs=True)
    _expect_added(
        checks,
        (x.grad, square.grad),
        (6.5, -1.0),
        what="(x.grad, (x * x).grad)",
        rule="backward(x * x) at x = 3, on grads that held 0.5 (x) and -2 (x * x) already, "
        "should add 6 and 1 to them",
    )
    nodes = list(_ancestors(g).values())
    once = [node.grad for node in nodes]
    checks.call(fn, g, may_change_inputs=True)
    _expect_added(
        checks,
        [node.grad for node in nodes],
        [2.0 * grad for grad in once],
        what=f"the grads of its {len(nodes)} nodes",
        rule="a second backward(g) on micrograd's example adds the same gradients again, "
        "so every grad should be exactly twice what the first call gave",
    )


def _expect_added(checks: Checks, got: object, expected: object, what: str, rule: str) -> None:
    """Compare; once one call's gradients were right, any difference here breaks the rule."""
    problem = difference(got, expected, what, RTOL, ATOL)
    checks.require(problem is None, f"{rule}:\n{problem}", mistake="backward_not_additive")


@exercise_check(
    hints=(
        "Each leaf's grad holds ∂C/∂(leaf), and one step moves the leaf's value against its "
        "gradient by η times it (section 7). Which attribute of a leaf changes, which must stay as "
        "it is, and what does the function return?",
        "For every leaf in the list, subtract eta times its grad from its data, in place "
        "(leaf.data -= ...), and leave leaf.grad untouched; return nothing. Adding instead climbs "
        "the cost, the flipped sign the check recognises: w = 2 with grad 0.5 and η = 0.1 should "
        "become 1.95.",
    )
)
def gradient_descent_step(fn: Function) -> None:
    """w <- w - eta dC/dw for each leaf, in place."""
    checks = Checks("gradient_descent_step")
    V = _engine(fn)
    w, b = V(2.0, label="w"), V(-1.0, label="b")
    w.grad, b.grad = 0.5, -2.0
    checks.call(fn, [w, b], 0.1, may_change_inputs=True)
    checks.expect(
        (w.data, b.data),
        (1.95, -0.8),
        what="(w, b) after one step with η = 0.1 from w = 2 (grad 0.5), b = -1 (grad -2)",
        variants={"flipped_sign": (2.05, -1.2)},
    )
    checks.expect(
        (w.grad, b.grad), (0.5, -2.0), what="the gradients (a step leaves them as they are)"
    )
    checks.done()
