"""Type-2 dimensions: every change closes the current version and opens a new one.

Each version is valid over [effective_from, effective_to); `history` says how
versions follow from what was observed, and `snapshot` how a batch is merged.
The rules, checked before every publish (`rules`): for every member, versions never overlap and
follow each other without a gap (but where ``deletes: invalidate`` closed a
deleted member), each ends after it starts, at most one is current (the
open-ended one), the first starts at the beginning of time; a version's
surrogate key never changes.

Every batch is one snapshot, taken at its latest ``changed_at`` (by default
when it was loaded; the ``updated_at`` strategy dates its rows' changes by
``updated_at``). A batch newer than the ones applied is merged; one taken at
the same time as the latest changes nothing unless it differs (it is taken
again); an older one:

- full snapshots (``deletes: invalidate|new_record``): is placed in time: the
  members it tells something new about have their history computed again
  from every snapshot applied, so the order batches arrive in does not matter;
- ``deletes: ignore``: is refused, naming it, because the input need not be a
  full snapshot then, and nothing says how long a late state lasted.

The work is proportional to the members a batch changes: one pass over the
input finds them; their versions are computed again, compared with the stored
ones, and only the versions that differ are deleted and inserted, with the
snapshot's record and the run's, in one transaction.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.materialize import history, rules, schema
from warehouse_kit.core.materialize.dimension import (
    BATCH,
    CHANGED_AT,
    SEEN_AT,
    require_present,
)
from warehouse_kit.core.materialize.history import FIRST_SEEN, RUN_ID, Layout
from warehouse_kit.core.materialize.snapshot import Batch, require_unique_rows
from warehouse_kit.core.materialize.table import replace_table
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.models import BEGINNING, END, DimensionKeys
from warehouse_kit.core.operations import DimensionOptions
from warehouse_kit.core.transforms import unknown_member


def scd2(
    target: Target,
    incoming: ir.Table,
    options: DimensionOptions,
    keys: DimensionKeys,
    rows_in: int,
    record: Record,
) -> Outcome:
    run_time = ibis.literal(target.started_at, "timestamp")
    rows = incoming.mutate(
        **{column: incoming[column].fill_null(run_time) for column in (CHANGED_AT, SEEN_AT)}
    )
    require_present(target, rows, keys)
    layout = Layout.of(options, keys, incoming)
    rows = rows.drop(BATCH)
    taken = target.warehouse.scalar(history.seen_at(layout, rows).max())
    existing = target.existing(keep_on_full_refresh=True)
    try:
        if existing is None:
            return _first_load(target, layout, rows, taken, rows_in, record)
        existing = _with_bookkeeping(target, existing, layout)
        existing, rows = _aligned(target, existing, rows)
        _require_layout(target, existing, layout)
        latest = state.latest_snapshot(target.warehouse, target.id)
        if taken is None:
            return _nothing_new(target, layout, rows_in, record)
        if latest is not None and taken < latest and not layout.snapshots:
            raise ModelError(target.id, _refusal(target, incoming, taken, latest))
        return Batch(target, layout, rows, taken, latest).merge(existing, rows_in, record)
    except rules.Broken as broken:
        raise _refused(target, broken) from None


def _first_load(
    target: Target,
    layout: Layout,
    rows: ir.Table,
    taken: datetime | None,
    rows_in: int,
    record: Record,
) -> Outcome:
    rows = rows.distinct()  # a row sent twice is one observation
    if _seen_once(target, layout, rows):  # one snapshot: a version per member, no history
        versions = history.first_versions(layout, rows)
    else:
        require_unique_rows(target, layout, rows)
        versions = history.versions(layout, history.observations(layout, rows))
    table = history.numbered(layout, versions, 0, target.run_id)
    table = table.union(_unknown(layout, table, target.run_id))

    def checked(tx: Transaction, outcome: Outcome) -> None:
        rules.require(tx, target, layout, target.warehouse.table(target.name, target.schema))
        if taken is not None:
            state.add_snapshot(tx, target.id, taken, target.run_id, rows_in)
        record(tx, outcome)

    return replace_table(target, table, rows_in, checked)


def _seen_once(target: Target, layout: Layout, rows: ir.Table) -> bool:
    """Whether every member is in the input once (its keys are not NULL: `require_present`)."""
    natural = layout.natural
    if len(natural) == 1:
        members = rows[natural[0]].nunique()
    else:
        members = rows.select(*natural).distinct().count().as_scalar()
    [found] = target.warehouse.rows(rows.aggregate(rows=rows.count(), members=members))
    return bool(found["rows"] == found["members"])


def _nothing_new(target: Target, layout: Layout, rows_in: int, record: Record) -> Outcome:
    if layout.snapshots:
        raise ModelError(
            target.id,
            f"the input is empty, and with deletes: {layout.options.deletes} an empty snapshot "
            "would delete every member; check the source (or use deletes: ignore)",
        )
    with target.transaction() as tx:
        rows = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        outcome = Outcome(rows_in, int(rows), note="no input: nothing changed")
        record(tx, outcome)
    return outcome


def _unknown(layout: Layout, versions: ir.Table, run_id: str) -> ir.Table:
    start, end, is_current, is_deleted = layout.names
    member = unknown_member(versions, layout.keys)
    flags = {start: BEGINNING, end: END, is_current: True, is_deleted: False}
    values = {name: ibis.literal(value) for name, value in flags.items()}
    values[FIRST_SEEN] = ibis.literal(BEGINNING)
    values[RUN_ID] = ibis.literal(run_id, "string")
    return member.mutate(**values).select(*layout.columns)


def _refused(target: Target, broken: rules.Broken) -> ModelError:
    """Record the failed verdict on its own, and say what happened."""
    with target.warehouse.transaction() as tx:
        tx.run(state.insert("check_results", broken.verdict.row(target.run_id)))
    return ModelError(
        target.id,
        f"the history would break the dimension's rules, so nothing was written: "
        f"{broken.verdict.message} (a bug: please report it with the batches that led here)",
    )


def _with_bookkeeping(target: Target, existing: ir.Table, layout: Layout) -> ir.Table:
    """A dimension written before versions kept when they were first seen and by which run
    gains those columns: first seen when it began, written by no run in particular."""
    missing = [c for c in history.BOOKKEEPING if c not in existing.columns]
    if not missing:
        return existing
    wh = target.warehouse
    began = layout.names[0]
    types = ibis.schema({FIRST_SEEN: "timestamp", RUN_ID: "string"})
    with wh.transaction() as tx:
        for column in types.to_sqlglot_column_defs(wh.kind):
            if column.name in missing:
                tx.run(sge.Alter(this=target.ref, kind="TABLE", actions=[column]))
        values = {RUN_ID: sge.Literal.string(""), FIRST_SEEN: sg.column(began, quoted=True)}
        tx.run(
            sge.Update(
                this=target.ref,
                expressions=[
                    sge.EQ(this=sg.column(c, quoted=True), expression=v)
                    for c, v in values.items()
                    if c in missing
                ],
            )
        )
    return wh.table(target.name, target.schema)


def _refusal(target: Target, incoming: ir.Table, taken: datetime, latest: datetime) -> str:
    batches = incoming.select(BATCH).distinct().order_by(BATCH).limit(3)
    named = [row[BATCH] for row in target.warehouse.rows(batches) if row[BATCH]]
    which = f"batch {', '.join(named)}" if named else "the input"
    return (
        f"{which}, a snapshot of {taken}, is older than the latest one the dimension has "
        f"applied ({latest}); with deletes: ignore the input need not be a full snapshot, so "
        "nothing says how long its states lasted and it is refused: load batches in time "
        "order, or declare full snapshots (deletes: invalidate or new_record) to have late "
        "ones placed in history"
    )


def _aligned(target: Target, existing: ir.Table, rows: ir.Table) -> tuple[ir.Table, ir.Table]:
    """The stored versions and the input with the same columns and types: a column the
    write adds (`schema.fit`) is NULL in the stored versions, and a column whose type
    the input widens is read as the wider type on both sides."""
    added = {c: ibis.null(rows[c].type()) for c in target.adding() if c not in existing.columns}
    existing = existing.mutate(**added) if added else existing
    wider = {}
    for column in set(existing.columns) & set(rows.columns):
        old, new = existing[column].type(), rows[column].type()
        if schema.plain(old) != schema.plain(new):
            wider[column] = schema.widen(old, new) or old
    if not wider:
        return existing, rows
    return (
        existing.mutate(**{c: existing[c].cast(t) for c, t in wider.items()}),
        rows.mutate(**{c: rows[c].cast(t) for c, t in wider.items()}),
    )


def _require_layout(target: Target, existing: ir.Table, layout: Layout) -> None:
    missing = [c for c in layout.columns if c not in existing.columns]
    if missing:
        raise ModelError(
            target.id,
            f"the dimension has no column {', '.join(missing)}; its history cannot be extended "
            "with a different shape: add the columns by hand, or drop the table to rebuild it",
        )
