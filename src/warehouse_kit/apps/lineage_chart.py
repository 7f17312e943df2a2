"""A lineage graph as a small Altair chart: columns placed by their distance from the
columns asked about (inputs to the left, uses to the right), edges as lines.

Drawn with Vega-Lite marks only, so it renders wherever the project's charts do
(`charts.enable` inlines them as SVG for offline reports)."""

from __future__ import annotations

from typing import Protocol, cast

import altair as alt
import pandas as pd

from warehouse_kit.core.lineage import ColumnRef
from warehouse_kit.core.lineage_graph import LineageGraph


class Lineage(Protocol):
    """What the chart draws (`apps.lineage.Lineage`; a protocol, so this module does not
    import it back)."""

    @property
    def start(self) -> tuple[ColumnRef, ...]: ...
    @property
    def graph(self) -> LineageGraph: ...


def lineage_chart(lineage: Lineage, *, title: str | None = None) -> alt.LayerChart:
    """The columns of `lineage` as points (PII ones in red), their edges as rules."""
    depth = _depths(lineage)
    rows: dict[int, int] = {}
    place: dict[ColumnRef, tuple[int, int]] = {}
    for ref in sorted(depth, key=lambda r: (depth[r], str(r))):
        row = rows.get(depth[ref], 0)
        rows[depth[ref]] = row + 1
        place[ref] = (depth[ref], row)
    nodes = pd.DataFrame(
        [
            {"x": x, "y": y, "column": str(ref), "pii": lineage.graph.pii.get(ref) or "no"}
            for ref, (x, y) in place.items()
        ]
    )
    edges = pd.DataFrame(
        [
            {"x": place[source][0], "y": place[source][1],
             "x2": place[column][0], "y2": place[column][1]}
            for column, inputs in lineage.graph.edges.items()
            for source in inputs
            if source in place and column in place
        ],
        columns=["x", "y", "x2", "y2"],
    )  # fmt: skip
    lines = (
        alt.Chart(edges)
        .mark_rule(color="#bbb")
        .encode(x=alt.X("x:Q", axis=None), y=alt.Y("y:Q", axis=None), x2="x2:Q", y2="y2:Q")
    )
    color = alt.Color(
        "pii:N",
        scale=alt.Scale(domain=["no", *sorted(set(nodes.pii) - {"no"})], range=_COLOURS),
        title="PII",
    )
    points = (
        alt.Chart(nodes)
        .mark_circle(size=80)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=color,
            tooltip=["column", "pii"],
        )
    )
    labels = points.mark_text(align="left", dx=7, fontSize=10).encode(text="column:N")
    height = max(120, 22 * max(rows.values(), default=1))
    width = max(240, 220 * (len(rows) or 1))
    chart = alt.layer(lines, points, labels).properties(width=width, height=height)
    return cast("alt.LayerChart", chart.properties(title=title) if title else chart)


_COLOURS = ["#4c78a8", "#e45756", "#f58518", "#b279a2", "#9d755d"]


def _depths(lineage: Lineage) -> dict[ColumnRef, int]:
    """Each column's signed distance from the start: negative for inputs."""
    graph = lineage.graph
    depth = dict.fromkeys(lineage.start, 0)
    for sign, step in ((-1, graph.inputs), (1, lambda r: graph.outputs.get(r, ()))):
        frontier = list(lineage.start)
        while frontier:
            following = []
            for ref in frontier:
                for nxt in step(ref):
                    if nxt not in depth:
                        depth[nxt] = depth[ref] + sign
                        following.append(nxt)
            frontier = following
    return depth
