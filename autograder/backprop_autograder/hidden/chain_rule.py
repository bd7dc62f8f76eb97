"""Hidden checks for lesson 02, the chain rule: one function per exercise.

Random numbers for the rules and the neuron, random polynomials for the
numerical derivative, random graphs (nodes used on several paths) for the
topological order, the backward pass and the gradient-descent step.
"""

from __future__ import annotations

import math

import numpy as np

from backprop_autograder.cases import Encoded, Judged, call_case, graph_spec, shuffled
from backprop_course.protocol import encode
from backprop_course.stand_ins import seal_call
from backprop_reference import chain_rule as ref

Rng = np.random.Generator


def _numbers(rng: Rng, count: int, low: float = -2.0, high: float = 2.0) -> list[float]:
    return [round(float(v), 6) for v in rng.uniform(low, high, count)]


def numerical_derivative(rng: Rng) -> list[dict]:
    """Cubics curved at x (|f''(x)| >= 1), so that in every case the one-sided difference
    is off by about h |f''(x)| / 2, hundreds of times the tolerance."""
    cases = []
    for h in (0.1, 0.01, 1e-3):
        (x,) = _numbers(rng, 1)
        c3, c1, c0 = _numbers(rng, 3)
        curvature = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 4.0))
        c2 = round((curvature - 6.0 * c3 * x) / 2.0, 6)  # f''(x) = 6 c3 x + 2 c2
        f = Encoded(callable="polynomial", coefficients=[c3, c2, c1, c0])
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
        a = 1.0 / (1.0 + math.exp(-(w * x + b)))
        dw, db = ref.neuron_gradients(w, b, x, y)
        variants = {"missing_sigma_prime": ((a - y) * x, a - y), "flipped_sign": (-dw, -db)}
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
    # No c = 2: there x^(c - 1) is x, and a slip in the exponent would go unseen.
    for c in (3.0, -1.0, 0.5, -2.0, 4.0):
        (x,) = _numbers(rng, 1, 0.2, 3.0)
        variants = {"missing_power_factor": (x**c, (x ** (c - 1),))}
        cases.append(call_case(ref.pow_rule, x, c, variants=variants))
    return cases


def tanh_rule(rng: Rng) -> list[dict]:
    # |x| >= 0.3: near 0, tanh'(x) = 1 - tanh(x)^2 is too close to 1 to tell from it.
    signs = rng.choice([-1.0, 1.0], 3)
    xs = [float(sign * x) for sign, x in zip(signs, _numbers(rng, 3, 0.3, 3.0), strict=True)]
    return [
        call_case(ref.tanh_rule, x, variants={"missing_sigma_prime": (math.tanh(x), (1.0,))})
        for x in xs
    ]


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


def _overwriting_backward(order: list, nodes: list) -> list[float]:
    """What a backward pass that assigns (=) instead of adding (+=) computes, for ``nodes``."""
    grads = {id(node): 0.0 for node in order}
    grads[id(order[-1])] = 1.0
    for node in reversed(order):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            grads[id(parent)] = grads[id(node)] * local
    return [grads[id(node)] for node in nodes]


def _micrograd_style(order: list, held: dict[int, float], calls: int, root_adds: bool) -> dict:
    """What a backward pass computes that passes on ``node.grad`` itself (micrograd's way):
    the gradients an earlier call left in the graph flow on with this call's."""
    grads = dict(held)
    for _ in range(calls):
        grads[id(order[-1])] = grads[id(order[-1])] + 1.0 if root_adds else 1.0
        for node in reversed(order):
            for parent, local in zip(node.parents, node.local_grads, strict=True):
                grads[id(parent)] += grads[id(node)] * local
    return grads


def _backward_variants(order: list, nodes: list, held: dict[int, float], calls: int) -> list:
    """The known wrong answers, for the graph's ``nodes`` holding ``held`` gradients before
    ``calls`` calls of backward."""
    fresh = _overwriting_backward(order, order)  # per edge: = instead of +=
    overwritten = {id(node): g for node, g in zip(order, fresh, strict=True)}
    right = {id(node): node.grad for node in order}  # after the reference's calls
    once = {key: (right[key] - held[key]) / calls for key in right}
    wrong = {
        "overwritten_gradient": [
            overwritten,  # on the grad attributes: the last edge wins, whatever was there
            {key: held[key] + calls * overwritten[key] for key in held},  # on a fresh table
        ],
        "backward_not_additive": [
            once,  # grad = this call's gradient: what was there is lost
            _micrograd_style(order, held, calls, root_adds=True),
            _micrograd_style(order, held, calls, root_adds=False),
        ],
    }
    return [
        [key, encode([grads[id(node)] for node in nodes])]
        for key, tables in wrong.items()
        for grads in tables
    ]


def _out_of_order(order: list[ref.BaseValue], rng: Rng) -> list[ref.BaseValue]:
    """The nodes shuffled so that the encoded order is NOT a valid answer (some node
    comes before one of its parents): reading the case must not give the order away."""
    while True:
        nodes = shuffled(order, rng)
        place = {id(node): i for i, node in enumerate(nodes)}
        if any(place[id(p)] > place[id(n)] for n in nodes for p in n.parents):
            return nodes


def topological_order(rng: Rng) -> Judged:
    graphs = [graph_spec(_out_of_order(random_graph(rng, steps), rng)) for steps in (4, 12)]
    cases = [
        {"graph": spec, "args": [{"node": len(spec["nodes"]) - 1}], "observe": "order"}
        for spec in graphs
    ]
    return Judged(cases, {"name": "topological_order", "graphs": graphs})


def backward(rng: Rng) -> list[dict]:
    """backward adds: every case holds gradients already or calls backward twice (or both),
    so an answer that assigns, or passes on what an earlier call left, loses every case."""
    cases = []
    for steps, holding, calls in ((3, True, 1), (8, False, 2), (15, True, 2)):
        top = random_graph(rng, steps)[-1]
        # Squared, the top is used twice, and every path from the root multiplies two
        # local derivatives that are not 1 (a small random graph may have none).
        order = ref.topological_order(top * top * 0.5)
        if holding:  # gradients from an earlier backward pass, say
            for node in order:
                node.grad = round(float(rng.normal()), 6)
        held = {id(node): node.grad for node in order}
        nodes = shuffled(order, rng)  # encoded in topological order, the case would tell it
        spec = graph_spec(nodes)
        for _ in range(calls):
            ref.backward(order[-1])
        # The order the reference used, so that a wrong topological_order costs its own
        # points; sealed, it opens only to the call topological_order(root).
        recorded = seal_call([order[-1]], list(order), nodes)
        cases.append(
            {
                "graph": spec,
                "args": [{"node": len(nodes) - 1}],
                "observe": "grads",
                "expected": encode([node.grad for node in nodes]),
                "variants": _backward_variants(order, nodes, held, calls),
                "isolate": {"topological_order": {"sealed": [recorded]}},
                "calls": calls,
                "what": _backward_what(len(order), holding, calls),
            }
        )
    return cases


def _backward_what(size: int, holding: bool, calls: int) -> str:
    before = "holding gradients already" if holding else "with zero gradients"
    times = "once" if calls == 1 else "twice (a second call adds the same again)"
    return f"the gradients of a random graph of {size} nodes {before}, backward called {times}"


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
