"""What each monitor finds: ok, firing or unknown, with a one-line reason.

Every monitor reads the run store only (`state`): the runs, builds, batches, check results
and stream offsets the runs recorded. Nothing here writes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.pipeline import Pipeline
from warehouse_kit.core.spec_monitoring import (
    BaseMonitor,
    FreshnessMonitor,
    PipelineFailureMonitor,
    QualityThresholdMonitor,
    StreamLagMonitor,
    VolumeMonitor,
)

Status = Literal["ok", "firing", "unknown"]


@dataclass(frozen=True)
class MonitorState:
    """A monitor's verdict. ``unknown``: not enough history to tell (neither fires nor
    resolves an incident)."""

    pipeline: str
    monitor: str
    type: str
    status: Status
    reason: str


@dataclass(frozen=True)
class _Scope:
    """What a monitor is evaluated against."""

    catalog: Catalog
    warehouse: Warehouse
    pipeline: Pipeline
    position: int | None
    """Its place in monitoring.monitors (None for one an alert implies), for errors."""
    now: datetime

    def model_id(self, name: str, key: str) -> str:
        """The id of the model `name` names, or a ConfigError pointing at the monitor."""
        try:
            return self.catalog.find(name)
        except ConfigError as exc:
            where = f"pipeline.monitoring.monitors[{self.position}].{key}"
            raise ConfigError(exc.message, file=self.pipeline.file, key_path=where) from None


def evaluate(
    catalog: Catalog, warehouse: Warehouse, *, now: datetime | None = None
) -> list[MonitorState]:
    """Every monitor of every pipeline of the catalog, as the run store has it `now`."""
    found: list[MonitorState] = []
    at = now or state.now()
    for pipeline in catalog.pipelines:
        declared = pipeline.spec.monitoring.monitors
        for index, monitor in enumerate(pipeline.spec.monitoring.all_monitors()):
            position = index if index < len(declared) else None  # the implied ones come last
            scope = _Scope(catalog, warehouse, pipeline, position, at)
            status, reason = _EVALUATORS[monitor.type](monitor, scope)
            found.append(MonitorState(pipeline.name, monitor.key, monitor.type, status, reason))
    return found


def _pipeline_failure(monitor: BaseMonitor, scope: _Scope) -> tuple[Status, str]:
    assert isinstance(monitor, PipelineFailureMonitor)
    run = state.latest_pipeline_run(scope.warehouse, scope.pipeline.name)
    if run is None:
        return "unknown", f"{scope.pipeline.name} has not run yet"
    if run["status"] == "success":
        return "ok", f"run {run['run_id']} of {scope.pipeline.name} succeeded"
    error = f": {run['error']}" if run["error"] else ""
    return "firing", f"run {run['run_id']} of {scope.pipeline.name} {run['status']}{error}"


def _quality_threshold(monitor: BaseMonitor, scope: _Scope) -> tuple[Status, str]:
    assert isinstance(monitor, QualityThresholdMonitor)
    if monitor.model is not None and monitor.max_rate is not None:
        return _quarantine_rate(scope.model_id(monitor.model, "model"), monitor.max_rate, scope)
    models = (
        [scope.model_id(monitor.model, "model")]
        if monitor.model is not None
        else [model.id for model in scope.pipeline.models]
    )
    run_id, failed = state.latest_check_failures(scope.warehouse, models)
    what = models[0] if monitor.model is not None else scope.pipeline.name
    if run_id is None:
        return "unknown", f"no checks of {what} have run yet"
    if not failed:
        return "ok", f"every check of {what} passed in run {run_id}"
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return "firing", (
        f"{first['model']}: check {first['check']} failed in run {run_id} "
        f"on {first['failing_rows'] or 0} rows{more}"
    )


def _quarantine_rate(model: str, limit: float, scope: _Scope) -> tuple[Status, str]:
    latest = state.builds(scope.warehouse, model, 1)
    if not latest:
        return "unknown", f"{model} has not been built yet"
    build = latest[0]
    quarantined, rows_in = build["rows_quarantined"] or 0, build["rows_in"] or 0
    rate = quarantined / rows_in if rows_in else 0.0
    figures = (
        f"{model} quarantined {quarantined:,} of {rows_in:,} rows ({rate:.1%}) "
        f"in run {build['run_id']}, limit {limit:.1%}"
    )
    return ("firing" if rate > limit else "ok"), figures


def _freshness(monitor: BaseMonitor, scope: _Scope) -> tuple[Status, str]:
    assert isinstance(monitor, FreshnessMonitor)
    if monitor.table is not None:
        model = scope.model_id(monitor.table, "table")
        built = state.builds(scope.warehouse, model, 1)
        if not built:
            return "unknown", f"{model} has not been built yet"
        return _age(f"{model} was last built", built[0]["started_at"], monitor.max_age, scope.now)
    models = [m.id for m in scope.catalog.graph.models.values() if m.source == monitor.source]
    if not models:
        where = f"pipeline.monitoring.monitors[{scope.position}].source"
        raise ConfigError(
            f"no source called {monitor.source!r} lands tables",
            file=scope.pipeline.file,
            key_path=where,
        )
    loads = state.latest_loads(scope.warehouse, models)
    never = [m for m in models if m not in loads]
    if never:
        return "unknown", f"{never[0]} of source {monitor.source} has not landed a batch yet"
    stalest = min(loads, key=lambda m: loads[m])
    subject = f"{stalest} (source {monitor.source}) last landed a batch"
    return _age(subject, loads[stalest], monitor.max_age, scope.now)


def _age(subject: str, at: datetime, limit: timedelta, now: datetime) -> tuple[Status, str]:
    age = now - at
    text = f"{subject} {_duration(age)} ago ({at:%Y-%m-%d %H:%M:%S} UTC), limit {_duration(limit)}"
    return ("firing" if age > limit else "ok"), text


def _duration(span: timedelta) -> str:
    """``2d 3h``, ``5h 10m``, ``42s``: two units at most."""
    seconds = max(int(span.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value][:2]
    return " ".join(shown) or "0s"


def _volume(monitor: BaseMonitor, scope: _Scope) -> tuple[Status, str]:
    assert isinstance(monitor, VolumeMonitor)
    model = scope.model_id(monitor.model, "model")
    if scope.catalog.graph.models[model].materialization.kind == "view":
        raise ConfigError(
            f"{model} is a view: its builds count no rows, so there is no volume to watch "
            "(watch a table it reads, or make it materialized: table)",
            file=scope.pipeline.file,
            key_path=f"pipeline.monitoring.monitors[{scope.position}].model",
        )
    history = state.builds(scope.warehouse, model, monitor.last + 1)
    if not history:
        return "unknown", f"{model} has not been built yet"
    rows = int(history[0]["rows_out"] or 0)
    low: float | None
    high: float | None
    if monitor.range is not None:
        low, high = monitor.range.min, monitor.range.max
        shown = f"{low if low is not None else ''}..{high if high is not None else ''}"
    else:
        before = [int(build["rows_out"] or 0) for build in history[1:]]
        if len(before) < monitor.min_runs:
            return "unknown", (
                f"{model}: {len(before)} earlier builds, {monitor.min_runs} needed for a verdict"
            )
        mean, spread = statistics.fmean(before), statistics.stdev(before)
        low, high = mean - monitor.sd * spread, mean + monitor.sd * spread
        shown = (
            f"{low:,.0f}..{high:,.0f} (mean {mean:,.0f} +- {monitor.sd:g} sd of "
            f"{spread:,.1f} over {len(before)} builds)"
        )
    outside = (low is not None and rows < low) or (high is not None and rows > high)
    verdict = "outside" if outside else "within"
    text = f"{model} has {rows:,} rows after run {history[0]['run_id']}, {verdict} {shown}"
    return ("firing" if outside else "ok"), text


def _stream_lag(monitor: BaseMonitor, scope: _Scope) -> tuple[Status, str]:
    assert isinstance(monitor, StreamLagMonitor)
    mine = {model.id for model in scope.pipeline.models}
    lags = {m: lag for m, lag in state.stream_lags(scope.warehouse).items() if m in mine}
    if monitor.model is not None:
        model = scope.model_id(monitor.model, "model")
        lags = {model: lags[model]} if model in lags else {}
        if not lags:
            return "unknown", f"{model} has not landed a stream batch yet"
    if not lags:
        return "unknown", "no stream has landed a batch yet"
    worst = max(lags, key=lambda m: lags[m])
    figures = f"{worst} lags {lags[worst]:,} messages behind the broker, limit {monitor.max_lag:,}"
    return ("firing" if lags[worst] > monitor.max_lag else "ok"), figures


_EVALUATORS: dict[str, Callable[[BaseMonitor, _Scope], tuple[Status, str]]] = {
    "pipeline_failure": _pipeline_failure,
    "quality_threshold": _quality_threshold,
    "freshness": _freshness,
    "volume": _volume,
    "stream_lag": _stream_lag,
}
