"""A lineage graph as inline SVG: upstream nodes left, the focus, downstream right.

It takes plain edges between node names (tables today, ``table.column`` when column
lineage feeds it), keeps the focus's ancestors and descendants, and places each in a
column by its longest path to or from the focus, so every edge points right. No script
and no library: the page that holds it opens offline.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from markupsafe import Markup

from warehouse_kit.core.templating import render

BOX_HEIGHT = 26
ROW_GAP = 12
COLUMN_GAP = 48
CHAR_WIDTH = 7.2  # of the 12px monospace labels
PADDING = 8


@dataclass(frozen=True)
class Placed:
    name: str
    x: float
    y: float
    width: float


def lineage_svg(
    edges: Iterable[tuple[str, str]],
    focus: str,
    link: Callable[[str], str | None] = lambda name: None,
    views: Collection[str] = (),
) -> Markup:
    """The graph of `focus`'s ancestors and descendants along `edges` (upstream, downstream)
    as an ``<svg>`` element; `link` gives a node's URL (``#t-gold.dim_date``) or None;
    the nodes in `views` are drawn dashed, as views."""
    edges = list(edges)
    placed = _place(layers(edges, focus))
    shown = sorted((a, b) for a, b in edges if a in placed and b in placed)
    svg = render(
        "docs_lineage.svg.j2",
        focus=focus,
        nodes=[
            (node, node.name == focus, link(node.name), node.name in views)
            for node in placed.values()
        ],
        edges=[_curve(placed[a], placed[b]) for a, b in shown],
        width=max(node.x + node.width for node in placed.values()) + PADDING,
        height=max(node.y + BOX_HEIGHT for node in placed.values()) + PADDING,
        box_height=BOX_HEIGHT,
        padding=PADDING,
    )
    return Markup(svg)  # rendered with autoescape: every name in it is escaped


def layers(edges: Iterable[tuple[str, str]], focus: str) -> dict[str, int]:
    """Each node connected to `focus`: minus its longest path to it (upstream), 0 for the
    focus, its longest path from it (downstream)."""
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for upstream, downstream in edges:
        parents.setdefault(downstream, []).append(upstream)
        children.setdefault(upstream, []).append(downstream)
    found = {focus: 0}
    for node, depth in _longest(focus, parents).items():
        found[node] = -depth
    for node, depth in _longest(focus, children).items():
        found[node] = depth
    return found


def _longest(start: str, step: Mapping[str, list[str]]) -> dict[str, int]:
    """The longest path from `start` to every node reachable through `step` (a DAG)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:  # depth-first, so `order` is a topological order reversed
        seen.add(node)
        for following in step.get(node, ()):
            if following not in seen:
                visit(following)
        order.append(node)

    visit(start)
    depth = {start: 0}
    for node in reversed(order):
        for following in step.get(node, ()):
            depth[following] = max(depth.get(following, 0), depth[node] + 1)
    del depth[start]
    return depth


def _place(layer: Mapping[str, int]) -> dict[str, Placed]:
    columns: dict[int, list[str]] = {}
    for name, index in layer.items():
        columns.setdefault(index, []).append(name)
    tallest = max(len(names) for names in columns.values())
    placed: dict[str, Placed] = {}
    x = float(PADDING)
    for index in sorted(columns):
        names = sorted(columns[index])
        width = max(len(name) for name in names) * CHAR_WIDTH + 2 * PADDING
        top = PADDING + (tallest - len(names)) * (BOX_HEIGHT + ROW_GAP) / 2  # centred
        for row, name in enumerate(names):
            placed[name] = Placed(name, x, top + row * (BOX_HEIGHT + ROW_GAP), width)
        x += width + COLUMN_GAP
    return placed


def _curve(upstream: Placed, downstream: Placed) -> tuple[str, str]:
    """An edge: the curve from the right of `upstream` to the left of `downstream`, and its
    arrowhead, as SVG path data."""
    x1, y1 = upstream.x + upstream.width, upstream.y + BOX_HEIGHT / 2
    x2, y2 = downstream.x, downstream.y + BOX_HEIGHT / 2
    bend = (x2 - x1) / 2
    curve = (
        f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    )
    arrow = f"M{x2 - 6:.1f},{y2 - 4:.1f} L{x2:.1f},{y2:.1f} L{x2 - 6:.1f},{y2 + 4:.1f}"
    return curve, arrow
