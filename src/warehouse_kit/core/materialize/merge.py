"""Incremental models: merge the rows built from new input into the table.

The first build (or a ``--full-refresh``) writes the whole table; later runs
stage the new rows, delete the rows they replace (same unique key) unless
the strategy is append, and insert them, advancing the model's watermark in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction
from warehouse_kit.core.materialize.history import RUN_ID
from warehouse_kit.core.materialize.table import replace_table
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.spec import IncrementalModel


def merge(
    target: Target,
    rows: ir.Table,
    options: IncrementalModel,
    rows_in: int,
    record: Record,
    *,
    model: str,
    watermark: ir.Scalar,
) -> Outcome:
    wh = target.warehouse
    high = wh.scalar(watermark)

    def record_with_mark(tx: Transaction, outcome: Outcome) -> None:
        state.set_watermark(tx, model, high, target.run_id)
        record(tx, outcome)

    existing = target.existing()
    if existing is None:
        return replace_table(target, rows, rows_in, record_with_mark)
    staging = target.scratch("mrg")
    names = [sg.to_identifier(c, quoted=True) for c in rows.columns]
    with target.transaction() as tx:
        written, _ = target.stage(tx, staging, target.to_check(rows))
        written = target.checked(tx, staging, written)
        replaced = 0
        if options.strategy == "merge":
            replaced = tx.write(_delete_matching(tx, target, staging, options))
        tx.write(sge.insert(sg.select(*names).from_(staging), into=target.ref, columns=names))
        tx.run(sge.Drop(kind="TABLE", this=staging, exists=True))
        total = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        outcome = Outcome(rows_in, int(total), note=f"{written} rows merged ({replaced} replaced)")
        record_with_mark(tx, outcome)
    return outcome


def _delete_matching(
    tx: Transaction, target: Target, staging: sge.Table, options: IncrementalModel
) -> sge.Delete:
    """DELETE the target's rows whose unique key is among the staged rows.

    The staged keys' range, as literals, lets the engine skip the row groups
    outside it: a small batch then touches a small part of a large table.
    """
    same = sge.and_(
        *(
            sge.EQ(
                this=sg.column(c, table="s", quoted=True),
                expression=sg.column(c, table=target.name, quoted=True),
            )
            for c in options.unique_key
        )
    )
    matching = sg.select(sge.Literal.number(1)).from_(staging.as_("s")).where(same)
    condition: sge.Expression = sge.Exists(this=matching)
    if len(options.unique_key) == 1:
        key = sg.column(options.unique_key[0], quoted=True)
        low, high = tx.run(sg.select(sge.Min(this=key), sge.Max(this=key)).from_(staging))[0]
        if low is not None:
            column = sg.column(options.unique_key[0], table=target.name, quoted=True)
            bounds = sge.Between(this=column, low=_literal(low), high=_literal(high))
            condition = sge.and_(bounds, condition)
    return sge.Delete(this=target.ref, where=sge.Where(this=condition))


def _literal(value: object) -> sge.Expression:
    if isinstance(value, int | float):
        return sge.Literal.number(value)
    return sge.Literal.string(str(value))


@dataclass(frozen=True)
class History:
    """A type-2 dimension a fact points to, by the fact's column of its surrogate keys."""

    column: str
    dimension: ir.Table


def incoming(
    primary: ir.Table,
    existing: ir.Table | None,
    options: IncrementalModel,
    mark: str | None,
    keys: list[str],
    *,
    histories: Sequence[History] = (),
    since: str | None = None,
) -> ir.Table:
    """The input rows to build from: loaded after the watermark; or behind a row whose
    surrogate keys were unknown (-1), so a member that arrived since repairs it; or that
    points to a type-2 version written since the model's last build (run `since`), or to
    one no longer there, so a fact always has the version valid when it happened."""
    if existing is None or mark is None:
        return primary
    new = primary._loaded_at > ibis.literal(mark).cast(primary._loaded_at.type())
    runs = []
    for index, history in enumerate(histories):
        if history.column not in existing.columns or since is None:
            continue
        dimension = history.dimension
        written = dimension.select(
            **{f"_wk_sk_{index}": dimension[history.column], f"_wk_run_{index}": dimension[RUN_ID]}
        )
        existing = existing.left_join(
            written, existing[history.column] == written[f"_wk_sk_{index}"]
        )
        runs.append(f"_wk_run_{index}")
    stale = [existing[k] == -1 for k in keys if k in existing.columns]
    stale += [existing[r].isnull() | (existing[r] > ibis.literal(since)) for r in runs]
    if not stale:
        return primary.filter(new)
    unresolved = existing.filter(ibis.or_(*stale)).select(*options.unique_key).distinct()
    marked = primary.left_join(unresolved.mutate(_wk_repair=True), list(options.unique_key))
    marked = marked.select(*primary.columns, "_wk_repair")
    return marked.filter(new | marked._wk_repair.notnull()).drop("_wk_repair")
