"""The lineage of a whole warehouse: every column and the columns it is computed from,
across models, walked upstream or downstream, with personal data (PII) followed along.

`of_plan` builds it from a run's plan (`lineage.model_lineage` per model); `rows_of`
is what a model's write stores in ``_wk.column_lineage`` (`state.record_lineage`), and
`of_rows` builds the graph back from what was stored, so it describes what was built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from warehouse_kit.core.gate import QUARANTINE_SUFFIX
from warehouse_kit.core.lineage import (
    ColumnLineage,
    ColumnRef,
    model_lineage,
    quarantine_lineage,
    source_location,
    source_table,
)
from warehouse_kit.core.planner import Planned

UNTAGGED = object()
"""`LineageGraph.declared`'s answer for a column nobody tagged."""


@dataclass(frozen=True)
class LineageGraph:
    """Columns and the input columns each is directly computed from."""

    edges: Mapping[ColumnRef, tuple[ColumnRef, ...]]
    """Every column (in its table's order) -> its direct inputs; a source column has none."""
    tags: Mapping[ColumnRef, str | None] = field(default_factory=dict)
    """Columns tagged as personal data (their kind), or declared safe (None)."""
    origins: Mapping[str, str] = field(default_factory=dict)
    """A source table -> what it reads (``shop_orders: seeds/orders_seed.csv``)."""

    @cached_property
    def outputs(self) -> dict[ColumnRef, tuple[ColumnRef, ...]]:
        """Each column -> the columns computed directly from it."""
        found: dict[ColumnRef, list[ColumnRef]] = {}
        for column, inputs in self.edges.items():
            for ref in inputs:
                found.setdefault(ref, []).append(column)
        return {ref: tuple(columns) for ref, columns in found.items()}

    @cached_property
    def tables(self) -> dict[str, list[str]]:
        """Each table -> its columns, in order."""
        found: dict[str, list[str]] = {}
        for ref in [*self.edges, *(r for inputs in self.edges.values() for r in inputs)]:
            columns = found.setdefault(ref.table, [])
            if ref.column not in columns:
                columns.append(ref.column)
        return found

    def inputs(self, column: ColumnRef) -> tuple[ColumnRef, ...]:
        return self.edges.get(column, ())

    def upstream(self, start: Iterable[ColumnRef]) -> LineageGraph:
        """What `start` is computed from, transitively: the part of the graph above it."""
        return self._reach(start, self.inputs, up=True)

    def downstream(self, start: Iterable[ColumnRef]) -> LineageGraph:
        """Every column computed from `start`, transitively."""
        return self._reach(start, lambda ref: self.outputs.get(ref, ()), up=False)

    def _reach(self, start: Iterable[ColumnRef], step: Any, *, up: bool) -> LineageGraph:
        seen: set[ColumnRef] = set()
        todo = list(start)
        while todo:
            ref = todo.pop()
            if ref not in seen:
                seen.add(ref)
                todo += step(ref)
        edges = {
            column: tuple(r for r in inputs if r in seen) if not up else inputs
            for column, inputs in self.edges.items()
            if column in seen
        }
        for ref in seen - set(edges):
            edges[ref] = ()
        return LineageGraph(edges, self.tags, self.origins)

    def declared(self, column: ColumnRef) -> object:
        """Its tag (a kind, or None for safe), or `UNTAGGED`."""
        return self.tags.get(column, UNTAGGED)

    @cached_property
    def pii(self) -> dict[ColumnRef, str]:
        """Every column holding personal data -> its kind: tagged so, or computed from
        such a column and not declared safe (kinds joined by ``+`` when several)."""
        found: dict[ColumnRef, str | None] = {}

        def kind(ref: ColumnRef, path: frozenset[ColumnRef]) -> str | None:
            if ref in found:
                return found[ref]
            tag = self.declared(ref)
            if tag is not UNTAGGED:
                found[ref] = tag if isinstance(tag, str) else None
                return found[ref]
            inherited = {kind(r, path | {ref}) for r in self.inputs(ref) if r not in path}
            kinds = sorted(k for k in inherited if k)
            found[ref] = "+".join(dict.fromkeys(kinds)) or None
            return found[ref]

        for ref in [*self.edges, *self.outputs]:
            kind(ref, frozenset())
        return {ref: k for ref, k in found.items() if k}

    def untagged_pii(self, tables: Iterable[str]) -> dict[ColumnRef, str]:
        """Columns of `tables` computed from personal data that carry no tag of their own:
        a gold table should say what it publishes."""
        wanted = set(tables)
        return {
            ref: kind
            for ref, kind in self.pii.items()
            if ref.table in wanted and self.declared(ref) is UNTAGGED
        }

    def merged(self, other: LineageGraph) -> LineageGraph:
        return LineageGraph(
            {**self.edges, **other.edges},
            {**self.tags, **other.tags},
            {**self.origins, **other.origins},
        )


def pii_columns(graph: LineageGraph, table: str | None = None) -> dict[ColumnRef, str]:
    """The columns (of `table`, or of all) holding personal data, with their kind."""
    return {ref: k for ref, k in graph.pii.items() if table is None or ref.table == table}


def of_plan(plan: Mapping[str, Planned]) -> LineageGraph:
    """The lineage of every planned model, as the run would build it."""
    rows = [row for item in plan.values() for row in rows_of(item)]
    return of_rows(rows)


def rows_of(item: Planned) -> list[dict[str, Any]]:
    """A model's lineage as the rows ``_wk.column_lineage`` stores: one per column and
    input (a column without input: one row, input NULL); with its quarantine table's
    and, for bronze, its source's."""
    model = item.model
    rows = _rows(model.id, model_lineage(item), model.pii)
    if item.batch is not None:
        source = source_table(item)
        location = source_location(item)
        refs = {ref for refs in model_lineage(item).values() for ref in refs}
        for ref in sorted(refs):
            rows.append(_row(source, ref.column, None, model.pii, location))
    if any(check.action == "quarantine" for check in model.checks):
        rows += _rows(f"{model.id}{QUARANTINE_SUFFIX}", quarantine_lineage(item), {})
    return rows


def _rows(
    table: str, lineage: ColumnLineage, tags: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    rows = []
    for column, inputs in lineage.items():
        rows += [_row(table, column, ref, tags) for ref in inputs] or [
            _row(table, column, None, tags)
        ]
    return rows


def _row(
    table: str,
    column: str,
    ref: ColumnRef | None,
    tags: Mapping[str, str | None],
    origin: str = "",
) -> dict[str, Any]:
    return {
        "model": table,
        "column_name": column,
        "input_table": ref.table if ref else None,
        "input_column": ref.column if ref else None,
        "pii": tags.get(column),
        "pii_declared": column in tags,
        "origin": origin or None,
    }


def of_rows(rows: Iterable[Mapping[str, Any]]) -> LineageGraph:
    """The graph of stored (or planned) lineage rows, in their order."""
    edges: dict[ColumnRef, list[ColumnRef]] = {}
    tags: dict[ColumnRef, str | None] = {}
    origins: dict[str, str] = {}
    for row in rows:
        column = ColumnRef(row["model"], row["column_name"])
        inputs = edges.setdefault(column, [])
        if row["input_table"] is not None:
            inputs.append(ColumnRef(row["input_table"], row["input_column"]))
        if row["pii_declared"]:
            tags[column] = row["pii"]
        if row.get("origin"):
            origins[row["model"]] = row["origin"]
    return LineageGraph({ref: tuple(refs) for ref, refs in edges.items()}, tags, origins)
