"""Reading the run history in ``_wk``: for the CLI, notebooks and dashboards."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from warehouse_kit import state
from warehouse_kit.backends import Warehouse
from warehouse_kit.errors import WarehouseKitError


def runs(warehouse: Warehouse) -> ir.Table:
    """Every run, newest first."""
    _require_history(warehouse)
    table = state.table(warehouse, "runs")
    return table.order_by(table.run_id.desc())


def model_runs(warehouse: Warehouse, run_id: str | None = None) -> ir.Table:
    """Each model of one run (default: the latest), in the order they ran."""
    _require_history(warehouse)
    run_id = run_id or state.latest_run_id(warehouse)
    steps = state.table(warehouse, "model_runs")
    chosen = steps.filter(steps.run_id == run_id)
    if not warehouse.scalar(chosen.count()):
        raise WarehouseKitError(f"no run {run_id!r} in the history")
    return chosen.order_by(chosen.started_at, chosen.model)


def _require_history(warehouse: Warehouse) -> None:
    if not warehouse.exists("runs", state.SCHEMA):
        raise WarehouseKitError("this warehouse has no run history yet: run `wk run` first")


def check_history(warehouse: Warehouse, models: list[str], runs: int = 10) -> list[dict[str, Any]]:
    """The check results of `models` over their last `runs` runs, oldest first."""
    if not warehouse.exists("check_results", state.SCHEMA):
        return []
    results = state.table(warehouse, "check_results")
    mine = results.filter(results.model.isin(models))
    recent = mine.select("run_id").distinct().order_by(ibis.desc("run_id")).limit(runs)
    chosen = mine.semi_join(recent, "run_id").order_by("run_id", "model", "check")
    return warehouse.rows(chosen.select("run_id", "model", "check", "status", "failing_rows"))
