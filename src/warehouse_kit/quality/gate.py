"""The checks a model passes before it is published.

`inspect` stages the model's rows once, marked with the checks each row
fails, and evaluates every check over that staging table in one scan. A
failing ``reject`` check stops the model there: nothing is published. Rows
failing a ``quarantine`` check are set aside: the model publishes the others,
and `Gate.record`, called inside the model's own transaction, writes the
set-aside rows to ``<schema>.<model>__quarantine`` and the results to
``_wk.check_results``, after checking that rows in = rows published + rows
quarantined.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit import state
from warehouse_kit.backends import Transaction, table_ref
from warehouse_kit.errors import ModelError
from warehouse_kit.materialize import schema
from warehouse_kit.materialize.target import Target
from warehouse_kit.quality.checks import BaseCheck
from warehouse_kit.quality.evaluate import (
    DIVERT,
    FAILED_CHECKS,
    CheckContext,
    evaluate,
    mark,
    split,
)
from warehouse_kit.quality.report import CheckResults

QUARANTINE_SUFFIX = "__quarantine"
RUN_ID = "_wk_run_id"


@dataclass(frozen=True)
class Gate:
    """What checking a model found, and what is left to write with its data."""

    target: Target
    results: CheckResults
    staging: sge.Table
    bad: ir.Table
    checked: int
    published: int
    quarantined: int

    @property
    def quarantine(self) -> sge.Table:
        return table_ref(f"{self.target.name}{QUARANTINE_SUFFIX}", self.target.schema)

    def record(self, tx: Transaction) -> None:
        """Inside the model's transaction: quarantine, results, and the row accounting."""
        if self.published + self.quarantined != self.checked:
            raise ModelError(
                self.target.id,
                f"rows do not add up: {self.checked} checked, {self.published} published, "
                f"{self.quarantined} quarantined (a bug: please report it)",
            )
        if self.quarantined:
            self._set_aside(tx)
        for row in result_rows(self.results, self.target.run_id):
            tx.run(state.insert("check_results", row))

    def _set_aside(self, tx: Transaction) -> None:
        """Add the bad rows to the quarantine table, but those it holds already: a rerun on
        the same input sets nothing aside twice (a row loaded again is a new row: its load
        metadata differ). A column the rows bring is added to the table (older rows get
        NULL); one they lack stays, NULL for them. ``--full-refresh`` starts it again."""
        wh, target = self.target.warehouse, self.target
        rows = self.bad
        exists = wh.exists(self.quarantine.name, target.schema)
        if exists and target.full_refresh:
            tx.run(sge.Drop(kind="TABLE", this=self.quarantine, exists=True))
            exists = False
        columns = rows.mutate(**{RUN_ID: ibis.literal("")}).schema()
        if not exists:
            definitions = columns.to_sqlglot_column_defs(wh.kind)
            table = sge.Schema(this=self.quarantine, expressions=definitions)
            tx.run(sge.Create(kind="TABLE", this=table))
        else:
            held = wh.table(self.quarantine.name, target.schema).schema()
            # It follows its model's columns: those the rows bring are added, and a type
            # the model's table widened is widened here too.
            drift = schema.compare(held, columns)
            widened = {n: schema.widen(old, new) for n, (old, new) in drift.retyped.items()}
            safe = {n: t for n, t in widened.items() if t is not None}
            for name in widened.keys() - safe.keys():
                old, new = drift.retyped[name]
                raise ModelError(
                    target.id,
                    f"the rows it sets aside have {name} as {new}, which the quarantine "
                    f"table's {old} cannot hold: rebuild it with --full-refresh",
                )
            for change in schema.alterations(self.quarantine, wh.kind, drift.new, safe):
                tx.run(change)
            held = ibis.schema({**dict(held.items()), **drift.new, **safe})
            kept = ibis.table(held, name=self.quarantine.name, database=target.schema)
            same = [rows[c].identical_to(kept[c]) for c in rows.columns if c in held]
            rows = rows.anti_join(kept, same)
        rows = rows.mutate(**{RUN_ID: ibis.literal(target.run_id)})
        names = [sg.to_identifier(c, quoted=True) for c in rows.columns]
        tx.write(sge.insert(wh.to_sqlglot(rows), into=self.quarantine, columns=names))

    def close(self) -> None:
        self.target.warehouse.execute(sge.Drop(kind="TABLE", this=self.staging, exists=True))


def inspect(
    target: Target, rows: ir.Table, checks: Sequence[BaseCheck], context: CheckContext
) -> tuple[ir.Table, Gate]:
    """(the rows to publish, the gate); raises `ModelError` when a reject check fails."""
    wh = target.warehouse
    staging = target.scratch("chk")
    with wh.transaction() as tx:
        checked, marked = target.stage(tx, staging, mark(rows, checks, context))
    good, bad = split(marked)
    found = evaluate(marked.drop(FAILED_CHECKS, DIVERT), checks, context)
    results = CheckResults(found, run_id=target.run_id)
    divert = marked[DIVERT]
    counts = wh.rows(
        marked.aggregate(good=marked.count(where=~divert), bad=marked.count(where=divert))
    )[0]
    gate = Gate(target, results, staging, bad, checked, counts["good"], counts["bad"])
    if results.failed:
        gate.close()
        with wh.transaction() as tx:
            for row in result_rows(results, target.run_id):
                tx.run(state.insert("check_results", row))
        names = ", ".join(f"{r.check} ({r.failing_rows:,} rows)" for r in results.failed)
        raise ModelError(target.id, f"rejected by checks: {names}; the table was left as it was")
    return good, gate


def result_rows(results: CheckResults, run_id: str) -> list[dict[str, object]]:
    return [
        {
            "run_id": run_id,
            "model": r.model,
            "check": r.check,
            "type": r.type,
            "action": r.action,
            "status": r.status,
            "failing_rows": r.failing_rows,
            "total_rows": r.total_rows,
            "measured": r.measured,
            "message": r.message,
            "sample": json.dumps(r.sample, default=str) if r.sample else None,
        }
        for r in results
    ]
