"""What each kind of model writes: one strategy per materialization kind, in one registry.

A strategy turns a planned model into a write (`materialize`) and says whether
it stages the rows it publishes, so the model's checks run on them there
(`Target.checks`), or whether the executor stages and checks them first. The
executor (`executor.Executor`) does everything else the same for every kind.
Adding a kind means a `Materialization` in `models`, its writer in
`materialize`, and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from warehouse_kit.core import materialize
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.materialize import Outcome, Record, Target
from warehouse_kit.core.models import Dimension, Materialization, Merge, SourceLoad, Table, View
from warehouse_kit.core.planner import Planned


@dataclass(frozen=True)
class Strategy:
    write: Callable[[Target, Planned, Record], Outcome]
    stages_rows: bool
    """Whether the write stages the rows it publishes (then checks run on them there)."""
    holds_rows: bool = True
    """Whether it leaves a table: a view has no indexes, statistics or row counts."""


def strategy(item: Planned) -> Strategy:
    return STRATEGIES[type(item.model.materialization)]


def rows_in(warehouse: Warehouse, item: Planned) -> int:
    """The rows of the model's first input."""
    if not item.model.inputs:
        return 0
    first = item.inputs[item.model.inputs[0]]
    rows: int = warehouse.scalar(first.count())
    return rows


def _table(target: Target, item: Planned, record: Record) -> Outcome:
    rows = rows_in(target.warehouse, item)
    return materialize.replace_table(target, item.expr, rows, record)


def _view(target: Target, item: Planned, record: Record) -> Outcome:
    return materialize.create_view(replace(target, makes="view"), item.expr, record)


def _incremental(target: Target, item: Planned, record: Record) -> Outcome:
    """Merge the new rows; the first build (no watermark to read from) is a table."""
    assert isinstance(item.model.materialization, Merge)
    if item.watermark is None:
        return _table(target, item, record)
    options = item.model.materialization.options
    rows = rows_in(target.warehouse, item)
    return materialize.merge(
        target, item.expr, options, rows, record, model=item.model.id, watermark=item.watermark
    )


def _dimension(target: Target, item: Planned, record: Record) -> Outcome:
    model = item.model
    assert isinstance(model.materialization, Dimension)
    if model.keys is None:
        return _table(target, item, record)
    options = model.materialization.options
    rows = rows_in(target.warehouse, item)
    if options.scd == 2:
        return materialize.scd2(target, item.expr, options, model.keys, rows, record)
    return materialize.type1(target, item.expr, model.keys, rows, record)


def _source(target: Target, item: Planned, record: Record) -> Outcome:
    model = item.model
    assert isinstance(model.materialization, SourceLoad)
    assert item.batch is not None
    return materialize.load_source(target, item.batch, model.materialization, model, record)


STRATEGIES: dict[type[Materialization], Strategy] = {
    Table: Strategy(_table, stages_rows=True),
    View: Strategy(_view, stages_rows=True, holds_rows=False),  # checks read the new view
    Merge: Strategy(_incremental, stages_rows=True),
    Dimension: Strategy(_dimension, stages_rows=False),
    SourceLoad: Strategy(_source, stages_rows=False),
}
