"""Chart builders: the encodings they promise, the house theme, and rendering offline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import altair as alt
import pandas as pd
import pyarrow as pa
import pytest

from warehouse_kit.apps import charts

RUNS = pd.DataFrame(
    {
        "run_started_at": pd.to_datetime(["2026-01-01 06:00", "2026-01-01 12:00"] * 2),
        "model": ["gold.a", "gold.a", "gold.b", "gold.b"],
        "rows_out": [10, 12, 100, 90],
    }
)
SUMMARY = pd.DataFrame(
    {
        "model": ["bronze.x", "silver.x", "gold.y", "gold.x"],
        "stage": ["bronze", "silver", "gold", "gold"],
        "duration_s": [0.5, 1.25, 0.1, 2.0],
    }
)


@pytest.fixture
def offline_charts() -> Iterator[None]:
    """charts.enable() for one test; altair's global settings are restored afterwards."""
    theme, renderer = alt.theme.active, alt.renderers.active
    charts.enable()
    yield
    alt.theme.enable(theme)
    alt.renderers.enable(renderer)


def test_a_time_series_draws_a_line_per_series_over_time():
    spec = charts.time_series(
        RUNS, x="run_started_at", y="rows_out", color="model", title="Rows"
    ).to_dict()
    assert spec["mark"] == {"type": "line", "point": True}
    assert spec["encoding"]["x"]["field"] == "run_started_at"
    assert spec["encoding"]["x"]["type"] == "temporal"
    assert spec["encoding"]["y"] == {
        "field": "rows_out",
        "type": "quantitative",
        "title": "rows out",
    }
    assert spec["encoding"]["color"]["field"] == "model"
    assert spec["title"] == "Rows"


def test_a_time_axis_can_have_its_own_labels():
    spec = charts.time_series(RUNS, x="run_started_at", y="rows_out", time_format="%H:%M")
    assert spec.to_dict()["encoding"]["x"]["axis"] == {"format": "%H:%M", "labelAngle": 0}


def test_python_dates_are_a_time_axis_too():
    months = pd.DataFrame({"month": [date(2024, 1, 1), date(2024, 2, 1)], "revenue": [1.0, 2.0]})
    spec = charts.time_series(months, x="month", y="revenue").to_dict()
    assert spec["encoding"]["x"]["type"] == "temporal"
    assert "color" not in spec["encoding"]


def test_a_bar_chart_puts_the_largest_category_first():
    data = pd.DataFrame({"category": ["Toys", "Books"], "revenue": [5.0, 9.0]})
    spec = charts.bar(data, category="category", value="revenue").to_dict()
    assert spec["mark"] == {"type": "bar"}
    assert spec["encoding"]["y"]["field"] == "category"
    assert spec["encoding"]["y"]["sort"] == "-x"
    assert spec["encoding"]["x"]["field"] == "revenue"


def test_money_from_the_warehouse_becomes_plain_numbers():
    data = pa.table({"category": ["Toys", "Books"], "revenue": [Decimal("5.10"), Decimal("9.25")]})
    chart = charts.bar(data, category="category", value="revenue")
    values = next(iter(chart.to_dict()["datasets"].values()))
    assert values == [{"category": "Toys", "revenue": 5.1}, {"category": "Books", "revenue": 9.25}]


def test_stage_timings_keep_the_run_order_and_colour_each_stage():
    spec = charts.stage_timings(SUMMARY).to_dict()
    assert spec["encoding"]["y"]["sort"] == ["bronze.x", "silver.x", "gold.y", "gold.x"]
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["bronze", "silver", "gold"]
    assert scale["range"] == [charts.STAGE_COLORS[s] for s in ("bronze", "silver", "gold")]
    assert spec["title"] == "Seconds per model"


def test_charts_refuse_rows_that_are_not_aggregated():
    facts = pd.DataFrame({"category": ["x"] * (charts.MAX_ROWS + 1), "amount": 1.0})
    with pytest.raises(ValueError, match="aggregate in the warehouse first"):
        charts.bar(facts, category="category", value="amount")


def test_a_missing_column_is_named_with_the_columns_there_are():
    with pytest.raises(ValueError, match=r"no column duration_s in the data; its columns: model"):
        charts.stage_timings(pd.DataFrame({"model": ["a"], "stage": ["gold"]}))


def test_charts_take_pandas_or_pyarrow_only():
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        charts.bar([{"category": "x", "revenue": 1}], category="category", value="revenue")


def test_enable_applies_the_house_theme(offline_charts):
    spec = charts.bar(
        pd.DataFrame({"category": ["a"], "revenue": [1.0]}), category="category", value="revenue"
    ).to_dict()
    assert spec["config"]["range"]["category"] == charts.PALETTE
    assert spec["config"]["font"].startswith("Helvetica")


def test_enabled_charts_render_as_inline_svg_without_a_network(offline_charts):
    chart = charts.stage_timings(SUMMARY)
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert set(bundle) == {"image/svg+xml"}
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg")
    assert "silver.x" in svg
    assert "<script" not in svg


def test_timestamps_survive_serialisation():
    data = pd.DataFrame({"at": [datetime(2026, 1, 1, 6)], "n": [1]})
    values = next(iter(charts.time_series(data, x="at", y="n").to_dict()["datasets"].values()))
    assert values[0]["at"].startswith("2026-01-01T06:00:00")


LIFTS = pd.DataFrame(
    {
        "metric": ["conversion", "revenue", "tickets", "orders"],
        "relative": [0.15, 0.2, -0.01, None],
        "relative_ci_low": [0.05, float("-inf"), -0.3, None],
        "relative_ci_high": [0.25, 0.4, 0.28, None],
        "verdict": ["better", "inconclusive", "inconclusive", "inconclusive"],
    }
)


def test_a_forest_plot_draws_each_lift_with_its_interval_around_zero():
    spec = charts.lift_forest(LIFTS).to_dict()
    zero, interval, point = spec["layer"]
    assert zero["mark"]["type"] == "rule"
    assert interval["encoding"]["x"]["field"] == "relative_ci_low"
    assert interval["encoding"]["x2"]["field"] == "relative_ci_high"
    assert point["encoding"]["x"]["field"] == "relative"
    assert point["encoding"]["y"]["sort"] == ["conversion", "revenue", "tickets"]
    colors = point["encoding"]["color"]["scale"]
    assert dict(zip(colors["domain"], colors["range"], strict=True))["better"] == "#3a9a5b"


def test_a_forest_plot_leaves_out_missing_lifts_and_clips_open_bounds():
    spec = charts.lift_forest(LIFTS).to_dict()
    rows = next(rows for rows in spec["datasets"].values() if "metric" in rows[0])
    assert [row["metric"] for row in rows] == ["conversion", "revenue", "tickets"]
    assert rows[1]["relative_ci_low"] == -0.3  # -inf drawn to the lowest finite bound


DAILY = pd.DataFrame(
    {
        "day": [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)],
        "relative": [None, 0.3, 0.15],
        "relative_ci_low": [None, -0.2, 0.01],
        "relative_ci_high": [None, 0.8, 0.29],
    }
)


def test_a_cumulative_lift_is_a_line_in_a_band_over_the_days():
    spec = charts.cumulative_lift(DAILY).to_dict()
    band, line, zero = spec["layer"]
    assert band["mark"]["type"] == "area"
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == (
        "relative_ci_low",
        "relative_ci_high",
    )
    assert line["encoding"]["y"]["field"] == "relative"
    assert zero["mark"]["type"] == "rule"
    assert band["encoding"]["x"]["type"] == "temporal"
    rows = next(rows for rows in spec["datasets"].values() if "day" in rows[0])
    assert len(rows) == 2  # the first day has no interval yet


def test_lift_charts_render_offline(offline_charts):
    for chart in (charts.lift_forest(LIFTS), charts.cumulative_lift(DAILY)):
        bundle = chart._repr_mimebundle_()
        svg = bundle[0]["image/svg+xml"] if isinstance(bundle, tuple) else bundle["image/svg+xml"]
        assert svg.startswith("<svg")


def test_periods_are_named_on_the_axis_and_money_is_formatted():
    quarters = pd.DataFrame(
        {"quarter": pd.to_datetime(["2024-10-01", "2024-07-01"]), "revenue": [2.5, 1.5]}
    )
    spec = charts.time_series(
        quarters, x="quarter", y="revenue", grain="quarter", y_format="$,.2f"
    ).to_dict()
    x, y = spec["encoding"]["x"], spec["encoding"]["y"]
    assert x["type"] == "ordinal"
    assert x["sort"] == ["2024-Q3", "2024-Q4"]  # in time order, named as quarters
    assert y["axis"]["format"] == "$,.0f"
    assert {"field": "revenue", "format": "$,.2f", "type": "quantitative"} in spec["encoding"][
        "tooltip"
    ]


def test_a_period_without_a_date_is_left_off_the_time_axis():
    """Facts on the unknown date member have no month: no point at a month named "null"."""
    months = pd.DataFrame({"month": pd.to_datetime(["2024-07-01", None]), "revenue": [2.5, 1.5]})
    spec = charts.time_series(months, x="month", y="revenue", grain="month").to_dict()
    assert spec["encoding"]["x"]["sort"] == ["Jul 2024"]
    (rows,) = spec["datasets"].values()
    assert rows == [{"month": "Jul 2024", "revenue": 2.5}]


def test_a_table_for_people_has_no_index_and_formats_each_column():
    from warehouse_kit.analytics.metrics import load
    from warehouse_kit.analytics.metrics.display import table

    frame = pd.DataFrame(
        {
            "month": pd.to_datetime(["2024-07-01", "2024-08-01"]),
            "revenue": [Decimal("1234567.891"), Decimal("-2.5")],
            "orders": pd.array([1200, None], dtype="Int64"),
            "revenue_previous_period_change": [0.1234, -0.05],
            "loaded_at": pd.to_datetime(["2024-07-01 00:00:00", "2024-07-01 10:00:01"]),
        },
        index=[7, 9],
    )
    shown = table(frame, layer=load("."))
    assert repr(shown).splitlines() == [
        "   month       Revenue Orders revenue previous period change           loaded at",
        "Jul 2024 $1,234,567.89  1,200                         +12.3%          2024-07-01",
        "Aug 2024        -$2.50                                 -5.0% 2024-07-01 10:00:01",
    ]
    html = shown._repr_html_()
    assert "row_heading" not in html  # no index column
    assert html == table(frame, layer=load("."))._repr_html_()  # the same, run after run
    empty = table(frame.iloc[:0])  # a run with no checks: headers, no rows
    assert repr(empty) == "(no rows)"
    assert "<th" in empty._repr_html_()
