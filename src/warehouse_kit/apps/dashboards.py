"""What the marimo dashboards in ``notebooks/apps/`` show, computed here so the apps stay thin.

Each function opens the warehouse read-only for one refresh and closes it
before it returns: DuckDB lets a process write a file only while no other
process has it open, so a dashboard left up in a browser never stops a
`wk run`. While a run is writing, a refresh waits for it (up to `wait_s`)::

    from warehouse_kit.apps import dashboards

    view = dashboards.kpi_view(grain="quarter", by="category")
    view.tiles[0].value_text, view.trend, view.breakdown, view.sql["trend"]

The pipeline-health dashboard's view is in `health_dashboard`, the experiments one's in
`experiments_dashboard`.

The target comes from `target`, else ``WK_TARGET``, else ``warehouse.yml``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import ibis.expr.types as ir
import pandas as pd

from warehouse_kit.analytics import metrics, privacy
from warehouse_kit.analytics.metrics import display, summary
from warehouse_kit.analytics.metrics.layer import SemanticLayer
from warehouse_kit.apps.notebook import data_as_of, unknown_note
from warehouse_kit.core.errors import WarehouseKitError, did_you_mean
from warehouse_kit.core.project import Project

APPS = "notebooks/apps"
"""Where a project keeps its dashboard apps, one marimo file each."""
GRAINS = ("day", "week", "month", "quarter", "year")
KPIS = ("revenue", "orders", "aov", "active_customers")
BREAKDOWN_OF = {
    "segment": "customer",
    "category": "product",
    "country": "customer",
    "city": "customer",
}
"""Columns of the orders model's dimensions worth a breakdown (few values each), and the
dimension each comes from (whose unknown member a breakdown's "Unknown" group is)."""
BREAKDOWNS = tuple(BREAKDOWN_OF)
ADDS_UP = ("sum", "count")
"""The measure types whose values over a breakdown's groups add up to the whole."""
NO_VALUE = "(none)"
"""What a breakdown calls the group of facts without a value (a customer with no segment)."""

Direction = Literal["increase", "decrease"]
ProjectLike = Project | str | Path


# --- the apps -----------------------------------------------------------------


def table(
    frame: pd.DataFrame, formats: Mapping[str, str | None] | None = None, **options: Any
) -> Any:
    """`frame` as a marimo table for people: each cell as reports write it (`display.table`:
    separators, percentages, times to the second; `formats` per column), no data types
    under the headers, no selection; `options` go to ``mo.ui.table`` (``label``...)."""
    import marimo as mo  # the dashboards extra: only the apps call this

    shown: dict[str, str | Callable[..., Any]] = dict(display.cell_formats(frame, formats))
    return mo.ui.table(
        frame, selection=None, show_data_types=False, format_mapping=shown, **options
    )


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
    """The period the value is for, as text (``Dec 2024``, ``2024-Q4``)."""
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
    window: tuple[date, date] | None = None
    """[first day, day after the last) of the whole periods shown; None: all the data."""
    as_of: str = ""
    """``data as of <the last successful run's end> UTC`` (`notebook.data_as_of`)."""
    additive: frozenset[str] = frozenset()
    """The metrics whose breakdown groups add up to the whole (sums and counts)."""

    @property
    def window_note(self) -> str:
        """What the dates cover and how fresh the data is, as the dashboard says it under
        its pickers."""
        fresh = f" {self.as_of[:1].upper()}{self.as_of[1:]}." if self.as_of else ""
        if self.window is None:
            return f"All the data, by whole {self.grain}s.{fresh}"
        low, high = self.window
        last = high - timedelta(days=1)
        return (
            f"Tiles, trend and breakdown all cover whole {self.grain}s: "
            f"{low:%Y-%m-%d} to {last:%Y-%m-%d} (the dates picked, rounded out).{fresh}"
        )

    def unknown_note(self, metric: str) -> str:
        """What the breakdown's "Unknown" group is, with its share of `metric` when the
        metric adds up over the groups, as the reports say it (`notebook.unknown_note`);
        '' when the breakdown has no such group."""
        what = BREAKDOWN_OF.get(self.by, "customer")
        shared = metric if metric in self.additive else None
        return str(unknown_note(self.breakdown, self.by, shared, what=what))

    def label(self, metric: str) -> str:
        """The metric's label, as its tile shows it (``Average order value``)."""
        return next(tile.label for tile in self.tiles if tile.metric == metric)

    def format(self, metric: str) -> str | None:
        """The metric's format (``$,.2f``), for its chart's axis."""
        return next(tile.format for tile in self.tiles if tile.metric == metric)


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
    over the same range per value of `by`; one read-only connection, closed on return.

    The dates are rounded out to whole periods of `grain` for the trend, the tiles and the
    breakdown alike, so that they agree. Dates with no data raise `summary.EmptyWindow`.
    """
    layer = metrics.load(Project.of(project))
    names = list(kpis)
    bounds = summary.window(dates[0], dates[1] + timedelta(days=1), grain) if dates else None
    start, end = bounds or (None, None)
    with metrics.connect(layer.project, target, wait_s=wait_s) as warehouse:
        if bounds is not None:
            summary.require_data(names[0], bounds, layer, warehouse)
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
        trend_frame, split_frame = numbers(trend), numbers(split)
        as_of = data_as_of(warehouse)
    tiles = _tiles(layer, trend_frame, grain, names)
    split_frame[by] = split_frame[by].fillna(NO_VALUE)
    additive = frozenset(n for n in names if getattr(layer.metric(n).spec, "type", "") in ADDS_UP)
    return KpiView(grain, by, tiles, trend_frame, split_frame, sql, bounds, as_of, additive)


def _tiles(layer: SemanticLayer, trend: pd.DataFrame, grain: str, names: list[str]) -> list[Tile]:
    """A tile per metric, for the latest period of `trend`."""
    latest = trend.iloc[-1] if len(trend) else pd.Series(dtype=object)
    period = display.period_label(_day(latest.get(grain)), grain) if len(trend) else "no data"
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


# --- pipeline health ----------------------------------------------------------


def numbers(expr: ir.Table) -> pd.DataFrame:
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
