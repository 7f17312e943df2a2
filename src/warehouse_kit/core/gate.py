"""The checks a model passes before it is published.

A `Gate` checks the rows a model is about to publish, evaluating every check
in one scan (`evaluate`). A failing ``reject`` check stops the model there
(`Rejected`): nothing is published. Rows failing a ``quarantine`` check are
set aside: the model publishes the others, and the set-aside rows go to
``<schema>.<model>__quarantine``, the results to ``_wk.check_results``, in
the model's own transaction, after checking that rows in = rows published +
rows quarantined.

Where the materialization stages its rows itself (a table rebuilt, an
incremental merge), the gate checks them there, inside the write's
transaction (`Gate.check`): the rows are written once. Otherwise it stages
them in a temporary table of its own first (`Gate.stage`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction, Warehouse, table_ref
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.materialize import schema
from warehouse_kit.core.materialize.target import Target
from warehouse_kit.core.quality.checks import BaseCheck
from warehouse_kit.core.quality.evaluate import (
    DIVERT,
    FAILED_CHECKS,
    CheckContext,
    evaluate,
    mark,
    split,
)
from warehouse_kit.core.quality.report import CheckResults

QUARANTINE_SUFFIX = "__quarantine"
RUN_ID = "_wk_run_id"


class Rejected(ModelError):
    """A reject check failed: the model publishes nothing; its results are recorded."""

    def __init__(self, model: str, results: CheckResults, standing: str | None):
        names = ", ".join(f"{r.check} ({r.failing_rows:,} rows)" for r in results.failed)
        kept = f"the {standing} was left as it was" if standing else "nothing was published"
        super().__init__(model, f"rejected by checks: {names}; {kept}")
        self.results = results

    def record(self, warehouse: Warehouse, run_id: str) -> None:
        """The results, in a transaction of their own (the write's was rolled back)."""
        with warehouse.transaction() as tx:
            for row in result_rows(self.results, run_id):
                tx.run(state.insert("check_results", row))


class Gate:
    """A model's checks, and what checking its rows found."""

    def __init__(self, target: Target, checks: Sequence[BaseCheck], context: CheckContext):
        self.target, self.checks, self.context = target, checks, context
        self.diverts = any(check.action == "quarantine" for check in checks)
        self.results = CheckResults([], run_id=target.run_id)
        self.checked = self.published = self.quarantined = 0
        self._marked: ir.Table | None = None
        self._bad: ir.Table | None = None  # rows still to set aside
        self._scratch: sge.Table | None = None

    @property
    def quarantine(self) -> sge.Table:
        return table_ref(f"{self.target.name}{QUARANTINE_SUFFIX}", self.target.schema)

    def rows(self, rows: ir.Table) -> ir.Table:
        """What to stage for checking: the rows, marked where a check may quarantine them."""
        self._marked = mark(rows, self.checks, self.context) if self.diverts else rows
        return self._marked

    def check(self, tx: Transaction, staged: sge.Table, written: int) -> int:
        """Inside the write's transaction: check the `written` rows the materialization
        staged in `staged` (built from `rows`), set aside those a quarantine check diverts
        and take them out; returns the rows left to publish. Raises `Rejected`."""
        assert self._marked is not None, "stage the rows from Gate.rows first"
        table = ibis.table(self._marked.schema(), name=staged.name, database=staged.db or None)
        bad = self._inspect(table, written)
        if self.diverts:
            if bad is not None:
                self._set_aside(tx, bad)
                diverted = sge.Where(this=sg.column(DIVERT, quoted=True))
                tx.run(sge.Delete(this=staged, where=diverted))
            for column in (FAILED_CHECKS, DIVERT):
                drop = sge.Drop(this=sg.to_identifier(column, quoted=True), kind="COLUMN")
                tx.run(sge.Alter(this=staged, kind="TABLE", actions=[drop]))
        return self.published

    def stage(self, rows: ir.Table) -> ir.Table:
        """Before the write: stage `rows` in a temporary table, check them there; the rows
        to publish (set aside when the model's transaction records the gate). Raises
        `Rejected`."""
        self._scratch = self.target.scratch("chk")
        with self.target.warehouse.transaction() as tx:
            written, table = self.target.stage(tx, self._scratch, self.rows(rows))
        self._bad = self._inspect(table, written)
        return split(table)[0] if self.diverts else table

    def _inspect(self, table: ir.Table, written: int) -> ir.Table | None:
        """Evaluate the checks over the staged `table`; its diverted rows, if any."""
        rows, bad = table, None
        if self.diverts:
            rows, bad = table.drop(FAILED_CHECKS, DIVERT), split(table)[1]
        found = evaluate(rows, self.checks, self.context)
        self.results = CheckResults(found, run_id=self.target.run_id)
        self.checked, self.published, self.quarantined = written, written, 0
        if bad is not None:
            divert = table[DIVERT]
            [counts] = self.target.warehouse.rows(
                table.aggregate(good=table.count(where=~divert), bad=table.count(where=divert))
            )
            self.published, self.quarantined = counts["good"], counts["bad"]
        if self.results.failed:
            standing = self.target.warehouse.relation(self.target.name, self.target.schema)
            raise Rejected(self.target.id, self.results, standing)
        return bad if self.quarantined else None

    def record(self, tx: Transaction) -> None:
        """Inside the model's transaction: quarantine, results, and the row accounting."""
        if self.published + self.quarantined != self.checked:
            raise ModelError(
                self.target.id,
                f"rows do not add up: {self.checked} checked, {self.published} published, "
                f"{self.quarantined} quarantined (a bug: please report it)",
            )
        if self._bad is not None:
            self._set_aside(tx, self._bad)
            self._bad = None
        for row in result_rows(self.results, self.target.run_id):
            tx.run(state.insert("check_results", row))

    def _set_aside(self, tx: Transaction, rows: ir.Table) -> None:
        """Add the bad rows to the quarantine table, but those it holds already: a rerun on
        the same input sets nothing aside twice (a row loaded again is a new row: its load
        metadata differ). A column the rows bring is added to the table (older rows get
        NULL); one they lack stays, NULL for them. ``--full-refresh`` starts it again."""
        wh, target = self.target.warehouse, self.target
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
            rows = self._new_to(tx, rows, columns)
        rows = rows.mutate(**{RUN_ID: ibis.literal(target.run_id)})
        names = [sg.to_identifier(c, quoted=True) for c in rows.columns]
        tx.write(sge.insert(wh.to_sqlglot(rows), into=self.quarantine, columns=names))

    def _new_to(self, tx: Transaction, rows: ir.Table, columns: ibis.Schema) -> ir.Table:
        """The rows the quarantine table does not hold yet, after it follows its model's
        columns: those the rows bring are added, and a type the model's table widened is
        widened here too."""
        wh, target = self.target.warehouse, self.target
        held = wh.table(self.quarantine.name, target.schema).schema()
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
        return rows.anti_join(kept, same)

    def close(self) -> None:
        if self._scratch is not None:
            self.target.warehouse.execute(sge.Drop(kind="TABLE", this=self._scratch, exists=True))


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
