"""What the marimo dashboards in ``notebooks/apps/`` show, computed here so the apps stay thin.

Each function opens the warehouse read-only for one refresh and closes it
before it returns: DuckDB lets a process write a file only while no other
process has it open, so a dashboard left up in a browser never stops a
`wk run`. While a run is writing, a refresh waits for it (up to `wait_s`)::

    from warehouse_kit.apps import dashboards

    view = dashboards.kpi_view(grain="quarter", by="category")
    view.tiles[0].value_text, view.trend, view.breakdown, view.sql["trend"]

    health = dashboards.pipeline_health(runs=10)
    health.runs, health.timings, health.row_counts, health.failures, health.set_aside

The target comes from `target`, else ``WK_TARGET``, else ``warehouse.yml``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from warehouse_kit.analytics import metrics, privacy
from warehouse_kit.analytics.metrics import display
from warehouse_kit.analytics.metrics.layer import SemanticLayer
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
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project

APPS = "notebooks/apps"
"""Where a project keeps its dashboard apps, one marimo file each."""
GRAINS = ("day", "week", "month", "quarter", "year")
KPIS = ("revenue", "orders", "aov", "active_customers")
BREAKDOWNS = ("segment", "category", "country", "city")
"""Columns of the orders model's dimensions worth a breakdown (few values each)."""
NO_VALUE = "(none)"
"""What a breakdown calls the group of facts without a value (a customer with no segment)."""

Direction = Literal["increase", "decrease"]
ProjectLike = Project | str | Path


# --- the apps -----------------------------------------------------------------


def apps(project: ProjectLike = ".") -> dict[str, Path]:
    """The project's dashboard apps by name (``kpi_dashboard`` for ``kpi_dashboard.py``)."""
    folder = Project.of(project).root / APPS
    return {path.stem: path for path in sorted(folder.glob("*.py")) if path.stem != "__init__"}


def app_path(name: str, project: ProjectLike = ".") -> Path:
    """The file of the app `name`; a one-line error listing the apps when there is none."""
    known = apps(project)
    if name not in known:
        listed = ", ".join(known) or f"none (no {APPS}/*.py)"
        hint = did_you_mean(name, known) or ";"
        raise WarehouseKitError(f"no dashboard {name!r} in {APPS}/{hint} the dashboards: {listed}")
    return known[name]


# --- KPI dashboard ------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One KPI in its latest period, with the change from the period before."""

    metric: str
    label: str
    grain: str
    period: str
    """The period the value is for, as text (``Dec 2024``, ``2024 Q4``)."""
    value: float | None
    previous: float | None
    change: float | None
    """Relative change from `previous` (0.1 is +10%); None when there is nothing to compare."""
    format: str | None

    @property
    def value_text(self) -> str:
        return display.format_value(self.value, self.format) or "n/a"

    @property
    def caption(self) -> str:
        if self.change is None:
            return f"{self.period}; nothing to compare with"
        return f"{self.period}; {self.change:+.1%} on the {self.grain} before"

    @property
    def direction(self) -> Direction | None:
        if not self.change:
            return None
        return "increase" if self.change > 0 else "decrease"


@dataclass(frozen=True)
class KpiView:
    """Everything the KPI dashboard shows for one choice of grain, dates and breakdown."""

    grain: str
    by: str
    tiles: list[Tile]
    trend: pd.DataFrame
    """A row per period (column named after the grain): each metric, its value in the
    previous period and the change."""
    breakdown: pd.DataFrame
    """A row per value of `by` over the whole date range: each metric."""
    sql: dict[str, str]
    """The SQL of the ``trend`` and ``breakdown`` queries, as the warehouse runs them."""

    def label(self, metric: str) -> str:
        """The metric's label, as its tile shows it (``Average order value``)."""
        return next(tile.label for tile in self.tiles if tile.metric == metric)


def date_span(
    project: ProjectLike = ".", target: str | None = None, *, wait_s: float = 10.0
) -> tuple[date, date]:
    """The first and last day with orders: the bounds of the dashboard's date picker."""
    layer = metrics.load(Project.of(project))
    with metrics.connect(layer.project, target, wait_s=wait_s) as warehouse:
        days = metrics.query("orders", grain="day", warehouse=warehouse, project=layer)
        days = days.filter(days.day.notnull())
        span = warehouse.rows(days.aggregate(first=days.day.min(), last=days.day.max()))[0]
    if span["first"] is None:
        raise WarehouseKitError("no orders in the warehouse yet: run `wk run` first")
    return _day(span["first"]), _day(span["last"])


def kpi_view(
    *,
    grain: str = "month",
    dates: tuple[date, date] | None = None,
    by: str = "segment",
    kpis: Sequence[str] = KPIS,
    project: ProjectLike = ".",
    target: str | None = None,
    wait_s: float = 10.0,
) -> KpiView:
    """The KPIs per `grain` period within `dates` (first and last day, both included), and
    over the whole range per value of `by`; one read-only connection, closed on return."""
    layer = metrics.load(Project.of(project))
    start, end = (dates[0], dates[1] + timedelta(days=1)) if dates else (None, None)
    names = list(kpis)
    with metrics.connect(layer.project, target, wait_s=wait_s) as warehouse:
        trend = metrics.query(
            names, grain=grain, start=start, end=end, compare="previous_period",
            warehouse=warehouse, project=layer,
        )  # fmt: skip
        trend = trend.filter(trend[grain].notnull()).order_by(grain)
        split = metrics.query(
            names, by=by, start=start, end=end, order_by=f"-{names[0]}",
            warehouse=warehouse, project=layer,
        )  # fmt: skip
        split = privacy.masked(split, privacy.personal_results(warehouse, split))  # by email
        sql = {"trend": warehouse.sql(trend), "breakdown": warehouse.sql(split)}
        trend_frame, split_frame = _numbers(trend), _numbers(split)
    tiles = _tiles(layer, trend_frame, grain, names)
    split_frame[by] = split_frame[by].fillna(NO_VALUE)
    return KpiView(grain, by, tiles, trend_frame, split_frame, sql)


def _tiles(layer: SemanticLayer, trend: pd.DataFrame, grain: str, names: list[str]) -> list[Tile]:
    """A tile per metric, for the latest period of `trend`."""
    latest = trend.iloc[-1] if len(trend) else pd.Series(dtype=object)
    period = period_label(latest.get(grain), grain) if len(trend) else "no data"
    return [
        Tile(
            metric=name,
            label=layer.metric(name).label,
            grain=grain,
            period=period,
            value=_number(latest.get(name)),
            previous=_number(latest.get(f"{name}_previous_period")),
            change=_number(latest.get(f"{name}_previous_period_change")),
            format=layer.metric(name).spec.format,
        )
        for name in names
    ]


def period_label(start: Any, grain: str) -> str:
    """A period by its first day, as people name it: ``Dec 2024``, ``2024 Q4``, ``2024``."""
    day = _day(start)
    labels = {
        "day": f"{day:%Y-%m-%d}",
        "week": f"week of {day:%Y-%m-%d}",
        "month": f"{day:%b %Y}",
        "quarter": f"{day.year} Q{(day.month - 1) // 3 + 1}",
        "year": f"{day.year}",
    }
    return labels[grain]


# --- pipeline health ----------------------------------------------------------


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
    frame = _numbers(joined.order_by(ibis.desc("run_id")))
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
        return _numbers(shown.filter(rows).order_by(ibis.desc("run_id"), "model", "check"))

    return newest_first(failed), newest_first(warned), newest_first(set_aside)


def _monitors(project: ProjectLike, warehouse: Warehouse) -> pd.DataFrame:
    states = monitoring.evaluate(load_catalog(Project.of(project)), warehouse)
    return pd.DataFrame([vars(found) for found in states], columns=MONITOR_COLUMNS)


def _alerts(warehouse: Warehouse) -> pd.DataFrame:
    if not warehouse.exists("alerts", state.SCHEMA):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    alerts = state.table(warehouse, "alerts")
    return _numbers(
        alerts.order_by(ibis.desc("sent_at")).select(*ALERT_COLUMNS).limit(ALERTS_SHOWN)
    )


def _streams(warehouse: Warehouse, recent: ir.Table) -> pd.DataFrame:
    if not warehouse.exists("stream_offsets", state.SCHEMA):
        return pd.DataFrame(columns=STREAM_COLUMNS)
    offsets = state.table(warehouse, "stream_offsets")
    letters = state.table(warehouse, "dead_letters").semi_join(recent, "run_id")
    dead = letters.group_by("model", "topic", "partition").aggregate(dead_letters=letters.count())
    joined = offsets.left_join(dead, ["model", "topic", "partition"])
    found = joined.mutate(dead_letters=joined.dead_letters.fill_null(0), last_run=joined.run_id)
    return _numbers(found.select(*STREAM_COLUMNS).order_by("model", "topic", "partition"))


def _stream_batches(warehouse: Warehouse, recent: ir.Table) -> pd.DataFrame:
    if not warehouse.exists("stream_offsets", state.SCHEMA):
        return pd.DataFrame(columns=["run_id", "started_at", "model", "messages"])
    streams = state.table(warehouse, "stream_offsets").model
    steps = state.table(warehouse, "model_runs")
    # One semi join: Ibis 12 renders a second one on PostgreSQL as LEFT SEMI JOIN.
    landed = steps.filter(steps.status == "success", steps.model.isin(streams))
    mine = landed.semi_join(recent, "run_id")
    batches = mine.select("run_id", "started_at", "model", messages=mine.rows_in)
    return _numbers(batches.order_by("run_id", "model"))


# --- helpers ------------------------------------------------------------------


def _numbers(expr: ir.Table) -> pd.DataFrame:
    """A small result as pandas; money (decimals) as floats, which charts and tiles take."""
    frame: pd.DataFrame = expr.to_pandas()
    decimals = [name for name, dtype in expr.schema().items() if dtype.is_decimal()]
    counts = [name for name, dtype in expr.schema().items() if dtype.is_integer()]
    return frame.astype({**dict.fromkeys(decimals, "float64"), **dict.fromkeys(counts, "Int64")})


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _day(value: Any) -> date:
    if isinstance(value, pd.Timestamp | datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()
