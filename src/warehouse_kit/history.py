"""Reading the run history in ``_wk``: for the CLI, notebooks and dashboards."""

from __future__ import annotations

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
