"""Reading the run history in ``_wk``: for the CLI, notebooks and dashboards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from warehouse_kit.core import runlock, state
from warehouse_kit.core.backends import Warehouse, WarehouseBusy, duckdb_path, engine_of
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project


def runs(warehouse: Warehouse) -> ir.Table:
    """Every run, newest first."""
    _require_history(warehouse)
    table = state.table(warehouse, "runs")
    return table.order_by(table.run_id.desc())


def model_runs(warehouse: Warehouse, run_id: str | None = None) -> ir.Table:
    """Each model of one run (default: the latest), in the order they ran."""
    _require_history(warehouse)
    run_id = run_id or state.latest_run_id(warehouse)
    recorded = state.table(warehouse, "runs")
    if not warehouse.scalar(recorded.filter(recorded.run_id == run_id).count()):
        raise WarehouseKitError(f"no run {run_id!r} in the history")
    steps = state.table(warehouse, "model_runs")
    chosen = steps.filter(steps.run_id == run_id)  # none, for a run aborted early
    return chosen.order_by(chosen.started_at, chosen.model)


def schema_versions(warehouse: Warehouse, table: str) -> list[dict[str, Any]]:
    """Every set of columns `table` (``schema.name``) has had, oldest first, each with
    its columns as (name, type) pairs and what changed from the version before."""
    _require_history(warehouse)
    if "." not in table:
        raise WarehouseKitError(f"name the table with its schema: silver.{table}, say")
    recorded = warehouse.exists("schema_versions", state.SCHEMA)
    found = warehouse.rows(state.schema_versions(warehouse, table)) if recorded else []
    if not found:
        versions = state.table(warehouse, "schema_versions") if recorded else None
        known = [] if versions is None else warehouse.rows(versions.select("table_name").distinct())
        names = [row["table_name"] for row in known]
        raise WarehouseKitError(
            f"no schema versions recorded for {table}{did_you_mean(table, names)}"
        )
    for row in found:
        row["columns"] = [tuple(pair) for pair in json.loads(row["columns"])]
    return found


def recover(project: Project | str | Path = ".", target: str | None = None) -> list[str]:
    """Mark aborted the runs whose process died before they finished, if the target is
    free right now (else a run holds it, and marks them itself); returns their ids."""
    project = Project.of(project)
    url = project.target(target)
    if engine_of(url) == "duckdb" and not Path(duckdb_path(url, project.root)).exists():
        return []  # nothing to mark, and no empty warehouse to leave behind
    try:
        with runlock.hold(url, base_dir=project.root, wait_s=0) as held:
            dead = state.running(held.warehouse)
            if dead:
                with held.warehouse.transaction() as tx:
                    state.abort(tx, dead, found_by="wk history")
            return dead
    except WarehouseBusy:
        return []


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
