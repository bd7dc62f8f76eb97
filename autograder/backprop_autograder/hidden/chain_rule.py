"""Hidden checks for lesson 02, the chain rule: one function per exercise.

Random numbers for the rules and the neuron, random polynomials for the
numerical derivative, random graphs (nodes used on several paths) for the
topological order, the backward pass and the gradient-descent step.
"""

from __future__ import annotations

import math

import numpy as np

from backprop_autograder.cases import Encoded, Judged, call_case, graph_spec
from backprop_course.replay import encode
from backprop_reference import chain_rule as ref

Rng = np.random.Generator


def _numbers(rng: Rng, count: int, low: float = -2.0, high: float = 2.0) -> list[float]:
    return [round(float(v), 6) for v in rng.uniform(low, high, count)]


def numerical_derivative(rng: Rng) -> list[dict]:
    cases = []
    for h in (0.1, 0.01, 1e-3):
        f = Encoded(callable="polynomial", coefficients=_numbers(rng, 4))
        (x,) = _numbers(rng, 1)
        one_sided = (f(x + h) - f(x)) / h
        cases.append(
            call_case(
                ref.numerical_derivative,
                f,
                x,
                h,
                variants={"one_sided_difference": one_sided},
                rtol=1e-7,
            )
        )
    return cases


def neuron_gradients(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(3):
        w, b, x = _numbers(rng, 3)
        (y,) = _numbers(rng, 1, 0.0, 1.0)
        s = 1.0 / (1.0 + math.exp(-(w * x + b)))
        dw, db = ref.neuron_gradients(w, b, x, y)
        variants = {"missing_sigma_prime": ((s - y) * x, s - y), "flipped_sign": (-dw, -db)}
        cases.append(call_case(ref.neuron_gradients, w, b, x, y, variants=variants))
    return cases


def mul_rule(rng: Rng) -> list[dict]:
    cases = []
    for _ in range(3):
        x, y = _numbers(rng, 2, -5.0, 5.0)
        variants = {"swapped_partials": (x * y, (x, y))}
        cases.append(call_case(ref.mul_rule, x, y, variants=variants))
    return cases


def pow_rule(rng: Rng) -> list[dict]:
    cases = []
    for c in (2.0, 3.0, -1.0, 0.5, -2.0):
        (x,) = _numbers(rng, 1, 0.2, 3.0)
        variants = {"missing_power_factor": (x**c, (x ** (c - 1),))}
        cases.append(call_case(ref.pow_rule, x, c, variants=variants))
    return cases


def tanh_rule(rng: Rng) -> list[dict]:
    return [
        call_case(ref.tanh_rule, x, variants={"missing_sigma_prime": (math.tanh(x), (1.0,))})
        for x in _numbers(rng, 3, -3.0, 3.0)
    ]


def relu_rule(rng: Rng) -> list[dict]:
    return [call_case(ref.relu_rule, x) for x in [*_numbers(rng, 3, -3.0, 3.0), 0.0]]


# -- graphs ---------------------------------------------------------------------------


def random_graph(rng: Rng, steps: int = 10) -> list[ref.BaseValue]:
    """A random expression graph, in the reference's topological order (root last).

    Every step combines earlier nodes, so many nodes feed several paths.
    """
    nodes = [ref.Value(v, label=f"x{i}") for i, v in enumerate(_numbers(rng, 3, -1.5, 1.5))]
    unary = [lambda a: a.tanh(), lambda a: a.sigmoid(), lambda a: a.relu(), lambda a: a**2]
    for _ in range(steps):
        a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), size=2))
        kind = rng.integers(0, 3)
        if kind == 0:
            nodes.append(a + b)
        elif kind == 1:
            nodes.append(a * b)
        else:
            nodes.append(unary[int(rng.integers(0, len(unary)))](a))
    root = sum(nodes[3:], start=nodes[-1] * 0.5)  # everything ends up in the root
    return ref.topological_order(root)


def _overwriting_backward(order: list) -> list[float]:
    """What a backward pass that assigns (=) instead of adding (+=) computes."""
    grads = {id(node): 0.0 for node in order}
    grads[id(order[-1])] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            grads[id(parent)] = grads[id(node)] * local
    return [grads[id(node)] for node in order]


def topological_order(rng: Rng) -> Judged:
    graphs = [graph_spec(random_graph(rng, steps)) for steps in (4, 12)]
    cases = [
        {"graph": spec, "args": [{"node": len(spec["nodes"]) - 1}], "observe": "order"}
        for spec in graphs
    ]
    judge = "backprop_course.checks.chain_rule:judge_topological_order"
    return Judged(cases, {"function": judge, "graphs": graphs})


def backward(rng: Rng) -> list[dict]:
    cases = []
    for steps in (3, 8, 15):
        order = random_graph(rng, steps)
        spec = graph_spec(order)
        ref.backward(order[-1])
        cases.append(
            {
                "graph": spec,
                "args": [{"node": len(order) - 1}],
                "observe": "grads",
                "expected": encode([node.grad for node in order]),
                "variants": [["overwritten_gradient", encode(_overwriting_backward(order))]],
                # The order the reference used: a wrong topological_order costs its own points.
                "isolate": {"topological_order": {"order": list(range(len(order)))}},
                "what": f"the gradients of a random graph of {len(order)} nodes",
            }
        )
    return cases


def gradient_descent_step(rng: Rng) -> list[dict]:
    cases = []
    for count in (1, 3):
        leaves = [ref.Value(v, label=f"w{i}") for i, v in enumerate(_numbers(rng, count))]
        for leaf, g in zip(leaves, _numbers(rng, count), strict=True):
            leaf.grad = g
        spec = graph_spec(leaves)
        (eta,) = _numbers(rng, 1, 0.01, 1.0)
        before = [leaf.data for leaf in leaves]
        ref.gradient_descent_step(leaves, eta)
        flipped = [2 * b - leaf.data for b, leaf in zip(before, leaves, strict=True)]
        cases.append(
            {
                "graph": spec,
                "args": [{"nodes": list(range(count))}, eta],
                "observe": "data",
                "expected": encode([leaf.data for leaf in leaves]),
                "variants": [["flipped_sign", encode(flipped)]],
                "what": f"the leaves' data after one step with η = {eta}",
            }
        )
    return cases
