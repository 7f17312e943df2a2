"""The warehouse's tables as a query sees them, read once per connection.

Opening a semantic model reads the schema of its fact table and of every table
it joins (a few milliseconds each, more than a small query takes to run). A
connection keeps them here, with each query's compiled expression (building
one costs Ibis more than a small query's run), and reads them again only after
a run: before each query one tiny statement reads the run store's mark
(`state.change_mark`: the number of runs, the last end), and a different mark
drops what was kept. A run's new columns and tables are therefore seen by the
next query, in this process or another. Rows are never cached: a query always
reads the tables.

A table changed outside warehouse-kit's runs (``ALTER TABLE`` by hand on a
table a model joins) is seen on a new connection, or after `forget`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

import ibis.expr.types as ir

from warehouse_kit.analytics.metrics import keys
from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse


@dataclass
class _Seen:
    """What one connection has read, and the run store's mark it was read at."""

    mark: tuple[Any, ...] | None = None
    has_run_store: bool = False
    tables: dict[tuple[str, str], ir.Table] = field(default_factory=dict)
    queries: dict[Hashable, tuple[tuple[object, ...], ir.Table]] = field(default_factory=dict)
    """A query's key -> (the objects it was compiled from, its expression)."""


MAX_QUERIES = 128
"""Queries kept per connection: a dashboard's, many times over."""

_SEEN: WeakKeyDictionary[Warehouse, _Seen] = WeakKeyDictionary()


def refresh(warehouse: Warehouse) -> None:
    """Drop what `warehouse` kept if a run started or ended since it was read: call it
    once per query, before `table`."""
    seen = _SEEN.setdefault(warehouse, _Seen())
    # Spark's catalog keeps the schemas itself (`core.spark`), and a statement there would
    # take its store's lock: nothing is kept. Nor without a run store, since then
    # nothing says when a table changed.
    if warehouse.spark is None and not seen.has_run_store:
        seen.has_run_store = state.has_run_store(warehouse)
    mark = state.change_mark(warehouse) if seen.has_run_store else None
    if mark != seen.mark or mark is None:
        seen.tables.clear()
        seen.queries.clear()
        seen.mark = mark
        keys.forget(warehouse)  # which join keys repeat, asked once per connection too


def table(warehouse: Warehouse, name: str, schema: str) -> ir.Table | None:
    """The table `schema.name` (None when it does not exist)."""
    seen = _SEEN.setdefault(warehouse, _Seen())
    key = (schema, name)
    if key not in seen.tables:
        if not warehouse.exists(name, schema):
            return None
        seen.tables[key] = warehouse.table(name, schema)
    return seen.tables[key]


def query(
    warehouse: Warehouse,
    sources: tuple[object, ...],
    key: Hashable,
    build: Callable[[], ir.Table],
) -> ir.Table:
    """The expression compiled before on `warehouse` from the same `sources` (the very
    objects: a semantic layer, a catalog) with this `key` (the query's options), else
    `build()`'s. An Ibis expression is an immutable value that reads the tables when it
    runs, so the same one serves again until a run."""
    seen = _SEEN.setdefault(warehouse, _Seen())
    found = seen.queries.get(key)
    if found is not None and all(a is b for a, b in zip(found[0], sources, strict=True)):
        return found[1]
    expr = build()
    if len(seen.queries) >= MAX_QUERIES:
        seen.queries.pop(next(iter(seen.queries)))  # the oldest
    seen.queries[key] = (sources, expr)
    return expr


def forget(warehouse: Warehouse) -> None:
    """Read the tables again on the next query (after a change made outside a run)."""
    _SEEN.pop(warehouse, None)
    keys.forget(warehouse)
