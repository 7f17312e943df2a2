"""What the pipeline-health dashboard (``notebooks/apps/pipeline_health.py``) shows: the
last runs, their checks, row counts and streams, the monitors' state and their alerts.
One read-only connection per refresh, closed before it returns (see `dashboards`)::

    from warehouse_kit.apps import health_dashboard

    health = health_dashboard.pipeline_health(runs=10)
    health.runs, health.timings, health.row_counts, health.failures, health.set_aside
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from warehouse_kit.apps.dashboards import ProjectLike, numbers
from warehouse_kit.apps.notebook import (
    RunInfo,
    find_run,
    open_warehouse,
    row_count_trend,
    run_summary,
)
from warehouse_kit.core import monitoring, state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.project import Project


@dataclass(frozen=True)
class HealthView:
    """The recent runs of the pipelines, and what the latest one did.

    Runs are labelled by their start to the second (``run``): runs seconds apart
    still read apart, where a time axis would show one day many times over."""

    latest: RunInfo
    runs: pd.DataFrame
    """The last runs, newest first: label, status, start, seconds, models built and failed,
    rows set aside (quarantined)."""
    timings: pd.DataFrame
    """Each model of the latest run: stage, status, rows and seconds (`run_summary`)."""
    row_counts: pd.DataFrame
    """Rows in each gold model after each of the runs, oldest first (`row_count_trend`)."""
    failures: pd.DataFrame
    """The checks that failed in these runs (a rejecting check), newest first."""
    warnings: pd.DataFrame
    """The checks that warned in these runs, newest first."""
    set_aside: pd.DataFrame
    """The quarantine checks that set rows aside in these runs, newest first: the checks
    doing their job, not failures."""
    streams: pd.DataFrame
    """Each partition a stream reads (none without streams): the next offset to land, the
    lag when its last batch was read, and the dead letters of these runs."""
    stream_batches: pd.DataFrame
    """Each batch of these runs that landed messages: when, which stream, how many."""
    monitors: pd.DataFrame
    """Each monitor of the project's pipelines as the run store has it now: ok, firing or
    unknown, and why (`core.monitoring`)."""
    alerts: pd.DataFrame
    """The latest alerts the monitors sent (or failed to), newest first."""

    @property
    def run_order(self) -> list[str]:
        """The runs' labels, oldest first: the order of a per-run chart's axis."""
        return list(reversed(self.runs["run"]))


RUN_COLUMNS = [
    "run", "run_id", "pipeline", "status", "started_at", "duration_s", "models", "failed",
    "rows_set_aside",
]  # fmt: skip
STREAM_COLUMNS = [
    "model", "topic", "partition", "next_offset", "lag", "dead_letters", "last_run",
]  # fmt: skip
FAILURE_COLUMNS = [
    "run_id", "model", "check", "type", "action", "status", "failing_rows", "total_rows",
    "message",
]  # fmt: skip
ALERTS_SHOWN = 50
ALERT_COLUMNS = [
    "sent_at", "pipeline", "monitor", "kind", "channel", "recipient", "status", "attempts",
    "message",
]  # fmt: skip
MONITOR_COLUMNS = ["pipeline", "monitor", "type", "status", "reason"]


def pipeline_health(
    *,
    runs: int = 10,
    pipeline: str | None = None,
    project: ProjectLike = ".",
    target: str | None = None,
    wait_s: float = 10.0,
) -> HealthView:
    """The last `runs` runs (of `pipeline`, or of any), their models and checks that did
    not pass; one read-only connection, closed on return."""
    with open_warehouse(target, project=Project.of(project), wait_s=wait_s) as warehouse:
        latest = find_run(warehouse, pipeline)
        recent = _recent_runs(warehouse, pipeline, runs)
        run_frame = _run_frame(warehouse, recent)
        labels = dict(zip(run_frame["run_id"], run_frame["run"], strict=True))
        failed, warned, set_aside = _checks_not_passed(warehouse, recent)
        return HealthView(
            latest=latest,
            runs=run_frame,
            timings=run_summary(warehouse, latest.run_id),
            row_counts=_labelled(row_count_trend(warehouse, pipeline, runs=runs), labels),
            failures=failed,
            warnings=warned,
            set_aside=set_aside,
            streams=_streams(warehouse, recent),
            stream_batches=_labelled(_stream_batches(warehouse, recent), labels),
            monitors=_monitors(project, warehouse),
            alerts=_alerts(warehouse),
        )


def _recent_runs(warehouse: Warehouse, pipeline: str | None, runs: int) -> ir.Table:
    history = state.pipeline_runs(warehouse)
    if pipeline is not None:
        history = history.filter(history.pipeline.split(",").contains(pipeline))
    return history.order_by(ibis.desc("run_id")).limit(runs)


def _run_frame(warehouse: Warehouse, recent: ir.Table) -> pd.DataFrame:
    steps = state.table(warehouse, "model_runs")
    per_run = steps.group_by("run_id").aggregate(
        models=steps.count(),
        failed=(steps.status == "failed").sum(),
        rows_set_aside=steps.rows_quarantined.sum(),
    )
    joined = recent.left_join(per_run, "run_id").select(
        "run_id", "pipeline", "status", "started_at", "finished_at", "models", "failed",
        "rows_set_aside",
    )  # fmt: skip
    frame = numbers(joined.order_by(ibis.desc("run_id")))
    # Seconds in pandas: interval arithmetic differs between engines, and there are few rows.
    seconds = (frame["finished_at"] - frame["started_at"]).dt.total_seconds()
    frame["duration_s"] = seconds.round(3)
    frame["run"] = run_labels(frame["started_at"])
    return frame[RUN_COLUMNS]


def run_labels(started: pd.Series) -> pd.Series:
    """Each run by its start to the second (the millisecond where two share a second),
    with the day when the runs span more than one."""
    one_day = started.dt.normalize().nunique() <= 1
    shape = "%H:%M:%S" if one_day else "%b %d %H:%M:%S"
    labels = started.dt.strftime(shape)
    shared = labels.duplicated(keep=False)
    labels[shared] = started[shared].dt.strftime(f"{shape}.%f").str[:-3]
    return labels


def _labelled(frame: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """`frame` with each row's run label first (``run``), from its ``run_id``."""
    return frame.assign(run=frame["run_id"].map(labels))[["run", *frame.columns]]


def _checks_not_passed(
    warehouse: Warehouse, recent: ir.Table
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The checks of these runs that failed, warned, and set rows aside as designed."""
    if not warehouse.exists("check_results", state.SCHEMA):
        empty = pd.DataFrame(columns=FAILURE_COLUMNS)
        return empty, empty.copy(), empty.copy()
    results = state.table(warehouse, "check_results").semi_join(recent, "run_id")
    shown = results.select(*FAILURE_COLUMNS)
    set_aside = (shown.action == "quarantine") & (shown.status == "fail")
    warned = shown.status == "warn"
    failed = (shown.status != "pass") & ~set_aside & ~warned

    def newest_first(rows: ir.BooleanValue) -> pd.DataFrame:
        return numbers(shown.filter(rows).order_by(ibis.desc("run_id"), "model", "check"))

    return newest_first(failed), newest_first(warned), newest_first(set_aside)


def _monitors(project: ProjectLike, warehouse: Warehouse) -> pd.DataFrame:
    states = monitoring.evaluate(load_catalog(Project.of(project)), warehouse)
    return pd.DataFrame([vars(found) for found in states], columns=MONITOR_COLUMNS)


def _alerts(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.exists("alerts", state.SCHEMA):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    alerts = state.table(warehouse, "alerts")
    return numbers(alerts.order_by(ibis.desc("sent_at")).select(*ALERT_COLUMNS).limit(ALERTS_SHOWN))


def _streams(warehouse: Warehouse, recent: ir.Table) -> pd.DataFrame:
    if not warehouse.exists("stream_offsets", state.SCHEMA):
        return pd.DataFrame(columns=STREAM_COLUMNS)
    offsets = state.table(warehouse, "stream_offsets")
    letters = state.table(warehouse, "dead_letters").semi_join(recent, "run_id")
    dead = letters.group_by("model", "topic", "partition").aggregate(dead_letters=letters.count())
    joined = offsets.left_join(dead, ["model", "topic", "partition"])
    found = joined.mutate(dead_letters=joined.dead_letters.fill_null(0), last_run=joined.run_id)
    return numbers(found.select(*STREAM_COLUMNS).order_by("model", "topic", "partition"))


def _stream_batches(warehouse: Warehouse, recent: ir.Table) -> pd.DataFrame:
    if not warehouse.exists("stream_offsets", state.SCHEMA):
        return pd.DataFrame(columns=["run_id", "started_at", "model", "messages"])
    streams = state.table(warehouse, "stream_offsets").model
    steps = state.table(warehouse, "model_runs")
    # One semi join: Ibis 12 renders a second one on PostgreSQL as LEFT SEMI JOIN.
    landed = steps.filter(steps.status == "success", steps.model.isin(streams))
    mine = landed.semi_join(recent, "run_id")
    batches = mine.select("run_id", "started_at", "model", messages=mine.rows_in)
    return numbers(batches.order_by("run_id", "model"))


# --- helpers ------------------------------------------------------------------
