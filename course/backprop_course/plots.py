"""Pictures for the lessons: a scalar computational graph drawn with matplotlib.

:func:`draw_graph` lays a graph out in layers, left to right: the leaves in
the first column, every other node one column to the right of its deepest
parent. Each node is a box with its label (or operation), value and
gradient; each edge runs from a parent to the node computed from it and
carries the local derivative d(node)/d(parent).
"""

from __future__ import annotations

from collections import Counter

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from backprop_course.engine import GraphNode, Value, graph_nodes

BOX_WIDTH, BOX_HEIGHT = 0.72, 0.62  # in data units: one column, one row = 1.0
DUPLICATE_OFFSET = 0.2  # vertical gap between edges joining the same two nodes
LEAF_COLOUR, OPERATION_COLOUR = "#dbe9f6", "#fdebd0"
EDGE_COLOUR, LOCAL_COLOUR = "0.45", "#a02c2c"

Point = tuple[float, float]


def node_depths(nodes: list[GraphNode]) -> dict[int, int]:
    """Column of each node: 0 for a leaf, else one more than its deepest parent.

    ``nodes`` must be in topological order (parents first), as graph_nodes gives them.
    """
    depth: dict[int, int] = {}
    for node in nodes:
        depth[node.id] = 1 + max((depth[p] for p in node.parents), default=-1)
    return depth


def spread(wanted: list[float]) -> list[float]:
    """Heights as close to ``wanted`` as possible, at least 1.0 apart, same mean."""
    order = sorted(range(len(wanted)), key=lambda i: -wanted[i])
    placed = [0.0] * len(wanted)
    previous = float("inf")
    for i in order:
        placed[i] = min(wanted[i], previous - 1.0)
        previous = placed[i]
    shift = (sum(wanted) - sum(placed)) / len(wanted)
    return [y + shift for y in placed]


def layout(nodes: list[GraphNode]) -> dict[int, Point]:
    """(column, height) of every node: leaves evenly stacked, the others beside their parents."""
    depth = node_depths(nodes)
    height: dict[int, float] = {}
    for column in range(max(depth.values()) + 1):
        members = [node for node in nodes if depth[node.id] == column]
        if column == 0:
            wanted = [(len(members) - 1) / 2 - i for i in range(len(members))]
        else:
            wanted = [sum(height[p] for p in n.parents) / len(n.parents) for n in members]
        for node, y in zip(members, spread(wanted), strict=True):
            height[node.id] = y
    return {node.id: (float(depth[node.id]), height[node.id]) for node in nodes}


def node_text(node: GraphNode) -> str:
    """Three lines: name (label and operation), value, gradient."""
    if node.label and node.op:
        name = f"{node.label} ({node.op})"
    else:
        name = node.label or node.op or "const"
    return f"{name}\ndata {node.value:.4g}\ngrad {node.grad:.4g}"


def draw_node(ax: Axes, node: GraphNode, at: Point) -> None:
    """A rounded box centred at ``at`` holding :func:`node_text`."""
    x, y = at
    colour = OPERATION_COLOUR if node.parents else LEAF_COLOUR
    box = FancyBboxPatch(
        (x - BOX_WIDTH / 2, y - BOX_HEIGHT / 2),
        BOX_WIDTH,
        BOX_HEIGHT,
        boxstyle="round,pad=0,rounding_size=0.06",
        facecolor=colour,
        edgecolor="0.3",
        zorder=2,
    )
    ax.add_patch(box)
    ax.text(x, y, node_text(node), ha="center", va="center", fontsize=8, zorder=3)


def draw_edge(ax: Axes, start: Point, end: Point, local: float) -> None:
    """An arrow from a parent's right side to a child's left side, with its local derivative.

    The number sits in the gap just before the child, where the edge enters it.
    """
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": EDGE_COLOUR, "shrinkA": 0, "shrinkB": 0},
        zorder=1,
    )
    ax.text(
        *local_label_position(start, end),
        f"{local:.3g}",
        ha="center",
        va="center",
        fontsize=7,
        color=LOCAL_COLOUR,
        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        zorder=4,
    )


def local_label_position(start: Point, end: Point) -> Point:
    """Where an edge's local derivative goes: in the gap just before the child's box."""
    gap = (1.0 - BOX_WIDTH) / 2
    t = 1.0 - gap / (end[0] - start[0])
    return (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))


def edge_ends(node: GraphNode, where: dict[int, Point]) -> list[tuple[Point, Point]]:
    """(start, end) of each edge into ``node``, one per entry of ``node.parents``.

    An edge runs from the parent's right side to the child's left side; edges
    from the same parent (x * x) are moved apart so that both can be seen.
    """
    count, seen = Counter(node.parents), Counter()
    x, y = where[node.id]
    ends = []
    for parent in node.parents:
        offset = DUPLICATE_OFFSET * (seen[parent] - (count[parent] - 1) / 2)
        seen[parent] += 1
        px, py = where[parent]
        ends.append(((px + BOX_WIDTH / 2, py - offset), (x - BOX_WIDTH / 2, y - offset)))
    return ends


def draw_edges(ax: Axes, node: GraphNode, where: dict[int, Point]) -> None:
    """Every edge into ``node``, each with its local derivative."""
    for (start, end), local in zip(edge_ends(node, where), node.local_grads, strict=True):
        draw_edge(ax, start, end, local)


def draw_graph(root: Value, ax: Axes | None = None) -> Axes:
    """Draw the computational graph that ``root`` was computed from; return the Axes.

    Boxes show each node's label (or operation), value and gradient; arrows run
    from parent to child, labelled with the local derivative d(child)/d(parent).
    Leaves are blue, results of operations orange. The graph's order comes from
    ``topological_order`` (through ``graph_nodes``), so define that first.
    Without ``ax``, a new figure is sized to fit the graph.
    """
    nodes = graph_nodes(root)
    where = layout(nodes)
    columns = max(x for x, _ in where.values()) + 1
    heights = [y for _, y in where.values()]
    top, bottom = max(heights), min(heights)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.9 * columns + 0.2, 0.95 * (top - bottom + 1) + 0.2))
    for node in nodes:
        draw_edges(ax, node, where)
        draw_node(ax, node, where[node.id])
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(bottom - 0.5, top + 0.5)
    ax.axis("off")
    return ax
