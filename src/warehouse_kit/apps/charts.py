"""Altair chart builders shared by notebooks, reports and dashboards.

Charts take data the warehouse has already aggregated (a row per month,
category or model), as a pandas frame or a pyarrow table, never raw fact
rows: a builder refuses more than `MAX_ROWS` rows.

Call `enable()` once at the top of a notebook: it switches on the house
theme and renders charts as inline SVG (through vl-convert), so they show in
JupyterLab and in exported HTML without loading anything from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import altair as alt
import pandas as pd

from warehouse_kit.analytics.metrics import display

THEME = "warehouse_kit"
MAX_ROWS = 5000
"""More rows than this is not an aggregate: aggregate in the warehouse first."""

PALETTE = ["#1f5f8b", "#e07a1f", "#3a9a5b", "#c0392b", "#7d5ba6", "#8c6d46", "#d35d9b", "#7f8c8d"]
STAGE_COLORS = {"bronze": "#b07d3a", "silver": "#8e9aa6", "gold": "#d4a017"}
WIDTH = 560
PANEL_WIDTH, PANEL_COLUMNS = 150, 4
"""Small multiples: each panel's width, and panels per row (about `WIDTH` * 1.2 in all)."""


@alt.theme.register(THEME, enable=False)
def theme() -> alt.theme.ThemeConfig:
    """One look for every chart: quiet axes, a fixed palette, readable titles."""
    font = "Helvetica, Arial, sans-serif"
    return {
        "config": {
            "font": font,
            "view": {"continuousWidth": WIDTH, "continuousHeight": 260, "stroke": None},
            "title": {"anchor": "start", "fontSize": 14, "fontWeight": "bold"},
            "axis": {"labelFontSize": 11, "titleFontSize": 12, "gridColor": "#e6e6e6"},
            "legend": {"labelFontSize": 11, "titleFontSize": 12},
            "range": {"category": PALETTE},
            "line": {"strokeWidth": 2},
            "bar": {"color": PALETTE[0]},
        }
    }


def enable(renderer: str = "svg") -> None:
    """Use the house theme and render charts as inline `renderer` output (svg or png)."""
    alt.theme.enable(THEME)
    alt.renderers.enable(renderer)


def time_series(
    data: Any,
    *,
    x: str,
    y: str,
    color: str | None = None,
    title: str | None = None,
    time_format: str | None = None,
    grain: str | None = None,
    y_format: str | None = None,
    y_title: str | None = None,
) -> alt.Chart:
    """A measure over time: one line (with points) per `color` value.

    With `grain` (``month``, ``quarter``...), `x` holds the first day of each period and
    the axis names the periods as people do (``Jul 2024``, ``2024-Q3``). Otherwise
    `time_format` (d3's, e.g. ``"%b %d %H:%M"``) labels a time axis; by default
    the labels follow the span of the data. `y_format` is a metric's format
    (``$,.2f``, ``.1%``) for the y axis and the tooltips.

    Rows without an `x` (facts on the date dimension's unknown member) have no place on
    the axis and are left out, rather than drawn at a period named "null".
    """
    frame = _aggregated(data, x, y, *([color] if color else []))
    frame = frame[frame[x].notna()]
    if grain is not None:
        order = sorted(frame[x].dropna().unique())
        names = {day: display.period_label(day, grain) for day in order}
        frame = frame.assign(**{x: frame[x].map(names)})
        x_encoding = alt.X(
            f"{x}:O", sort=[names[day] for day in order], title=_label(x),
            axis=alt.Axis(labelAngle=0 if len(order) <= 6 else -45),  # a year of months overlaps
        )  # fmt: skip
    else:
        axis = alt.Axis(format=time_format, labelAngle=0) if time_format else alt.Undefined
        x_encoding = alt.X(f"{x}:{_x_type(frame[x])}", title=_label(x), axis=axis)
    d3 = _d3(y_format)
    encoding: dict[str, Any] = {
        "x": x_encoding,
        "y": alt.Y(
            y, title=y_title or _label(y), axis=alt.Axis(format=d3) if d3 else alt.Undefined
        ),
        "tooltip": [
            alt.Tooltip(column, format=y_format) if column == y and y_format else column
            for column in frame.columns
        ],
    }
    if color:
        encoding["color"] = alt.Color(color, title=_label(color))
    return _titled(alt.Chart(frame).mark_line(point=True).encode(**encoding), title)


def per_run(
    data: Any,
    *,
    y: str,
    runs: Sequence[str],
    run: str = "run",
    color: str | None = None,
    panels: str | None = None,
    title: str | None = None,
) -> alt.Chart | alt.FacetChart:
    """A measure per run, the runs in the order of `runs` along x, each by its label.

    Runs a few seconds apart stay apart and legible (a time axis would label one
    day many times over). With `panels` (a column, such as ``model``), one small
    chart per value, each with its own y scale: a table a thousand times larger
    than the others no longer flattens them.
    """
    frame = _aggregated(data, run, y, *[name for name in (color, panels) if name])
    x = alt.X(f"{run}:O", sort=list(runs), title=_label(run), axis=alt.Axis(labelAngle=-30))
    encoding: dict[str, Any] = {"x": x, "y": alt.Y(f"{y}:Q", title=_label(y))}
    encoding["tooltip"] = [run, alt.Tooltip(f"{y}:Q", format=",")]
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=_label(color))
    chart = alt.Chart(frame).mark_line(point=True).encode(**encoding)
    if panels is None:
        return _titled(chart, title)
    small = chart.properties(width=PANEL_WIDTH, height=130)
    grid = small.facet(facet=alt.Facet(f"{panels}:N", title=None), columns=PANEL_COLUMNS)
    grid = grid.resolve_scale(y="independent")
    return grid.properties(title=title) if title else grid


def bar(
    data: Any,
    *,
    category: str,
    value: str,
    color: str | None = None,
    title: str | None = None,
    value_format: str | None = None,
    value_title: str | None = None,
) -> alt.Chart:
    """A value per category, as horizontal bars, largest first; `value_format` is the
    value's format (``$,.2f``) on the axis and in the tooltips."""
    frame = _aggregated(data, category, value, *([color] if color else []))
    d3 = _d3(value_format)
    axis = alt.Axis(format=d3) if d3 else alt.Undefined
    encoding: dict[str, Any] = {
        "y": alt.Y(f"{category}:N", sort="-x", title=_label(category)),
        "x": alt.X(f"{value}:Q", title=value_title or _label(value), axis=axis),
        "tooltip": [
            alt.Tooltip(column, format=value_format) if column == value and value_format else column
            for column in frame.columns
        ],
    }
    if color:
        encoding["color"] = alt.Color(f"{color}:N", title=_label(color))
    return _titled(alt.Chart(frame).mark_bar().encode(**encoding), title)


def stage_timings(data: Any, *, title: str | None = "Seconds per model") -> alt.Chart:
    """How long each model of a run took, in run order, coloured by stage.

    `data` has columns ``model``, ``stage`` and ``duration_s``, a row per model
    (what `warehouse_kit.apps.notebook.run_summary` returns).
    """
    frame = _aggregated(data, "model", "stage", "duration_s")
    stages = list(dict.fromkeys(frame["stage"]))
    colors = [STAGE_COLORS.get(stage, PALETTE[i % len(PALETTE)]) for i, stage in enumerate(stages)]
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("model:N", sort=list(frame["model"]), title=None),
            x=alt.X("duration_s:Q", title="seconds"),
            color=alt.Color("stage:N", scale=alt.Scale(domain=stages, range=colors)),
            tooltip=["model", "stage", alt.Tooltip("duration_s:Q", format=".3f")],
        )
    )
    return _titled(chart, title)


def _aggregated(data: Any, *columns: str) -> pd.DataFrame:
    """`data` as a pandas frame with `columns`, checked to be small."""
    frame = data if isinstance(data, pd.DataFrame) else _to_pandas(data)
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns))
        raise ValueError(f"no column {', '.join(missing)} in the data; its columns: {have}")
    if len(frame) > MAX_ROWS:
        raise ValueError(
            f"{len(frame):,} rows is more than a chart of aggregates needs (at most {MAX_ROWS:,}): "
            "aggregate in the warehouse first"
        )
    return _plain_numbers(frame.reset_index(drop=True))


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Decimal columns (money, from the warehouse) as floats, which a chart can serialize."""
    decimals = [name for name in frame.columns if isinstance(_first(frame[name]), Decimal)]
    return frame.astype(dict.fromkeys(decimals, "float64")) if decimals else frame


def _x_type(values: pd.Series) -> str:
    """Temporal for dates and times (also as Python dates), else what the values are."""
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(_first(values), date):
        return "T"
    return "Q" if pd.api.types.is_numeric_dtype(values) else "O"


def _first(values: pd.Series) -> Any:
    present = values.dropna()
    return present.iloc[0] if len(present) else None


def _to_pandas(data: Any) -> pd.DataFrame:
    if not hasattr(data, "to_pandas"):  # a pyarrow Table has it
        raise TypeError(
            f"charts take a pandas DataFrame or a pyarrow Table, not {type(data).__name__}"
        )
    frame: pd.DataFrame = data.to_pandas()
    return frame


def _titled(chart: alt.Chart, title: str | None) -> alt.Chart:
    return chart.properties(title=title, width=WIDTH) if title else chart.properties(width=WIDTH)


def _d3(spec: str | None) -> str | None:
    """A metric's format for an axis: d3 reads ``$,.2f`` as Python does (``$`` is its
    currency option); ticks are round numbers, so no cents."""
    if not spec:
        return None
    symbol, plain = display.split_currency(spec)
    return f"{'$' if symbol == '$' else ''}{plain.replace('.2f', '.0f')}"


def _label(column: str) -> str:
    return column.replace("_", " ")


def lift_forest(
    data: Any,
    *,
    lift: str = "relative",
    label: str = "metric",
    title: str | None = "Lift against control",
) -> alt.LayerChart:
    """Each comparison's lift as a point with its interval, against a rule at 0.

    `data` has a row per comparison with columns `label`, `lift`,
    ``<lift>_ci_low``, ``<lift>_ci_high`` and ``verdict`` (what
    `ExperimentResult.to_frame` returns); rows without an interval are left out
    and open bounds are drawn to the edge of the others.
    """
    low, high = f"{lift}_ci_low", f"{lift}_ci_high"
    frame = _lifts(_aggregated(data, label, lift, low, high, "verdict"), lift, low, high)
    percent = lift == "relative"
    axis = alt.Axis(format="+%" if percent else "+~g")
    y = alt.Y(f"{label}:N", sort=list(dict.fromkeys(frame[label])), title=None)
    base = alt.Chart(frame).encode(y=y)
    verdicts = ["better", "inconclusive", "worse"]
    color = alt.Color(
        "verdict:N", scale=alt.Scale(domain=verdicts, range=[PALETTE[2], "#7f8c8d", PALETTE[3]])
    )
    tooltip = [label, alt.Tooltip(f"{lift}:Q", format=".3~g"), low, high, "verdict"]
    interval = base.mark_rule(strokeWidth=2).encode(
        x=alt.X(f"{low}:Q", title=f"{_label(lift)} lift", axis=axis), x2=f"{high}:Q", color=color
    )
    point = base.mark_point(filled=True, size=80).encode(
        x=f"{lift}:Q", color=color, tooltip=tooltip
    )
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#333", strokeDash=[4, 3])
    return _layered([zero.encode(x="zero:Q"), interval, point], title)


def cumulative_lift(
    data: Any,
    *,
    x: str = "day",
    lift: str = "relative",
    title: str | None = "Lift as of each day",
) -> alt.LayerChart:
    """A lift over time with its interval as a band (the sequential engine's are valid at
    every day), against a rule at 0.

    `data` has a row per day with columns `x`, `lift`, ``<lift>_ci_low`` and
    ``<lift>_ci_high`` (one metric and variant of `experiments.cumulative`);
    days without an interval yet are left out.
    """
    low, high = f"{lift}_ci_low", f"{lift}_ci_high"
    frame = _lifts(_aggregated(data, x, lift, low, high), lift, low, high)
    if isinstance(_first(frame[x]), date):  # Python dates: a chart serializes timestamps
        frame[x] = pd.to_datetime(frame[x])
    axis = alt.Axis(format="+%" if lift == "relative" else "+~g")
    kind = _x_type(frame[x])
    labels = alt.Axis(labelAngle=0, format="%b %d") if kind == "T" else alt.Axis(labelAngle=0)
    x_encoding = alt.X(f"{x}:{kind}", title=_label(x), axis=labels)
    base = alt.Chart(frame).encode(x=x_encoding)
    band = base.mark_area(opacity=0.25, color=PALETTE[0]).encode(
        y=alt.Y(f"{low}:Q", title=f"{_label(lift)} lift", axis=axis), y2=f"{high}:Q"
    )
    tooltip = [x, alt.Tooltip(f"{lift}:Q", format=".3~g"), low, high]
    line = base.mark_line(point=True, color=PALETTE[0]).encode(y=f"{lift}:Q", tooltip=tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#333", strokeDash=[4, 3])
    return _layered([band, line, zero.encode(y="zero:Q")], title)


def _layered(layers: list[alt.Chart], title: str | None) -> alt.LayerChart:
    chart = alt.LayerChart(layer=layers).properties(width=WIDTH)
    return chart.properties(title=title) if title else chart


def _lifts(frame: pd.DataFrame, lift: str, low: str, high: str) -> pd.DataFrame:
    """Rows that have a lift and an interval; open (infinite) bounds clipped to the others."""
    kept = frame.dropna(subset=[lift, low, high]).astype({lift: float, low: float, high: float})
    bounds = pd.concat([kept[low], kept[high], kept[lift]])
    finite = bounds[bounds.abs() != float("inf")]
    edge_low, edge_high = (finite.min(), finite.max()) if len(finite) else (0.0, 0.0)
    return kept.assign(
        **{low: kept[low].clip(lower=edge_low), high: kept[high].clip(upper=edge_high)}
    )
