"""Bronze: land a source batch with its load metadata, once."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit import state
from warehouse_kit.backends import Transaction
from warehouse_kit.materialize.target import Outcome, Record, Target
from warehouse_kit.models import Batch, Model, SourceLoad


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
