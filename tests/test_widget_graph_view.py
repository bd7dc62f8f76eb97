"""The graph view of lesson 02, headless: what each step reveals, and in which order."""

from __future__ import annotations

import io
import math
from collections import ChainMap

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from backprop_course.checks.chain_rule import micrograd_example
from backprop_course.engine import make_value_class
from backprop_course.plots import BOX_HEIGHT, BOX_WIDTH
from backprop_course.widgets.graph_view import (
    BACKWARD_FILL,
    FORWARD_FILL,
    GREY_FILL,
    GraphView,
    number,
)
from backprop_reference import chain_rule as reference
from backprop_reference.chain_rule import Value

pytestmark = pytest.mark.widgets


def engine_with(**replaced) -> type:
    """A Value class running the reference engine, except for the functions replaced."""
    return make_value_class(ChainMap(replaced, vars(reference)))


def not_written(root):
    raise NotImplementedError()


def node_id(view: GraphView, value) -> int:
    return next(i for i, node in enumerate(view.values) if node is value)


def backward_step_of(view: GraphView, i: int) -> int:
    return len(view.nodes) + view.backward_order.index(i) + 1


def neuron(V: type, w1: float, w2: float, b: float, x1: float = 2.0, x2: float = -1.0):
    """(x1 w1 + x2 w2 + b).tanh(), with the inputs and parameters as labelled leaves."""
    leaves = {
        name: V(value, label=name)
        for name, value in (("x1", x1), ("x2", x2), ("w1", w1), ("w2", w2), ("b", b))
    }
    out = (leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]).tanh()
    out.label = "out"
    return leaves, out


def test_the_last_step_shows_the_engines_gradients_and_the_sums_equal_them():
    a, b, g = micrograd_example(Value)
    view = GraphView(g)
    view.step.value = view.step.max
    shown = view.revealed()
    g.zero_grad()
    g.backward()  # the engine's own gradients, to compare with what the view shows
    assert len(shown.gradients) == len(view.nodes) == len(shown.values)
    for i, node in enumerate(view.values):
        assert shown.gradients[i] == node.grad
        assert view.chain_sums[i] == pytest.approx(node.grad, rel=1e-12, abs=1e-12)
    assert shown.values[node_id(view, g)] == pytest.approx(24.7041, abs=1e-4)
    assert shown.gradients[node_id(view, a)] == pytest.approx(138.8338, abs=1e-4)
    assert shown.gradients[node_id(view, b)] == pytest.approx(645.5773, abs=1e-4)
    assert view.mismatched == [] and "differ" not in view.status.value


def test_the_sum_over_uses_has_one_term_per_edge_leaving_the_node():
    a, _, g = micrograd_example(Value)
    view = GraphView(g)
    i = node_id(view, a)
    view.step.value = backward_step_of(view, i)
    text = view.explanation()
    assert text.startswith("∂g/∂a = Σ over uses:")
    assert text.count("×") == len(view.uses[i]) >= 5  # a feeds five operations
    assert text.endswith(f"= <b>{number(view.chain_sums[i])}</b>") and "138.8" in text
    for local, user, grad in view._terms(i):
        assert f"({number(local)}) × (∂g/∂{view.names[user]} = {number(grad)})" in text


def test_a_forward_step_writes_the_operation_with_names_and_numbers():
    a, b, g = micrograd_example(Value)
    view = GraphView(g)
    operands = (node_id(view, a), node_id(view, b))
    product = next(n for n in view.nodes if n.op == "*" and n.parents == operands)
    view.step.value = view.forward_order.index(product.id) + 1
    name = view.names[product.id]
    assert f"{name} = a * b = (−4.0) * 2.0 = <b>−8.0</b>" in view.status.value
    assert f"∂{name}/∂a = 2.0, ∂{name}/∂b = −4.0" in view.status.value


@pytest.mark.parametrize("build", ["micrograd", "neuron"])
def test_each_step_reveals_a_node_whose_inputs_are_already_shown(build):
    root = micrograd_example(Value)[2] if build == "micrograd" else neuron(Value, 0.5, -1, 0.2)[1]
    view = GraphView(root)
    n = len(view.nodes)
    assert sorted(view.forward_order) == sorted(view.backward_order) == list(range(n))
    assert view.backward_order[0] == n - 1  # the root first
    users = {i: {edge.child for edge in view.edges if edge.parent == i} for i in range(n)}
    before = view.revealed(0)
    assert before.values == {} and before.focus is None
    for step in range(1, 2 * n + 1):
        shown = view.revealed(step)
        if step <= n:  # forward: every parent computed before
            assert set(view.nodes[shown.focus].parents) <= set(before.values)
            assert set(shown.values) == set(before.values) | {shown.focus}
        else:  # backward: every node that uses it has its final gradient already
            assert users[shown.focus] <= set(before.gradients)
            assert set(shown.gradients) == set(before.gradients) | {shown.focus}
        before = shown


def test_the_view_leaves_the_graphs_gradients_as_they_were_and_ignores_them():
    g = micrograd_example(Value)[2]
    nodes = reference.topological_order(g)
    for k, node in enumerate(nodes):
        node.grad = 0.5 * k  # whatever an earlier backward left there
    view = GraphView(g)
    assert [node.grad for node in nodes] == [0.5 * k for k in range(len(nodes))]
    fresh = micrograd_example(Value)[2]
    fresh.backward()
    assert view.gradients == [node.grad for node in reference.topological_order(fresh)]


FILLS = {"not computed": GREY_FILL, "value": FORWARD_FILL, "gradient": BACKWARD_FILL}


def pictured_states(view: GraphView) -> list[str]:
    """Each node's state as the picture shows it: the fill colour inside its box."""
    rgb = np.asarray(Image.open(io.BytesIO(view.image.value)).convert("RGB")).astype(int)
    height = rgb.shape[0]
    states = []
    for node in view.nodes:
        x, y = view.where[node.id]
        corners = [(x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), (x + BOX_WIDTH / 2, y + BOX_HEIGHT / 2)]
        (left, bottom), (right, top) = view.ax.transData.transform(corners).astype(int)
        inside = rgb[height - top + 5 : height - bottom - 5, left + 5 : right - 5]
        counts = {
            state: np.sum(np.abs(inside - 255 * np.array(to_rgb(fill))).max(axis=-1) <= 2)
            for state, fill in FILLS.items()
        }
        states.append(max(counts, key=counts.get))
    return states


def expected_states(view: GraphView, step: int) -> list[str]:
    shown = view.revealed(step)
    return [
        "gradient" if i in shown.gradients else "value" if i in shown.values else "not computed"
        for i in range(len(view.nodes))
    ]


def test_the_picture_greys_out_what_is_not_computed_and_colours_the_rest():
    view = GraphView(neuron(Value, 0.5, -1.0, 0.2)[1])
    for step in range(view.step.max + 1):
        view.step.value = step
        assert pictured_states(view) == expected_states(view, step)
    big = GraphView(micrograd_example(Value)[2])
    for step in (0, 14, 40, 60, 80):
        big.step.value = step
        assert pictured_states(big) == expected_states(big, step)


def test_buttons_step_back_and_reset_and_each_step_has_its_own_picture():
    view = GraphView(neuron(Value, 0.5, -1.0, 0.2)[1])
    pictures = [bytes(view.image.value)]
    for _ in range(view.step.max + 2):  # two clicks too many: it stops at the end
        view.step_button.click()
        pictures.append(bytes(view.image.value))
    assert view.step.value == view.step.max
    assert all(p.startswith(b"\x89PNG") for p in pictures)
    assert len(set(pictures[: view.step.max + 1])) == view.step.max + 1  # all differ
    view.back_button.click()
    assert view.step.value == view.step.max - 1
    assert bytes(view.image.value) == pictures[view.step.max - 1]  # the same picture again
    view.reset_button.click()
    assert view.step.value == 0 and bytes(view.image.value) == pictures[0]
    view.back_button.click()
    assert view.step.value == 0
    assert view.step.description == "step" and view.play.max == view.step.max
    for button in (view.back_button, view.step_button, view.reset_button):
        assert button.description and button.tooltip
    assert "backward pass" in view.caption.value


def test_without_backward_the_forward_pass_still_steps_and_the_status_says_why():
    V = engine_with(backward=not_written)
    view = GraphView(micrograd_example(V)[2])
    n = len(view.nodes)
    assert view.gradients is None and view.step.max == n == 40
    pictures = {bytes(view.image.value)}
    for _ in range(n + 1):
        view.step_button.click()
        pictures.add(bytes(view.image.value))
        assert "<code>backward</code> (exercise 8)" in view.status.value
    assert view.step.value == n and len(pictures) == n + 1
    assert view.revealed().values == {node.id: node.value for node in view.nodes}
    assert view.revealed().gradients == {}


def test_without_topological_order_there_is_no_graph_and_the_status_says_why():
    V = engine_with(topological_order=not_written)
    view = GraphView(micrograd_example(V)[2])
    assert view.nodes == [] and view.step.max == 0
    assert "<code>topological_order</code>" in view.status.value
    assert "exercise 7" in view.status.value
    view.step_button.click()  # harmless
    assert view.step.value == 0


def test_an_order_that_breaks_the_definition_is_refused():
    V = engine_with(topological_order=lambda root: reference.topological_order(root)[::-1])
    view = GraphView(micrograd_example(V)[2])
    assert view.nodes == [] and "does not give a valid order" in view.status.value


def overwriting_backward(root):
    """A classic mistake: = instead of +=, so only the last use of a node counts."""
    fresh = {id(root): 1.0}
    for node in reversed(reference.topological_order(root)):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            fresh[id(parent)] = fresh[id(node)] * local
    for node in reference.topological_order(root):
        node.grad += fresh[id(node)]


def test_a_backward_that_overwrites_is_caught_by_the_sum_over_uses():
    V = engine_with(backward=overwriting_backward)
    x = V(3.0, label="x")
    view = GraphView(x * x)
    i = node_id(view, x)
    assert view.gradients[i] == 3.0 and view.chain_sums[i] == 6.0  # d(x²)/dx = 2x
    assert view.mismatched == [i]
    view.step.value = backward_step_of(view, i)
    assert "= <b>6.0</b>" in view.status.value
    assert "your backward gave ∂n2/∂x = 3.0" in view.status.value
    assert "differ from the chain rule's sum at 1 node(s) (x)" in view.status.value


def centred(f, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("w1, w2, b", [(0.5, -1.0, 0.2), (-1.3, 0.4, 2.0), (0.1, 0.1, -0.1)])
def test_a_tanh_neurons_gradients_equal_centred_differences(w1, w2, b):
    leaves, out = neuron(Value, w1, w2, b)
    view = GraphView(out)
    view.step.value = view.step.max
    shown = view.revealed()
    point = {name: leaf.data for name, leaf in leaves.items()}

    def plain(name: str, t: float) -> float:
        p = {**point, name: t}
        return math.tanh(p["x1"] * p["w1"] + p["x2"] * p["w2"] + p["b"])

    for name, leaf in leaves.items():
        expected = centred(lambda t, name=name: plain(name, t), leaf.data)
        assert shown.gradients[node_id(view, leaf)] == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert shown.gradients[node_id(view, out)] == 1.0
