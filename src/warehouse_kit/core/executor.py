"""Write one planned model: the one way every materialization is carried out.

A materialization's strategy (`strategies`: a table rebuilt, a view, a source
batch landed, an incremental merge, a type-1 or type-2 dimension) says what to
write. The executor does the rest, the same for every kind: it checks the model's guards
before anything is written, makes the table's schema changes first in the
write's transaction (`Target.transaction`, from the contract `schema.held`
applied when planning), gates the rows through the model's checks, and inside
the write's transaction records the run row, the quarantine, the check
results, the row accounting, the table's new schema version and its column
lineage. A failure leaves the previous table, and the history, as they were,
and is recorded as the model's failure.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime

import sqlglot.expressions as sge

from warehouse_kit.core import lineage_graph, state
from warehouse_kit.core.accounting import account
from warehouse_kit.core.backends import Transaction, Warehouse
from warehouse_kit.core.errors import ModelError, WarehouseKitError, first_line
from warehouse_kit.core.gate import Gate, Rejected
from warehouse_kit.core.materialize import Outcome, Target, indexes, schema, statistics
from warehouse_kit.core.planner import Planned, Planner
from warehouse_kit.core.results import ModelResult
from warehouse_kit.core.retries import NO_RETRIES, Retries, connection_lost, is_transient
from warehouse_kit.core.strategies import strategy

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        warehouse: Warehouse,
        planner: Planner,
        full_refresh: bool,
        reconnect: Callable[[], None] | None = None,
    ):
        self.warehouse = warehouse
        self.planner = planner
        self.full_refresh = full_refresh
        self.reconnect = reconnect or warehouse.reconnect
        """Opens the warehouse connection again after it was lost (the run lock's way,
        when the runner holds the target)."""

    def write(
        self, item: Planned, result: ModelResult, run_id: str, started_at: datetime, clock: float
    ) -> None:
        """Write the model, filling in `result` (its status, rows, notes, or error).

        An attempt that fails on a transient fault (`retries`) is made again, as many
        times as the model's `retries` allow, on a connection opened again if it was
        lost; the model's run row says which attempt it records and what the ones
        before it met. Any other error fails the model at once."""
        policy = item.model.retries or NO_RETRIES
        result.attempts = policy.attempts
        for attempt in range(1, policy.attempts + 1):
            result.attempt = attempt
            try:
                self._attempt(item, result, run_id, started_at, clock)
                break
            except Exception as exc:
                if attempt < policy.attempts and is_transient(exc):
                    result.retried.append(_message(exc, item.model.id))
                    self._before_next(exc, item.model.id, attempt, policy)
                    continue
                self._failed(exc, item, result, run_id, clock)
                break
        result.note = _notes(result)  # for the reporter, as the history has it (once: last)

    def _attempt(
        self, item: Planned, result: ModelResult, run_id: str, started_at: datetime, clock: float
    ) -> None:
        """One attempt at the write; raises what made it fail."""
        node = item.model.id
        target = Target(
            self.warehouse, item.schema, item.model.name, run_id, started_at, self.full_refresh
        )
        writer = strategy(item)
        gate: Gate | None = None
        warnings: tuple[str, ...] = ()

        def record(tx: Transaction, outcome: Outcome) -> None:
            if not outcome.loaded:  # a source with nothing new: its table is as it was
                result.status = "up_to_date"
            result.rows_in, result.rows_out = outcome.rows_in, outcome.rows_out
            result.duration_s = time.perf_counter() - clock
            result.note = "; ".join(part for part in (*item.notes, *warnings, outcome.note) if part)
            if gate is not None:
                gate.record(tx)
                result.rows_quarantined = gate.quarantined
                result.checks = gate.results
            if outcome.loaded and writer.holds_rows:
                can = self.warehouse.capabilities
                if can.indexes:
                    indexes.publish(tx, item.schema, item.model.name, item.indexes)
                if can.analyze:
                    statistics.analyze(tx, item.schema, item.model.name)
                account(tx, self.warehouse, item, result)
            if outcome.loaded:
                for name in (item.model.name, *([gate.quarantine.name] if gate else [])):
                    schema.record_version(tx, item.schema, name, run_id)
            state.record_lineage(tx, run_id, lineage)
            tx.run(record_row(run_id, item, result))

        try:
            lineage = lineage_graph.rows_of(item)  # stored with the write: what was built
            self._guard(item)
            self.warehouse.ensure_schema(item.schema)
            if item.fitted is not None:
                target = replace(target, changes=item.fitted.changes)
                warnings = item.fitted.notes
                for note in warnings[: item.fitted.warnings]:
                    log.warning("%s: %s", node, note)
            if item.model.checks:
                gate = Gate(target, item.model.checks, self.planner.check_context(item.model))
                if writer.stages_rows:
                    target = replace(target, checks=gate)
                else:
                    item = replace(item, expr=gate.stage(item.expr))
            writer.write(target, item, record)
            unknown = self._unknown_members(item) if writer.holds_rows else ""
            result.note = "; ".join(part for part in (result.note, unknown) if part)
            # The record was written before the commit; the commit is part of the work.
            result.duration_s = time.perf_counter() - clock
            where = {"run_id": run_id, "model": node}
            changes = {"duration_s": round(result.duration_s, 6), "notes": _notes(result) or None}
            self.warehouse.execute(state.update("model_runs", where, changes))
        except Exception:
            if gate is not None:  # the attempt's own error is the one to report
                with suppress(Exception):
                    gate.close()
            raise
        if gate is not None:
            gate.close()

    def _before_next(self, exc: Exception, node: str, attempt: int, policy: Retries) -> None:
        """Wait as `policy` says, then open the connection again if the fault closed it."""
        pause = policy.wait_before(attempt + 1)
        log.warning(
            "%s: attempt %d of %d failed (%s); trying again in %g s",
            node,
            attempt,
            policy.attempts,
            _message(exc, node),
            pause,
        )
        time.sleep(pause)
        if connection_lost(exc):
            try:
                self.reconnect()
            except Exception as again:  # the next attempt meets it too, and is counted
                log.warning("%s: cannot open the warehouse again: %s", node, first_line(again))

    def _failed(
        self, exc: Exception, item: Planned, result: ModelResult, run_id: str, clock: float
    ) -> None:
        """Record the model's failure, on a connection opened again if `exc` closed it."""
        node = item.model.id
        if connection_lost(exc):
            self.reconnect()
        if isinstance(exc, Rejected):
            exc.record(self.warehouse, run_id)
            result.checks = exc.results  # what rejected it, for the reporter too
        result.status = "failed"
        result.error = _message(exc, node)
        result.duration_s = time.perf_counter() - clock
        self.warehouse.execute(record_row(run_id, item, result))

    def _guard(self, item: Planned) -> None:
        """Fail the model, before anything is written, where its data breaks a guard."""
        for guard in item.guards:
            found = self.warehouse.rows(guard.offending.limit(3))
            if found:
                raise ModelError(item.model.id, guard.explain(found))

    def _unknown_members(self, item: Planned) -> str:
        """How many of a fact's rows point to each dimension's unknown member."""
        keys = self.planner.surrogate_keys(item.model)
        if not keys:
            return ""
        table = self.warehouse.table(item.model.name, item.schema)
        counts = {key: (table[key] == -1).sum() for key in keys if key in table.columns}
        found = self.warehouse.rows(table.aggregate(**counts)) if counts else [{}]
        missing = {key: count for key, count in found[0].items() if count}
        if not missing:
            return ""
        return "unknown members: " + ", ".join(f"{key} {count:,}" for key, count in missing.items())


def record_row(run_id: str, item: Planned, result: ModelResult) -> sge.Insert:
    """The model's row in ``_wk.model_runs``."""
    return state.insert(
        "model_runs",
        {
            "run_id": run_id,
            "model": item.model.id,
            "stage": item.model.stage,
            "materialization": item.model.materialization.kind,
            "rows_in": result.rows_in,
            "rows_out": result.rows_out,
            "started_at": result.started_at or state.now(),
            "duration_s": round(result.duration_s, 6),
            "status": result.status,
            "error": result.error,
            "notes": _notes(result) or None,
            "rows_quarantined": result.rows_quarantined,
            "fingerprint": result.fingerprint,
            "rows_dropped": result.rows_dropped,
            "dropped": json.dumps(result.dropped) if result.dropped else None,
            "attempt": result.attempt,
            "attempts": result.attempts,
        },
    )


def _notes(result: ModelResult) -> str:
    """The model's notes, with which attempt this was and what the ones before met."""
    if not result.retried:
        return result.note
    earlier = "; ".join(f"attempt {n}: {error}" for n, error in enumerate(result.retried, 1))
    retried = f"attempt {result.attempt} of {result.attempts} ({earlier})"
    return "; ".join(part for part in (retried, result.note) if part)


def _message(exc: Exception, node: str) -> str:
    """The error in one line, without naming the model again where it is this one."""
    if isinstance(exc, ModelError) and exc.model == node:
        return exc.message
    return str(exc) if isinstance(exc, WarehouseKitError) else first_line(exc)
