"""`wk.lineage`: where a column or metric comes from, and what is computed from it.

It answers from the lineage stored in ``_wk`` by the runs that built the tables (as of
the latest run, or of `run`), not from today's pipeline files; metrics are traced
through the KPI layer (`analytics.lineage`) onto those tables.

    >>> import warehouse_kit as wk                                   # doctest: +SKIP
    >>> wk.lineage("gold.fact_orders.amount", upstream=True)         # doctest: +SKIP
    >>> wk.lineage("metric:revenue").mermaid()                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog, load_catalog
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.lineage import METRIC, ColumnRef
from warehouse_kit.core.lineage_graph import LineageGraph, of_rows
from warehouse_kit.core.project import Project

log = logging.getLogger(__name__)

Direction = Literal["upstream", "downstream", "both"]
METRIC_PREFIX = f"{METRIC}:"


def lineage(
    name: str,
    *,
    upstream: bool = False,
    downstream: bool = False,
    project: Project | str | Path = ".",
    target: str | None = None,
    run: str | None = None,
) -> Lineage:
    """The lineage of `name`: ``schema.table.column``, ``schema.table`` (all its columns),
    a table's name alone when only one has it, or ``metric:NAME``. `upstream` follows
    what it is computed from, `downstream` what is computed from it; neither: both.
    `run` answers as of that run id (default: the latest)."""
    direction: Direction = (
        "both" if upstream == downstream else "upstream" if upstream else "downstream"
    )
    loaded = Project.of(project)
    with loaded.reading(target) as warehouse:
        return answer(warehouse, loaded, name, direction, run)


def answer(
    warehouse: Warehouse, project: Project, name: str, direction: Direction, run: str | None = None
) -> Lineage:
    """`lineage` over an open warehouse."""
    graph = stored_graph(warehouse, run)
    wants_metrics = name.startswith(METRIC_PREFIX) or direction != "upstream"
    if wants_metrics and project.path("analytics").is_dir():
        graph = graph.merged(_metrics(project, warehouse, name))
    start = resolve(graph, name)
    if direction == "upstream":
        part = graph.upstream(start)
    elif direction == "downstream":
        part = graph.downstream(start)
    else:
        # the start columns keep their inputs: upstream's edges win
        part = graph.downstream(start).merged(graph.upstream(start))
    return Lineage(tuple(start), direction, part, _views(warehouse, part.tables))


def _views(warehouse: Warehouse, tables: Iterable[str]) -> frozenset[str]:
    """Which of the tables (``schema.name``) are views now."""
    found = (table.partition(".") for table in tables if table != METRIC)
    return frozenset(
        f"{schema}.{name}"
        for schema, _, name in found
        if name and warehouse.relation(name, schema) == "view"
    )


def stored_graph(warehouse: Warehouse, run: str | None = None) -> LineageGraph:
    """The lineage the warehouse's tables were built with (as of `run`, if given)."""
    if run is not None and run not in state.lineage_runs(warehouse):
        known = state.lineage_runs(warehouse)
        raise WarehouseKitError(
            f"no lineage stored by run {run!r}{did_you_mean(run, known)}"
            + ("" if known else "; build the warehouse first (wk run)")
        )
    rows = state.lineage_rows(warehouse, run)
    if not rows:
        raise WarehouseKitError("no lineage stored in this warehouse yet: build it first (wk run)")
    return of_rows(rows)


def _metrics(project: Project, warehouse: Warehouse, name: str) -> LineageGraph:
    from warehouse_kit.analytics.lineage import metric_lineage
    from warehouse_kit.analytics.metrics import load

    layer = load(project)
    if name.startswith(METRIC_PREFIX):
        return metric_lineage(layer, warehouse, [name.removeprefix(METRIC_PREFIX)])
    try:
        return metric_lineage(layer, warehouse)
    except WarehouseKitError as exc:  # downstream of a column: metrics are extra
        log.warning("metrics left out of the lineage: %s", exc)
        return LineageGraph({})


def resolve(graph: LineageGraph, name: str) -> list[ColumnRef]:
    """The columns `name` means, or a one-line error with a did-you-mean."""
    if name.startswith(METRIC_PREFIX):
        return [ColumnRef(METRIC, name.removeprefix(METRIC_PREFIX))]
    tables = graph.tables
    if name in tables:
        return [ColumnRef(name, column) for column in tables[name]]
    table, _, column = name.rpartition(".")
    table = _table(tables, table, fail=False) if table else ""
    if table and column in tables[table]:
        return [ColumnRef(table, column)]
    if table:
        raise WarehouseKitError(
            f"{table} has no column {column!r}{did_you_mean(column, tables[table])}"
        )
    whole = _table(tables, name, fail=False)
    if whole:
        return [ColumnRef(whole, column) for column in tables[whole]]
    candidates = [*tables, *(f"{t}.{c}" for t, cs in tables.items() for c in cs)]
    raise WarehouseKitError(
        f"no table or column {name!r} in the lineage{did_you_mean(name, candidates)}"
    )


def _table(tables: dict[str, list[str]], name: str, *, fail: bool = True) -> str:
    """The table `name` means: itself, or the one table called so in any schema."""
    if name in tables:
        return name
    matches = [t for t in tables if t.rpartition(".")[2] == name]
    if len(matches) == 1:
        return matches[0]
    if fail:
        hint = f"; one of {', '.join(matches)}" if matches else did_you_mean(name, list(tables))
        raise WarehouseKitError(f"no table {name!r} in the lineage{hint}")
    return ""


@dataclass(frozen=True)
class Lineage:
    """The columns a lineage question started from, and the part of the graph it reached."""

    start: tuple[ColumnRef, ...]
    direction: Direction
    graph: LineageGraph
    views: frozenset[str] = frozenset()
    """The tables among them that are views (``materialized: view``)."""

    def to_dict(self) -> dict[str, Any]:
        """Nodes (columns, with their PII kind and a source's origin) and edges (input ->
        column), plain JSON values."""
        nodes = [
            {
                "id": str(ref),
                "table": ref.table,
                "column": ref.column,
                "pii": self.graph.pii.get(ref),
                "view": ref.table in self.views,
                "origin": self.graph.origins.get(ref.table),
            }
            for ref in self._nodes()
        ]
        edges = [
            {"from": str(source), "to": str(column)}
            for column, inputs in self.graph.edges.items()
            for source in inputs
        ]
        start = [str(ref) for ref in self.start]
        return {"start": start, "direction": self.direction, "nodes": nodes, "edges": edges}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def mermaid(self) -> str:
        """A Mermaid flowchart: one box per table, inputs on the left."""
        ids = {ref: f"n{i}" for i, ref in enumerate(self._nodes())}
        lines = ["flowchart LR"]
        for i, (table, refs) in enumerate(self._by_table().items()):
            lines.append(f'  subgraph t{i}["{_mermaid_text(self._title(table))}"]')
            lines += [f'    {ids[ref]}["{_mermaid_text(self._label(ref))}"]' for ref in refs]
            lines.append("  end")
        for column, inputs in self.graph.edges.items():
            lines += [f"  {ids[source]} --> {ids[column]}" for source in inputs]
        return "\n".join(lines)

    def text(self) -> str:
        """A readable tree from each start column, inputs (upstream) or uses (downstream)."""
        lines: list[str] = []
        for ref in self.start:
            lines.append(self._label(ref, full=True))
            if self.direction in ("upstream", "both"):
                self._tree(ref, self.graph.inputs, "<- ", "  ", lines, set())
            if self.direction in ("downstream", "both"):
                uses = lambda r: self.graph.outputs.get(r, ())  # noqa: E731
                self._tree(ref, uses, "-> ", "  ", lines, set())
        return "\n".join(lines)

    def chart(self) -> Any:
        """A small graph chart (Altair) of the columns, by distance from the start."""
        from warehouse_kit.apps.lineage_chart import lineage_chart

        return lineage_chart(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        bundle = self.chart()._repr_mimebundle_(include, exclude)
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle[0]["text/plain"] = self.text()
            return bundle
        return {**bundle, "text/plain": self.text()}

    def __str__(self) -> str:
        return self.text()

    def _tree(
        self,
        ref: ColumnRef,
        step: Any,
        arrow: str,
        indent: str,
        lines: list[str],
        shown: set[ColumnRef],
    ) -> None:
        for nxt in step(ref):
            again = nxt in shown
            lines.append(
                f"{indent}{arrow}{self._label(nxt, full=True)}{' (above)' if again else ''}"
            )
            if not again:
                shown.add(nxt)
                self._tree(nxt, step, arrow, indent + "   ", lines, shown)

    def _nodes(self) -> list[ColumnRef]:
        seen = dict.fromkeys(
            [*self.graph.edges, *(r for i in self.graph.edges.values() for r in i)]
        )
        return list(seen)

    def _by_table(self) -> dict[str, list[ColumnRef]]:
        found: dict[str, list[ColumnRef]] = {}
        for ref in self._nodes():
            found.setdefault(ref.table, []).append(ref)
        return found

    def _title(self, table: str) -> str:
        origin = self.graph.origins.get(table)
        if origin:  # a source: what it reads
            return f"source {origin}"
        if table in self.views:
            return f"{table} (view)"
        return "metrics" if table == METRIC else table

    def _label(self, ref: ColumnRef, *, full: bool = False) -> str:
        name = str(ref) if full else ref.column
        if full and ref.table in self.graph.origins:
            name = f"{ref.column} (source {self.graph.origins[ref.table]})"
        elif full and ref.table in self.views:
            name = f"{name} (view)"
        kind = self.graph.pii.get(ref)
        return f"{name} [pii: {kind}]" if kind else name


def _mermaid_text(text: str) -> str:
    """Text inside a Mermaid label: its quote and markup characters as entities."""
    return "".join(f"#{ord(c)};" if c in '"<>#&[]{}' else c for c in text)


def pii_warnings(project: Project | str | Path = ".", target: str | None = None) -> list[str]:
    """One line per column of a published (last-stage) table computed from personal data
    but carrying no PII tag of its own, from the lineage the warehouse was built with."""
    loaded = Project.of(project)
    catalog = load_catalog(loaded)
    published = _published(catalog)
    with loaded.reading(target) as warehouse:
        rows = state.lineage_rows(warehouse)
    found = of_rows(rows).untagged_pii(published)
    return [
        f"{ref} is computed from personal data ({kind}) but has no pii tag: "
        f"tag it (pii: {kind.split('+')[0]}) or declare it safe (pii: false) in its columns"
        for ref, kind in sorted(found.items())
    ]


def _published(catalog: Catalog) -> Iterable[str]:
    """The ids of the models of each pipeline's last stage (Python models there too)."""
    last = {pipeline.stages[-1] for pipeline in catalog.pipelines} or {"gold"}
    return [node for node, model in catalog.graph.models.items() if model.stage in last]
