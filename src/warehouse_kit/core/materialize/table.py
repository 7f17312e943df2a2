"""Rebuild a table: build it under a staging name, then swap it in."""

from __future__ import annotations

import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.materialize.target import Outcome, Record, Target


def replace_table(
    target: Target, expr: ir.Table, rows_in: int, record: Record, *, note: str = ""
) -> Outcome:
    """Build the table under a staging name, check it there, then swap it in, in one
    transaction."""
    staging = target.staging("new")
    query = target.warehouse.to_sqlglot(target.to_check(expr))
    with target.transaction() as tx:
        tx.run(sge.Drop(kind="TABLE", this=staging, exists=True))
        rows = tx.write(sge.Create(kind="TABLE", this=staging, expression=query))
        rows = target.checked(tx, staging, rows)
        tx.run(sge.Drop(kind="TABLE", this=target.ref, exists=True))
        rename = sge.AlterRename(this=sg.table(target.name, quoted=True))
        tx.run(sge.Alter(this=staging, kind="TABLE", actions=[rename]))
        outcome = Outcome(rows_in, rows, note=note)
        record(tx, outcome)
    return outcome
