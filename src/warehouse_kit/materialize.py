"""Materializations: how a model's expression becomes a table, atomically.

Every write happens in one transaction together with the model's run record
(`record`), so a failure leaves the previous table, and the history, as they
were:

- `replace_table`: build the new table under a staging name, then swap it in;
- `dimension`: a type-1 dimension whose members keep their surrogate key;
- `load_source`: land a source batch in bronze with its load metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit import state
from warehouse_kit.backends import Transaction, Warehouse, table_ref
from warehouse_kit.errors import ModelError
from warehouse_kit.models import Batch, DimensionKeys, Model, SourceLoad
from warehouse_kit.transforms import UNKNOWN_KEY, unknown_member

Record = Callable[[Transaction, "Outcome"], None]
"""Writes the model's run record inside the materialization's transaction."""


@dataclass(frozen=True)
class Outcome:
    rows_in: int
    rows_out: int
    loaded: bool = True
    """False when a source batch was already loaded and nothing was written."""


@dataclass(frozen=True)
class Target:
    """Where a model is written, and the run writing it."""

    warehouse: Warehouse
    schema: str
    name: str
    run_id: str
    started_at: datetime
    full_refresh: bool = False

    @property
    def ref(self) -> sge.Table:
        return table_ref(self.name, self.schema)

    def exists(self) -> bool:
        return self.warehouse.exists(self.name, self.schema)

    def existing(self) -> ir.Table | None:
        if self.full_refresh or not self.exists():
            return None
        return self.warehouse.table(self.name, self.schema)


def replace_table(target: Target, expr: ir.Table, rows_in: int, record: Record) -> Outcome:
    """Build the table under a staging name, then swap it in, in one transaction."""
    staging = table_ref(f"_wk_new_{target.name}", target.schema)
    query = target.warehouse.to_sqlglot(expr)
    with target.warehouse.transaction() as tx:
        tx.run(sge.Drop(kind="TABLE", this=staging, exists=True))
        rows = tx.write(sge.Create(kind="TABLE", this=staging, expression=query))
        tx.run(sge.Drop(kind="TABLE", this=target.ref, exists=True))
        rename = sge.AlterRename(this=sg.table(target.name, quoted=True))
        tx.run(sge.Alter(this=staging, kind="TABLE", actions=[rename]))
        outcome = Outcome(rows_in, rows)
        record(tx, outcome)
    return outcome


def dimension(
    target: Target, incoming: ir.Table, keys: DimensionKeys, rows_in: int, record: Record
) -> Outcome:
    """A type-1 dimension: new members get the next keys, known members keep theirs."""
    _require_unique(target, incoming, keys)
    existing = target.existing()
    if existing is None or keys.surrogate not in existing.columns:
        members = incoming.mutate(
            **{keys.surrogate: ibis.row_number().over(order_by=list(keys.natural)) + 1}
        )
    else:
        members = _merge_members(target, incoming, existing, keys)
    columns = [keys.surrogate, *incoming.columns]
    table = members.select(*columns).union(unknown_member(members.select(*columns), keys))
    return replace_table(target, table, rows_in, record)


def _merge_members(
    target: Target, incoming: ir.Table, existing: ir.Table, keys: DimensionKeys
) -> ir.Table:
    known = existing.filter(existing[keys.surrogate] != UNKNOWN_KEY)
    last_key = target.warehouse.scalar(known[keys.surrogate].max()) or 0
    lookup = known.select(
        _wk_sk=known[keys.surrogate],
        **{f"_wk_nk_{i}": known[c] for i, c in enumerate(keys.natural)},
    )
    predicates = [incoming[c] == lookup[f"_wk_nk_{i}"] for i, c in enumerate(keys.natural)]
    joined = incoming.left_join(lookup, predicates).select(*incoming.columns, "_wk_sk")
    kept = joined.filter(joined._wk_sk.notnull()).mutate(**{keys.surrogate: joined._wk_sk})
    new = joined.filter(joined._wk_sk.isnull())
    new = new.mutate(
        **{keys.surrogate: ibis.row_number().over(order_by=list(keys.natural)) + 1 + last_key}
    )
    # Members missing from this input stay, so the facts that point to them keep a home.
    gone = known.anti_join(incoming, list(keys.natural))
    gone = gone.select(
        **{
            c: gone[c].cast(dtype) if c in gone.columns else ibis.null(dtype)
            for c, dtype in kept.drop("_wk_sk").schema().items()
        }
    )
    columns = [keys.surrogate, *incoming.columns]
    return kept.select(*columns).union(new.select(*columns)).union(gone.select(*columns))


def _require_unique(target: Target, incoming: ir.Table, keys: DimensionKeys) -> None:
    natural = list(keys.natural)
    nulls = incoming.filter(ibis.or_(*(incoming[c].isnull() for c in natural))).count()
    null_rows = target.warehouse.scalar(nulls)
    if null_rows:
        raise ModelError(
            f"{target.schema}.{target.name}",
            f"{null_rows} input rows have a NULL natural key ({', '.join(natural)}); "
            "drop or fill them before the dimension (null_handling)",
        )
    repeated = (
        incoming.group_by(natural)
        .aggregate(_wk_rows=incoming.count())
        .filter(lambda t: t._wk_rows > 1)
    )
    sample = target.warehouse.rows(repeated.order_by(natural).limit(5))
    if sample:
        shown = ", ".join(", ".join(str(row[c]) for c in natural) for row in sample)
        raise ModelError(
            f"{target.schema}.{target.name}",
            f"natural key ({', '.join(natural)}) is not unique in the input, e.g. {shown}; "
            "deduplicate before the dimension",
        )


def load_source(
    target: Target, batch: Batch, load: SourceLoad, model: Model, record: Record
) -> Outcome:
    """Land a source batch in bronze with `_loaded_at`, `_source` and `_batch_id`.

    A batch whose fingerprint is already loaded is skipped, so reruns add nothing.
    """
    wh = target.warehouse
    batch_id = batch.batch_id or target.run_id
    replace = load.mode == "replace" or target.full_refresh or not target.exists()
    if batch.batch_id and not target.full_refresh and state.has_batch(wh, model.id, batch_id):
        rows = wh.scalar(wh.table(target.name, target.schema).count())
        with wh.transaction() as tx:
            outcome = Outcome(0, rows, loaded=False)
            record(tx, outcome)
        return outcome
    rows_expr = batch.table.mutate(
        _loaded_at=ibis.literal(target.started_at, "timestamp"),
        _source=ibis.literal(batch.description, "string"),
        _batch_id=ibis.literal(batch_id, "string"),
    )
    same_engine = ibis.get_backend(rows_expr) is wh.con
    with wh.transaction() as tx:
        if replace:
            tx.run(sge.Drop(kind="TABLE", this=target.ref, exists=True))
            state.forget_batches(tx, model.id)
            columns = rows_expr.schema().to_sqlglot_column_defs(wh.kind)
            tx.run(sge.Create(kind="TABLE", this=sge.Schema(this=target.ref, expressions=columns)))
        else:
            _add_new_columns(tx, target, rows_expr)
        names = [sg.to_identifier(c, quoted=True) for c in rows_expr.columns]
        if same_engine:
            query = wh.to_sqlglot(rows_expr)
            written = tx.write(sge.insert(query, into=target.ref, columns=names))
        else:
            written = tx.load(target.ref, list(rows_expr.columns), rows_expr.to_pyarrow_batches())
        total = written if replace else tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        tx.run(
            state.insert(
                "batches",
                {
                    "model": model.id,
                    "batch_id": batch_id,
                    "run_id": target.run_id,
                    "rows": written,
                    "loaded_at": target.started_at,
                    "description": batch.description,
                },
            )
        )
        outcome = Outcome(written, int(total))
        record(tx, outcome)
    return outcome


def _add_new_columns(tx: Transaction, target: Target, rows: ir.Table) -> None:
    """A batch may bring columns the table has not seen: add them (older rows get NULL)."""
    existing = target.warehouse.table(target.name, target.schema).columns
    for column in rows.schema().to_sqlglot_column_defs(target.warehouse.kind):
        if column.name not in existing:
            tx.run(sge.Alter(this=target.ref, kind="TABLE", actions=[column]))
