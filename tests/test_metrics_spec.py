"""Analytics files: what they define, and one clear error for each mistake.

No warehouse here: the files are checked when they are loaded (shape, names,
references between metrics); columns are checked against the tables when a
query runs (tests/test_metrics.py).
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from warehouse_kit.analytics import metrics
from warehouse_kit.analytics.metrics import display, periods
from warehouse_kit.core.errors import ConfigError

MODEL = "models:\n  orders: {table: gold.fact_orders, time: order_date}\n"


def project(tmp_path: Path, **files: str) -> Path:
    (tmp_path / "analytics").mkdir()
    for name, text in files.items():
        (tmp_path / "analytics" / f"{name}.yml").write_text(textwrap.dedent(text))
    return tmp_path


def test_the_example_defines_the_retail_kpis():
    layer = metrics.load(REPO_ROOT)
    assert {
        "revenue", "orders", "order_lines", "aov", "units", "active_customers",
        "new_customers", "returning_customers", "cohort_size", "retention", "return_rate",
    } <= set(layer.metrics)  # fmt: skip
    assert {"top_categories", "cohort_retention", "monthly_kpis"} <= set(layer.queries)
    assert layer.metrics["aov"].inputs == ("revenue", "orders")
    assert layer.metrics["revenue"].model == "orders"
    listed = metrics.describe(layer)
    assert listed.set_index("metric").loc["aov", "label"] == "Average order value"


def test_a_file_may_hold_one_metric_named_after_it(tmp_path):
    root = project(
        tmp_path,
        orders=MODEL + "metrics:\n  revenue: {type: sum, expr: amount}\n",
        average_price="metric: {type: avg, expr: unit_price, format: ',.2f'}\n",
    )
    layer = metrics.load(root)
    assert layer.metrics["average_price"].model == "orders"  # the only model there is
    assert layer.metrics["average_price"].where.key_path == "metric"


REVENUE = "  revenue: {type: sum, expr: amount}\n"
ERRORS = [
    (
        {"a": MODEL + "metrics:\n  revenue: {type: sum, expr: amount, fliter: x}\n"},
        "analytics/a.yml: metrics.revenue.fliter: unknown key 'fliter' for a sum metric; "
        "did you mean 'filter'?",
    ),
    (
        {"a": MODEL + "metrics:\n  aov: {type: ration}\n"},
        "analytics/a.yml: metrics.aov: unknown metric type 'ration'; did you mean 'ratio'?",
    ),
    (
        {"a": MODEL + "metrics:\n  revenue: {type: sum}\n"},
        "analytics/a.yml: metrics.revenue: a sum metric needs expr: the value to aggregate",
    ),
    (
        {"a": MODEL + "metrics:\n  revenue: {type: sum, expr: amount, format: '%d'}\n"},
        "analytics/a.yml: metrics.revenue.format: '%d' is not a format spec: try ',.2f', ',d' "
        "or '.1%'",
    ),
    (
        {"a": MODEL + "metrics:\n" + REVENUE, "b": "metrics:\n" + REVENUE},
        "analytics/b.yml: metrics.revenue: metric or query 'revenue' is already defined in "
        "analytics/a.yml",
    ),
    (
        {"a": MODEL + "metrics:\n" + REVENUE + "  aov: {type: ratio, numerator: revenue, "
         "denominator: revenu}\n"},
        "analytics/a.yml: metrics.aov.denominator: unknown metric 'revenu'; did you mean "
        "'revenue'?",
    ),
    (
        {"a": MODEL + "metrics:\n" + REVENUE + "  net: {type: derived, expr: revenue - refunds}\n"},
        "analytics/a.yml: metrics.net.expr: unknown metric 'refunds'; metrics: net, revenue",
    ),
    (
        {"a": MODEL + "metrics:\n  a: {type: derived, expr: b + 1}\n  b: {type: derived, "
         "expr: a * 2}\n"},
        "analytics/a.yml: metrics.a: metrics depend on each other: a -> b -> a",
    ),
    (
        {"a": MODEL + "metrics:\n" + REVENUE + "queries:\n  q: {metrics: [revenue, units]}\n"},
        "analytics/a.yml: queries.q.metrics[1]: unknown metric 'units'; metrics: revenue",
    ),
    (
        {"a": MODEL + "metrics:\n  revenue: {type: sum, expr: amount, model: order}\n"},
        "analytics/a.yml: metrics.revenue.model: unknown model 'order'; did you mean 'orders'?",
    ),
    (
        {"a": MODEL, "b": "models:\n  visits: {table: gold.fact_visits}\nmetrics:\n  x: "
         "{type: count, model: visits}\n", "c": "metrics:\n" + REVENUE},
        "analytics/c.yml: metrics.revenue.model: say which model the metric is of (models: "
        "orders, visits)",
    ),
    (
        {"a": MODEL + "queries:\n  q: {metrics: [x], compare: last_year}\n"},
        "analytics/a.yml: queries.q: compare needs a grain (day, week, month...)",
    ),
    (
        {"a": MODEL + "metrics: {revenue: [\n"},
        "analytics/a.yml: invalid YAML: line 4",
    ),
    (
        {"a": "metric: {type: count}\nmetrics:\n" + REVENUE},
        "analytics/a.yml: use either metric: (one, named after the file) or metrics:",
    ),
    (
        {"a": "- revenue\n"},
        "analytics/a.yml: expected a mapping of models, metrics and queries",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("files", "message"), ERRORS)
def test_a_mistake_is_one_error_naming_the_file_and_key(tmp_path, files, message):
    with pytest.raises(ConfigError) as error:
        metrics.load(project(tmp_path, **files))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_query_options_are_checked_before_anything_is_opened():
    with pytest.raises(ConfigError, match=r"^query: grain: Input should be 'day', 'week'"):
        metrics.query("revenue", grain="monthly", project=REPO_ROOT, target="duckdb:///nowhere")
    with pytest.raises(ConfigError, match=r"^query: start 2024-02-01 is not before end"):
        metrics.query("revenue", start="2024-02-01", end="2024-01-01", project=REPO_ROOT)
    with pytest.raises(
        ConfigError, match=r"^query: compare\[0\]: Input should be 'previous_period'"
    ):
        metrics.query("revenue", grain="month", compare="yesterday", project=REPO_ROOT)


@pytest.mark.parametrize(
    ("grain", "day", "first", "next_one"),
    [
        ("day", date(2024, 3, 15), date(2024, 3, 15), date(2024, 3, 16)),
        ("week", date(2024, 3, 15), date(2024, 3, 11), date(2024, 3, 18)),  # ISO: Monday
        ("month", date(2024, 3, 15), date(2024, 3, 1), date(2024, 4, 1)),
        ("quarter", date(2024, 12, 15), date(2024, 10, 1), date(2025, 1, 1)),
        ("year", date(2024, 3, 15), date(2024, 1, 1), date(2025, 1, 1)),
    ],
)
def test_periods_start_on_their_first_day(grain, day, first, next_one):
    assert periods.floor(day, grain) == first
    assert periods.ceil(day, grain) == (first if day == first else next_one)
    assert periods.ceil(first, grain) == first
    assert periods.shift(first, grain, 1) == next_one
    assert periods.shift(next_one, grain, -1) == first


def test_a_timestamp_period_starts_at_midnight():
    assert periods.floor(datetime(2024, 3, 15, 13, 5), "month") == datetime(2024, 3, 1)


def test_values_are_shown_with_their_metric_format():
    layer = metrics.load(REPO_ROOT)
    columns = [
        "month",
        "revenue",
        "revenue_last_year",
        "revenue_last_year_change",
        "orders_rolling_3",
    ]
    formats = display.column_formats(layer, columns)
    assert formats == {
        "month": None,
        "revenue": "$,.2f",  # analytics/retail.yml: in US dollars
        "revenue_last_year": "$,.2f",
        "revenue_last_year_change": "+.1%",
        "orders_rolling_3": ",d",
    }
    assert display.format_value(Decimal("1234567.891"), ",.2f") == "1,234,567.89"
    assert display.format_value(Decimal("1234"), ",d") == "1,234"
    assert display.format_value(0.1234, "+.1%") == "+12.3%"
    assert display.format_value(None, ",d") == ""
    assert display.format_value(date(2024, 1, 1), None) == "2024-01-01"
    rows = [{"month": date(2024, 1, 1), "revenue": Decimal("10.50"), "orders": None}]
    assert display.to_csv(rows, ["month", "revenue", "orders"]) == (
        "month,revenue,orders\n2024-01-01,10.50,\n"
    )
    assert display.to_json(rows).replace("\n", "").replace(" ", "") == (
        '[{"month":"2024-01-01","revenue":10.5,"orders":null}]'
    )
