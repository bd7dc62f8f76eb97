"""The graph view: watch the forward and the backward pass walk through a scalar graph.

``GraphView(root)`` draws the computational graph that ``root`` (a Value of
lesson 02's engine) was computed from, and steps through it:

1. **forward**, leaves first: each step shows one node's value, computed from
   its parents, and the local derivatives on the edges into it;
2. **backward**, from the root (whose gradient is 1) back to the leaves: each
   step shows one node's final gradient and how the chain rule makes it,

       ∂g/∂v = Σ over the uses of v: (local derivative) × ∂g/∂(the node using v).

The view computes no gradient of its own. On construction it runs the
engine's backward pass (your ``backward``) once, with the gradients set to 0
first and put back afterwards, and then only *reveals* what the engine found,
one node at a time. The order of revealing comes from the drawing's columns
(``plots.node_depths``): a node sits one column to the right of its deepest
parent, so every node's parents lie to its left and every node using it to its
right. Left to right is therefore a valid forward order, right to left a valid
backward order (ties in the order of your ``topological_order``).

The Σ line of a backward step is written from the local derivatives and the
gradients the engine gave the nodes using v, and is compared with the gradient
the engine gave v itself: a difference points at a mistake in ``backward``.

Drawing: the greyed-out graph is drawn once (the base layer); the values,
gradients and highlights are moving artists of a ``FigureImage``, so a step
costs a few milliseconds.
"""

from __future__ import annotations

import html
import math
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.transforms import Bbox

from backprop_course.engine import GraphNode, Value, graph_nodes
from backprop_course.plots import (
    BOX_HEIGHT,
    BOX_WIDTH,
    Point,
    edge_ends,
    layout,
    local_label_position,
    node_depths,
)
from backprop_course.widgets._base import LessonWidget
from backprop_course.widgets._figure import FigureImage

# Okabe–Ito blue for the forward pass, vermillion for the backward pass; the two
# also differ by line style (solid, dashed) for readers who cannot tell them apart.
FORWARD_COLOUR, BACKWARD_COLOUR = "#0072B2", "#D55E00"
FORWARD_FILL, BACKWARD_FILL = "#d9e8f5", "#f8ddc9"
GREY_FILL, GREY_EDGE, GREY_TEXT = "#f2f2f2", "#a0a0a0", "#8c8c8c"
EDGE_COLOUR, INK = "#9a9a9a", "#1a1a1a"
NODE_FONT, LABEL_FONT = 8.0, 7.5  # points
COLUMN_INCHES, ROW_INCHES = 1.12, 0.72  # a column and a row of the layout
MIN_WIDTH_INCHES, WIDE_LEGEND_INCHES = 5.4, 8.4  # the legend in two rows, or in one
MAX_WIDTH_INCHES, MAX_HEIGHT_INCHES = 26.0, 15.0  # beyond this the boxes shrink
DPI = 90
BOX_STYLE = "round,pad=0,rounding_size=0.06"


class GraphUnavailable(Exception):
    """The graph cannot be listed: ``topological_order`` is missing or wrong."""


class BackwardUnavailable(Exception):
    """The engine's backward pass cannot run yet (``backward`` or a rule is missing)."""


class Edge(NamedTuple):
    """One edge of the drawing, from ``parent`` into ``child`` (ids of graph_nodes)."""

    parent: int
    child: int
    local: float  # d child / d parent along this edge
    start: Point  # on the parent's right side
    end: Point  # on the child's left side


class Revealed(NamedTuple):
    """What a step shows: values and gradients known so far, and the node of the step.

    values     {node id: data} of the nodes computed so far
    gradients  {node id: grad} of the nodes whose gradient is final
    focus      id of the node this step is about (None at step 0)
    phase      "start", "forward" or "backward"
    """

    values: dict[int, float]
    gradients: dict[int, float]
    focus: int | None
    phase: str


# -- the graph, its orders and its gradients ----------------------------------------


def order_problem(root: Value, order: list) -> str:
    """What is wrong with ``order`` as a topological order of ``root``'s graph ("" if nothing).

    The definition, checked node by node: each node once, after all of its
    parents, the root last. (Parents before children also means that every
    node the root depends on is in the list.)
    """
    placed: set[int] = set()
    for node in order:
        if not isinstance(node, Value):
            return f"it holds {node!r:.40}, which is not a Value"
        if id(node) in placed:
            return f"{node!r} appears twice"
        for parent in node.parents:
            if id(parent) not in placed:
                return f"{parent!r} is missing or comes after {node!r}, which is computed from it"
        placed.add(id(node))
    if not order or order[-1] is not root:
        return "the root is not last"
    return ""


def list_graph(root: Value) -> tuple[list[Value], list[GraphNode]]:
    """The graph's Values and their GraphNodes, both in ``topological_order``'s order.

    Raises GraphUnavailable, with a message for the notebook, when the
    student's ``topological_order`` is not written yet or gives a wrong order.
    """
    try:
        values = list(root.lookup("topological_order")(root))
    except NotImplementedError as error:
        raise GraphUnavailable(
            "The graph view lists the graph with your <code>topological_order</code> "
            "(exercise 7), which is not written yet: write it, then run this cell again."
        ) from error
    except NameError as error:
        raise GraphUnavailable(str(error)) from error
    except Exception as error:  # the student's code: report whatever it raised
        raise GraphUnavailable(
            f"Your <code>topological_order</code> raised {type(error).__name__}: {error}"
        ) from error
    problem = order_problem(root, values)
    if problem:
        raise GraphUnavailable(
            f"Your <code>topological_order</code> does not give a valid order: {problem}. "
            "Run its check (exercise 7), fix it, then run this cell again."
        )
    return values, graph_nodes(root)


def forward_order(nodes: list[GraphNode]) -> list[int]:
    """Node ids column by column, left to right: every node comes after its parents."""
    depth = node_depths(nodes)
    return sorted(depth, key=lambda i: (depth[i], i))


def backward_order(nodes: list[GraphNode]) -> list[int]:
    """Node ids column by column, right to left: every node comes after all its users."""
    depth = node_depths(nodes)
    return sorted(depth, key=lambda i: (-depth[i], i))


def engine_gradients(root: Value, values: list[Value]) -> list[float]:
    """d root / d node for every node, by the engine's own ``root.backward()``.

    The gradients are set to 0 before, so that the result does not depend on
    earlier backward calls, and put back as they were after: drawing a graph
    leaves it as it was. Raises BackwardUnavailable if backward cannot run.
    """
    saved = [node.grad for node in values]
    try:
        for node in values:
            node.grad = 0.0
        root.backward()
        return [node.grad for node in values]
    except NotImplementedError as error:
        raise BackwardUnavailable(
            "The backward steps need your <code>backward</code> (exercise 8), which is not "
            "written yet: step through the forward pass now, and run this cell again once "
            "<code>backward</code> passes its check."
        ) from error
    except NameError as error:
        raise BackwardUnavailable(f"No backward steps: {error}") from error
    except Exception as error:  # the student's code: report whatever it raised
        raise BackwardUnavailable(
            f"No backward steps: <code>backward</code> raised {type(error).__name__}: {error}"
        ) from error
    finally:
        for node, grad in zip(values, saved, strict=True):
            node.grad = grad


def uses_of(nodes: list[GraphNode], edges: list[Edge]) -> list[list[int]]:
    """For each node, the indices of the edges that leave it (one per use of its value)."""
    uses: list[list[int]] = [[] for _ in nodes]
    for k, edge in enumerate(edges):
        uses[edge.parent].append(k)
    return uses


def chain_rule_terms(
    node_id: int, uses: list[list[int]], edges: list[Edge], gradients: list[float]
) -> list[tuple[float, int, float]]:
    """(local derivative, user id, d root / d user) for each use of ``node_id``.

    The user's gradient is the engine's; the sum of local × user gradient over
    the list is the chain rule's value for ``node_id``'s own gradient.
    """
    return [(edges[k].local, edges[k].child, gradients[edges[k].child]) for k in uses[node_id]]


def number(value: float, digits: int = 4) -> str:
    """``digits`` significant digits, a true minus sign, ".0" on whole numbers (−8.0)."""
    text = f"{value:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text.replace("-", "−")


def agrees(engine: float, expected: float, terms: list[float]) -> bool:
    """Equal up to rounding: the engine may add the same terms in another order."""
    scale = sum(abs(t) for t in terms) + abs(expected)
    return math.isclose(engine, expected, rel_tol=1e-9, abs_tol=1e-12 * scale + 1e-300)


# -- the widget -------------------------------------------------------------------------


class GraphView(LessonWidget):
    """Step through the forward and the backward pass of ``root``'s graph.

    Attributes (besides the controls, ``image``, ``status`` and ``caption``):
        values          the graph's Values, indexed by node id (topological order)
        nodes           their GraphNodes (data, local derivatives, parent ids)
        forward_order   node ids in the order the forward steps reveal their values
        backward_order  node ids in the order the backward steps reveal their gradients
        gradients       d root / d node from the engine's backward, by id; None if
                        backward could not run (see ``backward_problem``)
        chain_sums      the chain rule's sum for each node, from its users' gradients
        mismatched      ids whose engine gradient differs from its chain-rule sum
    Step 0 shows nothing computed, steps 1..n the forward pass, n+1..2n the backward pass.
    ``interval_ms`` is the pause of the play button between two steps.

    Example, after lesson 02's exercises::

        a, b = Value(-4.0, label="a"), Value(2.0, label="b")
        GraphView((a * b + b**3).relu())
    """

    def __init__(self, root: Value, interval_ms: int = 700) -> None:
        self.root = root
        self.graph_problem = self.backward_problem = ""
        try:
            self.values, self.nodes = list_graph(root)
        except GraphUnavailable as error:
            self.values, self.nodes, self.graph_problem = [], [], str(error)
        self.forward_order = forward_order(self.nodes) if self.nodes else []
        self.backward_order = backward_order(self.nodes) if self.nodes else []
        self.where = layout(self.nodes) if self.nodes else {}
        self.edges = [
            Edge(parent, node.id, local, start, end)
            for node in self.nodes
            for parent, local, (start, end) in zip(
                node.parents, node.local_grads, edge_ends(node, self.where), strict=True
            )
        ]
        self.uses = uses_of(self.nodes, self.edges)
        self.names = self._names()
        self._find_gradients()
        self._make_controls(interval_ms)
        self._build_figure()
        # The buttons only move the slider; its observer is the one place that redraws,
        # so the view never moves its own controls and needs no guard against cascades.
        self.step.observe(lambda _: self.redraw(), names="value")
        self.back_button.on_click(lambda _: self._move(-1))
        self.step_button.on_click(lambda _: self._move(+1))
        self.reset_button.on_click(lambda _: self._move(-self.step.value))
        self.redraw()

    # -- what the steps show -------------------------------------------------------------

    def _find_gradients(self) -> None:
        self.gradients: list[float] | None = None
        self.chain_sums: list[float] | None = None
        self.mismatched: list[int] = []
        if not self.nodes:
            return
        try:
            self.gradients = engine_gradients(self.root, self.values)
        except BackwardUnavailable as error:
            self.backward_problem = str(error)
            return
        root_id = len(self.nodes) - 1  # a topological order ends with the root
        self.chain_sums = []
        for node in self.nodes:
            terms = [local * grad for local, _, grad in self._terms(node.id)]
            expected = 1.0 if node.id == root_id else math.fsum(terms)
            self.chain_sums.append(expected)
            if not agrees(self.gradients[node.id], expected, terms):
                self.mismatched.append(node.id)

    def _terms(self, node_id: int) -> list[tuple[float, int, float]]:
        assert self.gradients is not None
        return chain_rule_terms(node_id, self.uses, self.edges, self.gradients)

    @property
    def last_step(self) -> int:
        """2n with gradients, n (the forward pass only) without."""
        n = len(self.nodes)
        return 2 * n if self.gradients is not None else n

    def revealed(self, step: int | None = None) -> Revealed:
        """Values and gradients shown at ``step`` (default: the slider's step)."""
        step = self.step.value if step is None else step
        n = len(self.nodes)
        if step <= n:
            known = self.forward_order[:step]
            focus = known[-1] if known else None
            values = {i: self.nodes[i].value for i in known}
            return Revealed(values, {}, focus, "forward" if step else "start")
        assert self.gradients is not None
        final = self.backward_order[: step - n]
        values = {node.id: node.value for node in self.nodes}
        gradients = {i: self.gradients[i] for i in final}
        return Revealed(values, gradients, final[-1], "backward")

    def _names(self) -> list[str]:
        """A name for each node in the texts: its label, its value if it is an
        unnamed constant, else n1, n2, ... in the order the forward pass computes them."""
        names = [""] * len(self.nodes)
        for k, i in enumerate(self.forward_order, start=1):
            node = self.nodes[i]
            names[i] = node.label or (number(node.value) if not node.parents else f"n{k}")
        return names

    def _wrt(self, i: int) -> str:
        """The node's name after a ∂: an unnamed constant reads ∂g/∂(const 2.0), not ∂g/∂2.0."""
        node = self.nodes[i]
        name = html.escape(self.names[i])
        return f"(const {name})" if not node.parents and not node.label else name

    def _box_title(self, node: GraphNode) -> str:
        if not node.parents:
            return node.label or "const"
        return f"{self.names[node.id]} ({node.op})" if node.op else self.names[node.id]

    def explanation(self, step: int | None = None) -> str:
        """The step's formula, as HTML: how the focus node's value or gradient is made."""
        shown = self.revealed(step)
        if shown.focus is None:
            return "Nothing is computed yet. Press <b>step ▶</b> to start the forward pass."
        if shown.phase == "forward":
            return self._forward_text(self.nodes[shown.focus])
        return self._backward_text(self.nodes[shown.focus])

    def _forward_text(self, node: GraphNode) -> str:
        name = html.escape(self.names[node.id])
        if not node.parents and not node.label:
            return f"the constant {name}: a leaf, nothing to compute."
        if not node.parents:
            return f"{name} = {number(node.value)}: a leaf (an input or a parameter)."
        names = [html.escape(self.names[p]) for p in node.parents]
        numbers = [_operand(self.nodes[p].value) for p in node.parents]
        formula = (
            f"{name} = {_apply(node.op, names)} = {_apply(node.op, numbers)} "
            f"= <b>{number(node.value)}</b>"
        )
        locals_ = ", ".join(
            f"∂{name}/∂{self._wrt(parent)} = {number(local)}"
            for parent, local in zip(node.parents, node.local_grads, strict=True)
        )
        return f"{formula}<br>local derivatives, now on the edges: {locals_}"

    def _backward_text(self, node: GraphNode) -> str:
        assert self.gradients is not None and self.chain_sums is not None
        top, name = html.escape(self.names[-1]), self._wrt(node.id)
        engine = self.gradients[node.id]
        if node.id == len(self.nodes) - 1:
            text = f"∂{top}/∂{top} = <b>1</b>: the backward pass starts at the root."
        else:
            terms = " + ".join(
                f"({number(local)}) × (∂{top}/∂{html.escape(self.names[user])} = {number(grad)})"
                for local, user, grad in self._terms(node.id)
            )
            text = (
                f"∂{top}/∂{name} = Σ over uses: {terms} = <b>{number(self.chain_sums[node.id])}</b>"
            )
        if node.id in self.mismatched:
            text += f"<br><b>✗ but your backward gave ∂{top}/∂{name} = {number(engine)}</b>"
        return text

    def _status_html(self, step: int) -> str:
        if not self.nodes:
            return f"<i>{self.graph_problem}</i>"
        phase = self.revealed(step).phase
        n = len(self.nodes)
        where = {
            "start": "start",
            "forward": f"forward pass, node {step} of {n}",
            "backward": f"backward pass, node {step - n} of {n}",
        }[phase]
        notes = [self.backward_problem, self._mismatch()]
        lines = [f"<b>step {step} of {self.last_step}</b> ({where}): {self.explanation(step)}"]
        return "<br>".join(lines + [f"<i>{note}</i>" for note in notes if note])

    def _mismatch(self) -> str:
        if not self.mismatched:
            return ""
        shown = ", ".join(html.escape(self.names[i]) for i in self.mismatched[:6])
        return (
            f"Your backward's gradients differ from the chain rule's sum at "
            f"{len(self.mismatched)} node(s) ({shown}): look for an overwritten gradient "
            "(= instead of +=), a missing local derivative, or a wrong order."
        )

    # -- controls ------------------------------------------------------------------------

    def _make_controls(self, interval_ms: int) -> None:
        last = self.last_step
        self.step = widgets.IntSlider(
            value=0, min=0, max=last, description="step",
            layout=widgets.Layout(width="420px"),
        )  # fmt: skip
        self.play = widgets.Play(value=0, min=0, max=last, interval=interval_ms, description="play")
        widgets.jslink((self.play, "value"), (self.step, "value"))
        self.back_button = widgets.Button(
            description="◀ back", tooltip="one step back", layout=widgets.Layout(width="80px")
        )
        self.step_button = widgets.Button(
            description="step ▶",
            tooltip="one step further: the next node's value, then its gradient",
            layout=widgets.Layout(width="80px"),
        )
        self.reset_button = widgets.Button(
            description="reset", tooltip="back to step 0: nothing computed",
            layout=widgets.Layout(width="70px"),
        )  # fmt: skip
        self.status = widgets.HTML(layout=widgets.Layout(min_height="3.6em"))
        self.caption = widgets.HTML(_CAPTION)

    @property
    def widget(self) -> widgets.Widget:
        picture = widgets.Box([self.image], layout=widgets.Layout(overflow="auto"))
        buttons = [self.play, self.back_button, self.step_button, self.reset_button, self.step]
        return widgets.VBox([widgets.HBox(buttons), self.status, picture, self.caption])

    def _move(self, by: int) -> None:
        self.step.value = min(max(self.step.value + by, 0), self.step.max)

    # -- drawing -------------------------------------------------------------------------

    def _build_figure(self) -> None:
        """The greyed-out graph as the base layer; the step's pictures as moving artists."""
        if not self.nodes:
            self._build_message_figure()
            return
        figure, ax = self._new_figure()
        self._draw_grey_graph(ax)
        self._add_legend(figure)
        self.node_layer, self.label_layer = SpriteLayer(), SpriteLayer()
        figure.add_artist(self.node_layer)
        figure.add_artist(self.label_layer)
        self._node_sprites, self._label_sprites = self._cut_sprites()
        self.edge_arrows = [
            ax.add_patch(
                FancyArrowPatch(edge.start, edge.end, arrowstyle="-|>", mutation_scale=14,
                                lw=2.4, shrinkA=0, shrinkB=0)
            )
            for edge in self.edges
        ]  # fmt: skip
        self.focus_box = ax.add_patch(
            FancyBboxPatch(
                (0, 0), BOX_WIDTH + 0.08, BOX_HEIGHT + 0.08,
                boxstyle="round,pad=0,rounding_size=0.09", facecolor="none", lw=3,
            )
        )  # fmt: skip
        # Drawn in this order: a highlighted edge over the boxes it passes (long edges
        # cross other columns), under the local derivatives; the outline on top.
        moving = [self.node_layer, *self.edge_arrows, self.label_layer, self.focus_box]
        for artist in [*self.edge_arrows, self.focus_box]:
            artist.set_visible(False)
        self.drawing = FigureImage(figure, moving=moving)
        self.figure, self.ax, self.image = figure, ax, self.drawing.image
        # The picture keeps its own size and scrolls sideways in a narrow notebook:
        # shrinking a 15-column graph would make its numbers too small to read.
        self.image.layout.max_width = "none"

    def _new_figure(self) -> tuple[Figure, Axes]:
        """A figure sized to the layout: about an inch per column and 0.7 inch per row."""
        heights = [y for _, y in self.where.values()]
        columns = int(max(x for x, _ in self.where.values())) + 1
        rows = max(heights) - min(heights) + 1
        column_in = min(COLUMN_INCHES, MAX_WIDTH_INCHES / columns)
        row_in = min(ROW_INCHES, MAX_HEIGHT_INCHES / rows)
        width = max(columns * column_in + 0.2, MIN_WIDTH_INCHES)  # room for the legend
        legend_in = 0.4 if width >= WIDE_LEGEND_INCHES else 0.62
        height = rows * row_in + legend_in
        figure = Figure(figsize=(width, height), dpi=DPI)
        ax = figure.add_axes((0.0, 0.0, 1.0, 1.0 - legend_in / height))
        left = -0.5 - 0.1 / column_in  # graph on the left, any spare room on the right
        ax.set_xlim(left, left + width / column_in)
        ax.set_ylim(min(heights) - 0.5, max(heights) + 0.5)
        ax.axis("off")
        return figure, ax

    def _build_message_figure(self) -> None:
        figure = Figure(figsize=(6.0, 1.0), dpi=DPI)
        figure.text(
            0.5, 0.5, "no graph to show: see the message above",
            ha="center", va="center", fontsize=10, color=GREY_TEXT,
        )  # fmt: skip
        self.drawing = FigureImage(figure)
        self.figure, self.ax, self.image = figure, None, self.drawing.image

    def _draw_grey_graph(self, ax: Axes) -> None:
        """Every edge and every box, greyed out: the graph before anything is computed."""
        for edge in self.edges:
            ax.add_patch(
                FancyArrowPatch(
                    edge.start, edge.end, arrowstyle="-|>", mutation_scale=9,
                    color=EDGE_COLOUR, lw=0.8, shrinkA=0, shrinkB=0,
                )
            )  # fmt: skip
        for node in self.nodes:
            self._add_node(ax, node, "grey")

    def _add_node(self, ax: Axes, node: GraphNode, state: str) -> list[Artist]:
        """A node's box and text: "grey" (not computed), "value" (known) or "final"
        (value and final gradient); the styles differ by fill, outline and text."""
        x, y = self.where[node.id]
        data, grad = "?", "?"
        face, edge, style, width, ink = GREY_FILL, GREY_EDGE, ":", 1.0, GREY_TEXT
        if state != "grey":
            data, face, edge, style, ink = number(node.value), FORWARD_FILL, INK, "-", INK
        if state == "final":
            assert self.gradients is not None
            grad, face, width = number(self.gradients[node.id]), BACKWARD_FILL, 1.8
        box = FancyBboxPatch(
            (x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2), BOX_WIDTH, BOX_HEIGHT, boxstyle=BOX_STYLE,
            facecolor=face, edgecolor=edge, ls=style, lw=width,
        )  # fmt: skip
        text = ax.text(
            x, y, f"{self._box_title(node)}\ndata {data}\ngrad {grad}",
            ha="center", va="center", fontsize=NODE_FONT, color=ink,
        )  # fmt: skip
        return [ax.add_patch(box), text]

    def _add_label(self, ax: Axes, edge: Edge) -> Artist:
        """The local derivative d child / d parent, in the gap before the child."""
        return ax.text(
            *local_label_position(edge.start, edge.end), number(edge.local, digits=3),
            ha="center", va="center", fontsize=LABEL_FONT, color=INK,
            bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )  # fmt: skip

    def _cut_sprites(self) -> tuple[dict[tuple[int, str], Sprite], list[Sprite]]:
        """Each node in each state and each local derivative, drawn once and cut out.

        Drawn on a transparent figure of the same size as the view's, so each
        sprite lands on exactly the pixels its artists would have covered.
        """
        states = ["value"] if self.gradients is None else ["value", "final"]
        nodes: dict[tuple[int, str], Sprite] = {}
        for state in states:
            figure, ax = self._new_figure()
            groups = [self._add_node(ax, node, state) for node in self.nodes]
            for node, sprite in zip(self.nodes, cut_sprites(figure, groups), strict=True):
                nodes[node.id, state] = sprite
        figure, ax = self._new_figure()
        labels = cut_sprites(figure, [[self._add_label(ax, edge)] for edge in self.edges])
        return nodes, labels

    def _add_legend(self, figure: Figure) -> None:
        handles = [
            Patch(facecolor=GREY_FILL, edgecolor=GREY_EDGE, ls=":", label="not computed yet"),
            Patch(facecolor=FORWARD_FILL, edgecolor=INK, label="value known"),
            Patch(facecolor=BACKWARD_FILL, edgecolor=INK, lw=1.8, label="gradient final"),
            Line2D([], [], color=FORWARD_COLOUR, lw=2.5, label="this forward step"),
            Line2D([], [], color=BACKWARD_COLOUR, lw=2.5, ls="--",
                   label="this backward step"),
        ]  # fmt: skip
        figure.legend(
            handles=handles, loc="upper left", fontsize=8,
            ncols=len(handles) if figure.get_figwidth() >= WIDE_LEGEND_INCHES else 3,
            frameon=False, handlelength=2.2, borderaxespad=0.3, columnspacing=1.4,
        )  # fmt: skip

    def redraw(self) -> None:
        """Show the current step: the values and gradients so far, and its highlights."""
        step = self.step.value
        self.status.value = self._status_html(step)
        if self.nodes:
            self._show_step(self.revealed(step))
        self.drawing.show()

    def _show_step(self, shown: Revealed) -> None:
        nodes = [
            self._node_sprites[i, "final" if i in shown.gradients else "value"]
            for i in shown.values
        ]
        labels = [
            sprite
            for edge, sprite in zip(self.edges, self._label_sprites, strict=True)
            if edge.child in shown.values
        ]
        self.node_layer.shown, self.label_layer.shown = nodes, labels
        for arrow in self.edge_arrows:
            arrow.set_visible(False)
        self.focus_box.set_visible(shown.focus is not None)
        if shown.focus is not None:
            self._highlight(shown.focus, backward=shown.phase == "backward")

    def _highlight(self, focus: int, backward: bool) -> None:
        """Outline the step's node; thicken the edges into it (forward) or the edges
        from its users back to it (backward), pointing the way the gradient flows."""
        colour, style = (BACKWARD_COLOUR, "--") if backward else (FORWARD_COLOUR, "-")
        x, y = self.where[focus]
        self.focus_box.set_x(x - BOX_WIDTH / 2 - 0.04)
        self.focus_box.set_y(y - BOX_HEIGHT / 2 - 0.04)
        self.focus_box.set_edgecolor(colour)
        self.focus_box.set_linestyle(style)
        for edge, arrow in zip(self.edges, self.edge_arrows, strict=True):
            if (edge.parent if backward else edge.child) != focus:
                continue
            arrow.set_positions(*((edge.end, edge.start) if backward else (edge.start, edge.end)))
            arrow.set_color(colour)
            arrow.set_linestyle(style)
            arrow.set_visible(True)


class Sprite(NamedTuple):
    """Pixels drawn once, to be pasted at the same place again."""

    x: int  # pixels from the left of the figure
    y: int  # pixels from the bottom
    pixels: np.ndarray  # (height, width, 4) uint8 RGBA, bottom row first


class SpriteLayer(Artist):
    """An artist that pastes pre-drawn sprites (``shown``) at their pixel positions.

    Drawing a text costs about half a millisecond (font layout and glyph
    rendering, every time); pasting its pixels costs a twentieth of that. A
    step of the view shows up to a hundred texts, so it pastes them.
    """

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[Sprite] = []

    def draw(self, renderer: RendererBase) -> None:  # an Agg renderer: draw_image is exact
        if self.get_visible():
            gc = renderer.new_gc()
            for sprite in self.shown:
                renderer.draw_image(gc, sprite.x, sprite.y, sprite.pixels)
            gc.restore()
        self.stale = False


def cut_sprites(figure: Figure, groups: list[list[Artist]]) -> list[Sprite]:
    """Draw ``figure`` on a transparent background and cut out each group of artists.

    A group's sprite covers its artists' extents plus a few pixels for line
    widths and antialiasing; artists of other groups must not reach into it.
    """
    figure.patch.set_alpha(0.0)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    rgba = np.asarray(canvas.buffer_rgba())
    height, width = rgba.shape[:2]
    sprites = []
    for artists in groups:
        box = Bbox.union([artist.get_window_extent(renderer) for artist in artists])
        x0, y0 = max(int(box.x0) - 3, 0), max(int(box.y0) - 3, 0)
        x1, y1 = min(int(box.x1) + 4, width), min(int(box.y1) + 4, height)
        # The buffer's rows run top down; draw_image wants the bottom row first.
        pixels = np.ascontiguousarray(rgba[height - y1 : height - y0, x0:x1][::-1])
        sprites.append(Sprite(x0, y0, pixels))
    return sprites


def _operand(value: float) -> str:
    """A number inside a formula: negative numbers in parentheses, (−4.0) * 2.0."""
    return f"({number(value)})" if value < 0 else number(value)


def _apply(op: str, operands: list[str]) -> str:
    """An operation written out: a * b, b**3, relu(a), or op(a, b) for anything else."""
    if op in ("+", "*") and len(operands) == 2:
        return f"{operands[0]} {op} {operands[1]}"
    if op.startswith("**") and len(operands) == 1:
        return f"{operands[0]}{op}"
    return f"{op or '?'}({', '.join(operands)})"


_CAPTION = (
    "<i>Press <b>step ▶</b> (or play) to run the <b>forward pass</b> node by node, leaves "
    "first: each node's value comes from its parents, and the edges into it get their local "
    "derivatives. Then the <b>backward pass</b> starts at the root with gradient 1 and moves "
    "right to left. Notice that a node's gradient is final only once every node that uses it "
    "is done, and that it is the <b>sum over its uses</b> of local derivative × the user's "
    "gradient: a node used twice (like <code>a</code> in micrograd's example) collects two "
    "or more terms. Drag the slider to jump, <b>◀ back</b> to undo a step. Blue solid: this "
    "forward step; vermillion dashed: this backward step.</i>"
)
