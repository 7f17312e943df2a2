"""A KPI summary: each metric over a window, against the same number of periods before it.

::

    from warehouse_kit.analytics.metrics.summary import kpi_summary

    summary = kpi_summary(["revenue", "orders", "aov"], start="2024-01-01",
                          end="2025-01-01", grain="month")
    summary              # a table in a notebook; summary.frame for pandas
    summary.value("revenue")

The window is whole periods of `grain` (from the one containing `start` up to
the last that begins before `end`, as in `metrics.query`); the previous window
is as many periods right before it (12 months before a year of months). Each
metric is computed over each window as a whole, by the metrics layer: an
average order value is the window's revenue over its orders, not an average
of monthly values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from warehouse_kit.analytics import metrics as metrics_api
from warehouse_kit.analytics.metrics import periods
from warehouse_kit.analytics.metrics.display import CHANGE_FORMAT, format_value
from warehouse_kit.analytics.metrics.layer import SemanticLayer, load
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project
from warehouse_kit.core.templating import render

Window = tuple[date, date]
"""[first day, day after the last)."""


class EmptyWindow(WarehouseKitError):
    """A window with no data at all: a one-line message naming it and what the data covers."""


def window(start: date | str, end: date | str, grain: str) -> Window:
    """The whole periods of `grain` that `start` and `end` (exclusive) pick."""
    low, high = periods.floor(_day(start), grain), periods.ceil(_day(end), grain)
    if not low < high:
        raise WarehouseKitError(f"the window from {start} to {end} holds no {grain}")
    return low, high


def previous_window(current: Window, grain: str) -> Window:
    """As many periods of `grain` as `current` holds, right before it."""
    low = current[0]
    return periods.shift(low, grain, -count_periods(current, grain)), low


def count_periods(current: Window, grain: str) -> int:
    low, high = current
    count = 0
    while low < high:
        low, count = periods.shift(low, grain, 1), count + 1
    return count


@dataclass(frozen=True)
class KpiSummary:
    """Each metric over a window and the previous one, with the relative change."""

    frame: pd.DataFrame
    """A row per metric: metric, label, value, previous, change, format."""
    current: Window
    previous: Window
    grain: str

    def value(self, metric: str) -> Any:
        return self.frame.set_index("metric").loc[metric, "value"]

    def headline(self) -> str:
        periods_ = count_periods(self.current, self.grain)
        unit = self.grain if periods_ == 1 else f"{self.grain}s"
        return (
            f"{_span(self.current)} ({periods_} {unit}), "
            f"against the {periods_} before: {_span(self.previous)}"
        )

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Label, value, previous value and change, formatted."""
        return [
            (
                str(row["label"]),
                format_value(row["value"], row["format"]),
                format_value(row["previous"], row["format"]),
                format_value(row["change"], CHANGE_FORMAT),
            )
            for row in self.frame.to_dict("records")
        ]

    def __repr__(self) -> str:
        rows = [("", "value", "previous", "change"), *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = [
            "  ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            )
            for row in rows
        ]
        return "\n".join([self.headline(), *lines])

    def _repr_html_(self) -> str:
        return render("kpi_summary.html.j2", summary=self)


def kpi_summary(
    names: list[str],
    *,
    start: date | str,
    end: date | str,
    grain: str = "month",
    warehouse: Warehouse | None = None,
    project: Project | str | Path | SemanticLayer = ".",
    target: str | None = None,
) -> KpiSummary:
    """`names` over the whole periods from `start` to `end` and the as many periods before."""
    layer = project if isinstance(project, SemanticLayer) else load(project)
    current = window(start, end, grain)
    require_data(names[0], current, layer, warehouse, target)
    previous = previous_window(current, grain)
    now = _totals(names, current, layer, warehouse, target)
    before = _totals(names, previous, layer, warehouse, target)
    rows = []
    for name in names:
        spec = layer.metrics[name]
        value, old = now.get(name), before.get(name)
        rows.append(
            {
                "metric": name,
                "label": spec.label,
                "value": value,
                "previous": old,
                "change": _change(value, old),
                "format": spec.spec.format,
            }
        )
    return KpiSummary(pd.DataFrame(rows), current, previous, grain)


def data_span(
    metric: str,
    layer: SemanticLayer,
    warehouse: Warehouse | None = None,
    target: str | None = None,
) -> Window | None:
    """[first day, day after the last) with a value of `metric`; None when it has none."""
    days = metrics_api.query(metric, grain="day", warehouse=warehouse, project=layer, target=target)
    days = days.filter(days.day.notnull())
    span = days.aggregate(first=days.day.min(), last=days.day.max()).to_pyarrow().to_pylist()[0]
    if span["first"] is None:
        return None
    return _day(span["first"]), periods.shift(_day(span["last"]), "day", 1)


def require_data(
    metric: str,
    bounds: Window,
    layer: SemanticLayer,
    warehouse: Warehouse | None = None,
    target: str | None = None,
) -> Window:
    """The span of `metric`'s data; `EmptyWindow` when `bounds` holds none of it."""
    span = data_span(metric, layer, warehouse, target)
    if span is None:
        raise EmptyWindow(f"no {metric} data in the warehouse yet: run `wk run` first")
    if not (bounds[0] < span[1] and span[0] < bounds[1]):
        raise EmptyWindow(
            f"no {metric} data from {_span(bounds)}: the data covers {_span(span)}; "
            "pick start and end within it"
        )
    return span


def _totals(
    names: list[str],
    bounds: Window,
    layer: SemanticLayer,
    warehouse: Warehouse | None,
    target: str | None,
) -> dict[str, Any]:
    expr = metrics_api.query(
        names, start=bounds[0], end=bounds[1], warehouse=warehouse, project=layer, target=target
    )
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows[0] if rows else {}


def _change(value: Any, previous: Any) -> float | None:
    if value is None or previous is None or not float(previous):
        return None
    return float(value) / float(previous) - 1


def _day(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _span(bounds: Window) -> str:
    low, high = bounds
    last = date.fromordinal(high.toordinal() - 1)
    return f"{low:%Y-%m-%d} to {last:%Y-%m-%d}"
