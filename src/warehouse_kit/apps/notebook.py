"""Helpers that notebooks call, so that notebooks stay thin.

A notebook opens the warehouse for one cell at a time, read-only, and closes
it again (DuckDB lets one process write only while nobody else has the file
open)::

    from warehouse_kit.apps.notebook import open_warehouse, find_run, run_summary

    with open_warehouse(target) as warehouse:
        run = find_run(warehouse, "retail_pipeline")
        summary = run_summary(warehouse, run.run_id)

Every function here computes in the warehouse and returns a small pandas
frame: a row per model, check or run, never a row per fact.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from warehouse_kit.analytics import privacy
from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse, redact
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project
from warehouse_kit.core.quality.evaluate import FAILED_CHECKS
from warehouse_kit.core.templating import Prose, render

SUMMARY_COLUMNS = [
    "model",
    "stage",
    "materialization",
    "status",
    "rows_in",
    "rows_out",
    "rows_quarantined",
    "rows_dropped",
    "duration_s",
    "notes",
    "error",
]
CHECK_COLUMNS = ["model", "check", "type", "action", "status", "failing_rows", "total_rows"]


def open_warehouse(
    target: str | None = None, *, project: Project | str | Path = ".", wait_s: float = 10.0
) -> AbstractContextManager[Warehouse]:
    """The project's warehouse (or `target`), open read-only for a `with` block only.

    Raises a one-line `WarehouseKitError` saying "run `wk run` first" when
    nothing has been built there yet. While a pipeline holds a DuckDB file,
    retries for up to `wait_s` seconds.
    """
    __tracebackhide__ = True  # IPython shows the error at the notebook's line, not here
    project = Project.of(project)
    try:
        warehouse = project.connect(target, read_only=True, wait_s=wait_s)
    except WarehouseKitError as exc:
        raise exc.with_traceback(None) from None  # the message says it all
    if not warehouse.exists("runs", state.SCHEMA):
        warehouse.close()
        raise WarehouseKitError(
            f"no warehouse built at {redact(warehouse.url)} yet: run `wk run` first"
        )
    return closing(warehouse)


@dataclass(frozen=True)
class RunInfo:
    """One pipeline run from ``_wk.runs``."""

    run_id: str
    pipeline: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None

    def __str__(self) -> str:
        pipelines = " and ".join(self.pipeline.split(","))  # a run of several: "a,b"
        status = f"run {self.run_id} of {pipelines}: {self.status}"
        status += f": {self.error}" if self.error else ""
        started = f"started {self.started_at:%Y-%m-%d %H:%M:%S} UTC"
        if self.finished_at is None:
            return f"{status}\n{started}, not finished"
        took = (self.finished_at - self.started_at).total_seconds()
        return f"{status}\n{started}, took {took:,.1f} s"

    def __repr__(self) -> str:  # a notebook's text view: what people read, not the fields
        return str(self)

    def _repr_html_(self) -> str:
        return render("run_info.html.j2", lines=str(self).splitlines())


def data_as_of(warehouse: Warehouse, pipeline: str | None = None) -> str:
    """ "data as of <finish time of the last successful run> UTC", for a report's title."""
    runs = state.pipeline_runs(warehouse)
    done = runs.filter(runs.status == "success")
    if pipeline is not None:
        done = done.filter(_runs_of(done, pipeline))
    latest = warehouse.rows(done.aggregate(finished=done.finished_at.max()))[0]["finished"]
    if latest is None:
        return "no successful run yet"
    return f"data as of {latest:%Y-%m-%d %H:%M} UTC"


def unknown_note(
    frame: pd.DataFrame,
    by: str,
    value: str | None,
    *,
    unknown: str = "Unknown",
    what: str = "customer",
) -> Prose:
    """One line explaining the `unknown` group of a breakdown (facts pointing to the unknown
    member of the dimension, key -1) with its share of `value` (None: a value whose groups
    do not add up, such as an average: no share); '' when there is no such group.
    A notebook shows it as prose."""
    rows = frame[frame[by] == unknown]
    if rows.empty:
        return Prose("")
    note = (
        f"{unknown}: sales whose {what} was not found in the {what} dimension when they were "
        "loaded (the dimension's unknown member, key -1)"
    )
    total = frame[value].astype(float).sum() if value else 0
    if not total:
        return Prose(f"{note}.")
    share = float(rows[value].astype(float).sum()) / total
    return Prose(f"{note}: {share:.1%} of {value}.")


def find_run(
    warehouse: Warehouse, pipeline: str | None = None, run_id: str | None = None
) -> RunInfo:
    """A run by id, or the latest run of `pipeline` (of any pipeline when None; runs of
    ``wk check`` build nothing and are never the latest)."""
    if run_id is not None:
        runs = state.table(warehouse, "runs")
        chosen = runs.filter(runs.run_id == run_id)
    else:
        runs = state.pipeline_runs(warehouse)
        mine = runs if pipeline is None else runs.filter(_runs_of(runs, pipeline))
        chosen = mine.filter(mine.run_id == mine.run_id.max())
    found = warehouse.rows(chosen.select(*RunInfo.__dataclass_fields__))
    if not found:
        raise WarehouseKitError(_no_run_message(warehouse, pipeline, run_id))
    return RunInfo(**found[0])


def _runs_of(runs: ir.Table, pipeline: str) -> ir.BooleanValue:
    # A run of several pipeline files records their names joined by commas.
    return runs.pipeline.split(",").contains(pipeline)


def _no_run_message(warehouse: Warehouse, pipeline: str | None, run_id: str | None) -> str:
    runs = state.pipeline_runs(warehouse)
    if run_id is not None:
        latest = warehouse.rows(runs.select("run_id").order_by(ibis.desc("run_id")).limit(3))
        ids = ", ".join(row["run_id"] for row in latest) or "none"
        return f"no run {run_id!r} in the history; the latest runs are: {ids}"
    names = {
        name
        for row in warehouse.rows(runs.select("pipeline").distinct())
        for name in (row["pipeline"] or "").split(",")
    }
    known = ", ".join(sorted(names)) or "none"
    hint = did_you_mean(pipeline or "", names)
    return f"no run of pipeline {pipeline!r} yet{hint} pipelines in the history: {known}"


def run_summary(warehouse: Warehouse, run_id: str) -> pd.DataFrame:
    """Each model of a run, in the order they ran: status, rows in, out, quarantined and
    dropped, seconds, notes."""
    steps = state.table(warehouse, "model_runs")
    chosen = steps.filter(steps.run_id == run_id).order_by("started_at", "model")
    frame = _frame(chosen.select(*SUMMARY_COLUMNS))
    return frame.fillna({"notes": "", "error": ""})  # most models have neither


def quality_results(warehouse: Warehouse, run_id: str) -> pd.DataFrame:
    """Every check a run evaluated: its status and failing rows."""
    if not warehouse.exists("check_results", state.SCHEMA):
        return pd.DataFrame(columns=CHECK_COLUMNS)
    results = state.table(warehouse, "check_results")
    chosen = results.filter(results.run_id == run_id).order_by("model", "check")
    return _frame(chosen.select(*CHECK_COLUMNS))


def quarantined(warehouse: Warehouse, run_id: str) -> pd.DataFrame:
    """The models of a run that set rows aside, with how many and where they went."""
    steps = state.table(warehouse, "model_runs")
    chosen = steps.filter((steps.run_id == run_id) & (steps.rows_quarantined > 0))
    chosen = chosen.mutate(quarantine_table=chosen.model + "__quarantine")
    return _frame(chosen.select("model", "rows_quarantined", "quarantine_table").order_by("model"))


def quarantine_samples(
    warehouse: Warehouse, run_id: str, *, limit: int = 3, unmask: bool = False
) -> dict[str, pd.DataFrame]:
    """A few rows each quarantine table received in the run, by table, personal columns
    masked (`analytics.privacy`) unless `unmask` (`wk report --unmask` records it)."""
    samples = {}
    for row in quarantined(warehouse, run_id).itertuples():
        schema, name = str(row.quarantine_table).split(".", 1)
        if not warehouse.exists(name, schema):
            continue
        table = warehouse.table(name, schema)
        if not unmask:
            table = privacy.masked(table, privacy.personal_columns(warehouse, schema, name))
        if "_wk_run_id" in table.columns:
            table = table.filter(table._wk_run_id == run_id)
        kept = [c for c in table.columns if c not in _LOAD_COLUMNS]
        chosen = table.select(*kept).order_by(kept[0]).limit(limit)  # the same rows each time
        if FAILED_CHECKS in kept:
            chosen = chosen.rename(failed_checks=FAILED_CHECKS)
        samples[f"{schema}.{name}"] = _frame(chosen)
    return samples


_LOAD_COLUMNS = ("_loaded_at", "_source", "_batch_id", "_wk_run_id")


def row_count_trend(
    warehouse: Warehouse, pipeline: str | None = None, *, runs: int = 10, stage: str = "gold"
) -> pd.DataFrame:
    """Rows in each `stage` model after each of the pipeline's last `runs` runs, oldest first
    (a model up to date in a run is there too: its table kept its rows)."""
    history = state.pipeline_runs(warehouse)
    if pipeline is not None:
        history = history.filter(_runs_of(history, pipeline))
    recent = history.order_by(ibis.desc("run_id")).limit(runs)
    recent = recent.select("run_id", run_started_at="started_at")
    steps = state.table(warehouse, "model_runs")
    mine = steps.filter((steps.stage == stage) & steps.status.isin(("success", "up_to_date")))
    joined = mine.join(recent, "run_id").select("run_id", "run_started_at", "model", "rows_out")
    return _frame(joined.order_by("run_id", "model"))


def gold_tables(warehouse: Warehouse, schema: str = "gold") -> pd.DataFrame:
    """Each table of a schema with its row and column counts (one query)."""
    names = sorted(warehouse.con.list_tables(database=schema))
    if not names:
        return pd.DataFrame({"table": [], "rows": [], "columns": []})
    counts = [
        table.aggregate(rows=table.count()).mutate(
            table=ibis.literal(name), columns=ibis.literal(len(table.columns), "int64")
        )
        for name, table in ((name, warehouse.table(name, schema)) for name in names)
    ]
    return _frame(ibis.union(*counts).select("table", "rows", "columns").order_by("table"))


def _frame(expr: ir.Table) -> pd.DataFrame:
    """A small result as pandas, counts as integers even where some are NULL."""
    frame: pd.DataFrame = expr.to_pandas()
    counts = [name for name, dtype in expr.schema().items() if dtype.is_integer()]
    return frame.astype(dict.fromkeys(counts, "Int64"))
