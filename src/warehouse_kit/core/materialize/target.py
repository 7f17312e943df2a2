"""Where a model is written, and what writing it did."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.backends import Relation, Transaction, Warehouse, table_ref
from warehouse_kit.core.materialize import dependents

Record = Callable[[Transaction, "Outcome"], None]
"""Writes the model's run record inside the materialization's transaction."""


@dataclass(frozen=True)
class Outcome:
    rows_in: int | None
    rows_out: int | None
    """None for a view, which holds no rows (`view`)."""
    loaded: bool = True
    """False when a source batch was already loaded and nothing was written."""
    note: str = ""
    """What else the user should know (versions opened, unknown members...)."""


class Checks(Protocol):
    """A model's checks, run on the rows a materialization stages (`core.gate.Gate`)."""

    def rows(self, rows: ir.Table) -> ir.Table:
        """What to stage: the rows, with what checking them needs."""
        ...

    def check(self, tx: Transaction, staged: sge.Table, written: int) -> int:
        """Check the staged rows in the write's transaction; the rows left to publish."""
        ...


@dataclass(frozen=True)
class Target:
    """Where a model is written, and the run writing it."""

    warehouse: Warehouse
    schema: str
    name: str
    run_id: str
    started_at: datetime
    full_refresh: bool = False
    changes: tuple[sge.Expression, ...] = ()
    """Changes to the table's columns the write makes first (`schema.fit`)."""
    checks: Checks | None = None
    """The model's checks, run where the materialization stages its rows (`checked`)."""
    makes: Relation = "table"
    """What the write leaves at the model's name: a table, or a view (`view`)."""

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """The write's transaction: the relation of the other kind at the model's name
        (a view where a table goes, or the reverse) dropped and the table's column
        changes made first, and the views that read it kept (`dependents`)."""
        with (
            self.warehouse.transaction() as tx,
            dependents.kept(tx, self.warehouse, self.schema, self.name),
        ):
            standing = self.warehouse.relation(self.name, self.schema)
            if standing is not None and standing != self.makes:
                tx.run(sge.Drop(kind=standing.upper(), this=self.ref))
            for change in self.changes:
                tx.run(change)
            yield tx

    def to_check(self, rows: ir.Table) -> ir.Table:
        """The rows to stage: what the checks need added, if the model has checks."""
        return self.checks.rows(rows) if self.checks is not None else rows

    def checked(self, tx: Transaction, staged: sge.Table, written: int) -> int:
        """The checks run on the rows staged from `to_check`; how many are left to publish."""
        return self.checks.check(tx, staged, written) if self.checks is not None else written

    def adding(self) -> list[str]:
        """The columns the changes add."""
        return [
            action.name
            for change in self.changes
            for action in change.args.get("actions") or []
            if isinstance(action, sge.ColumnDef)
        ]

    @property
    def ref(self) -> sge.Table:
        return table_ref(self.name, self.schema)

    @property
    def id(self) -> str:
        return f"{self.schema}.{self.name}"

    def staging(self, purpose: str) -> sge.Table:
        """A table next to the target, built before it replaces the target."""
        return table_ref(f"_wk_{purpose}_{self.name}", self.schema)

    def scratch(self, purpose: str) -> sge.Table:
        """A temporary table for intermediate rows: the session's own, never written to disk
        with the warehouse (so committing does not pay for it)."""
        return sg.table(f"_wk_{purpose}_{self.name}", quoted=True)

    def stage(self, tx: Transaction, scratch: sge.Table, rows: ir.Table) -> tuple[int, ir.Table]:
        """Compute `rows` into the temporary table `scratch`: (how many, the table to read)."""
        wh = self.warehouse
        tx.run(sge.Drop(kind="TABLE", this=scratch, exists=True))
        temporary = sge.Properties(expressions=[sge.TemporaryProperty()])
        create = sge.Create(
            kind="TABLE", this=scratch, expression=wh.to_sqlglot(rows), properties=temporary
        )
        return tx.write(create), ibis.table(rows.schema(), name=scratch.name)

    def exists(self) -> bool:
        """Whether a table stands at the model's name: a view holds no rows to keep, and
        the write's transaction replaces it."""
        return self.warehouse.relation(self.name, self.schema) == "table"

    def existing(self, *, keep_on_full_refresh: bool = False) -> ir.Table | None:
        """The table as it is now; None when absent or being rebuilt from scratch."""
        if (self.full_refresh and not keep_on_full_refresh) or not self.exists():
            return None
        return self.warehouse.table(self.name, self.schema)
