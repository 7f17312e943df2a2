"""The example KPIs (analytics/retail.yml) equal the same queries written by hand.

The example warehouse is built from both seed batches (so customers have two
versions), on DuckDB and on PostgreSQL. Each test computes a KPI through
warehouse-kit and independently, in SQL written here or in pandas over the rows
SQL returns, and compares them.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd
import pytest

from conftest import REPO_ROOT
from warehouse_kit.analytics import metrics
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import WarehouseKitError

SALE = "f.status IN ('completed', 'shipped')"
STAR = """
    gold.fact_orders f
    LEFT JOIN gold.dim_customer c ON f.customer_key = c.customer_key
    LEFT JOIN gold.dim_product p ON f.product_key = p.product_key
    LEFT JOIN gold.dim_date d ON f.date_key = d.date_key
"""
FIRST_SALES = f"""
    lines AS (
        SELECT c.customer_id, d.date, {SALE} AS is_sale
        FROM {STAR}
    ),
    firsts AS (
        SELECT customer_id, min(date) AS first_date
        FROM lines WHERE is_sale AND customer_id IS NOT NULL GROUP BY customer_id
    )
"""


@pytest.fixture(scope="module")
def warehouse(example_warehouse: Warehouse) -> Warehouse:
    return example_warehouse


@pytest.fixture(scope="module")
def layer() -> metrics.SemanticLayer:
    return metrics.load(REPO_ROOT)


def kpis(warehouse: Warehouse, layer: Any, names: Any, **options: Any) -> list[tuple]:
    """A query's rows, as tuples of comparable values, in the query's order."""
    expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
    return [tuple(normal(row[c]) for c in expr.columns) for row in warehouse.rows(expr)]


def sql(warehouse: Warehouse, text: str) -> list[tuple]:
    cursor = warehouse.con.raw_sql(textwrap.dedent(text))
    return [tuple(normal(value) for value in row) for row in cursor.fetchall()]


def normal(value: Any) -> Any:
    """Values the two engines and pandas agree on: dates, floats, ints, text, None."""
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else number
    return None if value is pd.NaT else value


def same(found: Sequence[tuple], expected: Sequence[tuple], *, ordered: bool = False) -> None:
    expected = [tuple(normal(value) for value in row) for row in expected]
    if not ordered:
        found, expected = sorted(found, key=repr), sorted(expected, key=repr)
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert len(got) == len(want), (got, want)
        assert all(map(close, got, want)), (got, want)


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def test_sales_kpis_by_segment_and_month(warehouse, layer):
    names = ["revenue", "orders", "order_lines", "units", "aov"]
    found = kpis(warehouse, layer, names, by=["segment"], grain="month")
    expected = sql(
        warehouse,
        f"""
        SELECT date_trunc('month', d.date), c.segment,
            sum(f.amount) FILTER (WHERE {SALE}),
            count(DISTINCT f.order_id) FILTER (WHERE {SALE}),
            count(*) FILTER (WHERE {SALE}),
            sum(f.quantity) FILTER (WHERE {SALE}),
            CAST(sum(f.amount) FILTER (WHERE {SALE}) AS DOUBLE PRECISION)
                / NULLIF(count(DISTINCT f.order_id) FILTER (WHERE {SALE}), 0)
        FROM {STAR}
        GROUP BY 1, 2
        """,
    )
    same(found, expected)
    assert len(found) > 90  # 24 months x 4 segments, and facts of unknown date


def test_active_new_and_returning_customers_per_month(warehouse, layer):
    found = kpis(
        warehouse,
        layer,
        ["active_customers", "new_customers", "returning_customers"],
        grain="month",
    )
    rows = sql(
        warehouse,
        f"""
        WITH {FIRST_SALES}
        SELECT date_trunc('month', l.date),
            count(DISTINCT l.customer_id) FILTER (WHERE l.is_sale),
            count(DISTINCT l.customer_id) FILTER (WHERE l.is_sale AND l.date = f.first_date)
        FROM lines l LEFT JOIN firsts f ON l.customer_id = f.customer_id
        GROUP BY 1
        """,
    )
    same(found, [(month, active, new, active - new) for month, active, new in rows])
    assert (
        sum(row[2] for row in found)
        == sql(warehouse, f"WITH {FIRST_SALES} SELECT count(*) FROM firsts")[0][0]
    )


def test_retention_by_first_order_cohort(warehouse, layer):
    found = kpis(warehouse, layer, "cohort_retention")
    expected = sql(
        warehouse,
        f"""
        WITH {FIRST_SALES},
        cohorts AS (
            SELECT date_trunc('month', first_date) AS cohort, count(*) AS size
            FROM firsts GROUP BY 1
        ),
        activity AS (
            SELECT date_trunc('month', f.first_date) AS cohort,
                (extract(year FROM l.date) - extract(year FROM f.first_date)) * 12
                    + extract(month FROM l.date) - extract(month FROM f.first_date) AS months,
                count(DISTINCT l.customer_id) FILTER (WHERE l.is_sale) AS active
            FROM lines l JOIN firsts f ON l.customer_id = f.customer_id
            GROUP BY 1, 2
        )
        SELECT a.cohort, a.months, c.size, a.active, CAST(a.active AS DOUBLE PRECISION) / c.size
        FROM activity a JOIN cohorts c ON a.cohort = c.cohort
        ORDER BY 1, 2
        """,
    )
    same(found, expected, ordered=True)
    assert found[0][1:] == (0.0, found[0][2], found[0][2], 1.0)  # month 0: the whole cohort


def test_top_categories(warehouse, layer):
    found = kpis(warehouse, layer, "top_categories")
    expected = sql(
        warehouse,
        f"""
        SELECT p.category, sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            sum(f.quantity) FILTER (WHERE {SALE}),
            count(DISTINCT f.order_id) FILTER (WHERE {SALE})
        FROM {STAR}
        GROUP BY 1 ORDER BY revenue DESC LIMIT 5
        """,
    )
    same(found, expected, ordered=True)
    assert kpis(warehouse, layer, "top_categories", limit=2) == found[:2]  # overrides the saved


def monthly(
    warehouse: Warehouse, by: str, grain: str = "month", where: str = "TRUE"
) -> pd.DataFrame:
    """Revenue and orders per period and `by`, from SQL, every period with data."""
    rows = sql(
        warehouse,
        f"""
        SELECT date_trunc('{grain}', d.date), {by},
            sum(f.amount) FILTER (WHERE {SALE}), count(DISTINCT f.order_id) FILTER (WHERE {SALE})
        FROM {STAR}
        WHERE d.date IS NOT NULL AND {where}
        GROUP BY 1, 2
        """,
    )
    return pd.DataFrame(rows, columns=["period", "group", "revenue", "orders"])


def lookup(frame: pd.DataFrame, group: Any, period: date, column: str) -> float | None:
    match = frame[(frame.group == group) & (frame.period == period)]
    return None if match.empty else match[column].iloc[0]


def ratio(a: float, b: float) -> float | None:
    return a / b if b and a is not None and not math.isnan(a) else None


def change(now: float | None, then: float | None) -> float | None:
    return None if now is None or not then else (now - then) / then


def test_previous_period_and_same_period_last_year(warehouse, layer):
    found = kpis(
        warehouse, layer, ["revenue"], by=["channel"], grain="month",
        compare=["previous_period", "last_year"], start="2024-01-01", end="2025-01-01",
    )  # fmt: skip
    series = monthly(warehouse, "f.channel")
    expected = []
    in_2024 = (series.period >= date(2024, 1, 1)) & (series.period < date(2025, 1, 1))
    for row in series[in_2024].itertuples():
        before = (pd.Timestamp(row.period) - pd.DateOffset(months=1)).date()
        year_ago = row.period.replace(year=row.period.year - 1)
        prev, last = (
            lookup(series, row.group, before, "revenue"),
            lookup(series, row.group, year_ago, "revenue"),
        )
        expected.append(
            (
                row.period,
                row.group,
                row.revenue,
                prev,
                change(row.revenue, prev),
                last,
                change(row.revenue, last),
            )
        )
    same(found, expected)
    assert len(found) == 36  # 12 months x 3 channels; 2023 read for the comparisons only


def test_weekly_comparisons_skip_gaps_instead_of_taking_the_row_before(warehouse, layer):
    where = "channel = 'store' AND segment = 'Enterprise'"
    found = kpis(
        warehouse, layer, ["orders"], by=["segment"], grain="week", where=where,
        compare=["previous_period", "last_year"],
    )  # fmt: skip
    series = monthly(
        warehouse, "c.segment", "week", "f.channel = 'store' AND c.segment = 'Enterprise'"
    )
    expected = []
    for row in series.itertuples():
        week = pd.Timestamp(row.period)
        prev = lookup(series, row.group, (week - pd.Timedelta(weeks=1)).date(), "orders")
        last = lookup(series, row.group, (week - pd.Timedelta(weeks=52)).date(), "orders")
        expected.append(
            (
                row.period,
                row.group,
                row.orders,
                prev,
                change(row.orders, prev),
                last,
                change(row.orders, last),
            )
        )
    same([r for r in found if r[0] is not None], expected)
    gaps = [r for r in found if r[0] is not None and r[3] is None]
    assert len(gaps) > 10  # weeks without store orders before them: NULL, not an older week


def test_cumulative_and_rolling_windows_count_periods_not_rows(warehouse, layer):
    found = kpis(
        warehouse, layer, ["revenue", "orders", "aov"], by=["segment"], grain="week",
        where="channel = 'store'", cumulative=True, rolling=4, start="2024-01-01",
    )  # fmt: skip
    series = monthly(warehouse, "c.segment", "week", "f.channel = 'store'")
    expected = []
    for row in series[series.period >= date(2024, 1, 1)].itertuples():
        mine = series[(series.group == row.group) & (series.period <= row.period)]
        so_far = mine[mine.period >= date(2024, 1, 1)]
        recent = mine[mine.period > (pd.Timestamp(row.period) - pd.Timedelta(weeks=4)).date()]
        cumulative = [so_far.revenue.sum(min_count=1), so_far.orders.sum()]
        rolling = [recent.revenue.sum(min_count=1), recent.orders.sum()]  # all NULL: NULL
        expected.append(
            (
                row.period, row.group,
                row.revenue, cumulative[0], rolling[0],
                row.orders, cumulative[1], rolling[1],
                ratio(row.revenue, row.orders), ratio(*cumulative), ratio(*rolling),
            )
        )  # fmt: skip
    same(found, expected)
    weeks = series[series.group == "Consumer"].period
    assert weeks.diff().max() > pd.Timedelta(weeks=1)  # the series has gaps


def test_where_start_and_end_pick_whole_periods(warehouse, layer):
    found = kpis(
        warehouse, layer, ["revenue"], grain="month",
        where=["channel = 'web'", "category = 'Books'"], start="2024-03-15", end="2024-06-01",
    )  # fmt: skip
    expected = sql(
        warehouse,
        f"""
        SELECT date_trunc('month', d.date), sum(f.amount) FILTER (WHERE {SALE})
        FROM {STAR}
        WHERE f.channel = 'web' AND p.category = 'Books'
            AND d.date >= DATE '2024-03-01' AND d.date < DATE '2024-06-01'
        GROUP BY 1
        """,
    )
    same(found, expected)
    assert [row[0] for row in found] == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)]
    days = kpis(warehouse, layer, ["revenue"], start=date(2024, 3, 15), end=date(2024, 6, 1))
    expected_days = sql(
        warehouse,
        f"""
        SELECT sum(f.amount) FILTER (WHERE {SALE}) FROM {STAR}
        WHERE d.date >= DATE '2024-03-15' AND d.date < DATE '2024-06-01'
        """,
    )
    same(days, expected_days)


def test_a_type2_attribute_is_its_value_then_or_its_current_value(warehouse, layer):
    found = kpis(warehouse, layer, ["revenue"], by=["segment", "dim_customer.current.segment"])
    expected = sql(
        warehouse,
        f"""
        SELECT c.segment, now.segment, sum(f.amount) FILTER (WHERE {SALE})
        FROM {STAR}
        LEFT JOIN gold.dim_customer now
            ON now.customer_id = c.customer_id AND now.is_current
        GROUP BY 1, 2
        """,
    )
    unknown = [row for row in expected if row[0] == "Unknown"]  # the unknown member
    expected = [row for row in expected if row[0] != "Unknown"] + [
        ("Unknown", "Unknown", unknown[0][2])
    ]
    same(found, expected)
    moved = [row for row in found if row[0] != row[1]]
    assert moved  # sales of customers who changed segment after them
    columns = metrics.query(
        ["revenue"],
        by=["segment", "dim_customer.current.segment"],
        warehouse=warehouse,
        project=layer,
    ).columns
    assert list(columns) == ["segment", "dim_customer.current.segment", "revenue"]


def test_windows_need_metrics_that_add_up_over_periods(warehouse, layer):
    with pytest.raises(WarehouseKitError, match="'active_customers' is a count_distinct"):
        kpis(warehouse, layer, ["active_customers"], grain="month", cumulative=True)
    with pytest.raises(WarehouseKitError, match="needs a grain"):
        kpis(warehouse, layer, ["revenue"], rolling=3)


def test_unknown_and_ambiguous_columns_are_named(warehouse, layer):
    with pytest.raises(WarehouseKitError) as error:
        kpis(warehouse, layer, ["revenue"], by=["segmnt"])
    assert str(error.value).startswith("query: by[0]: unknown column 'segmnt' in model orders")
    assert "did you mean 'segment'?" in str(error.value)
    with pytest.raises(
        WarehouseKitError,
        match=re.escape(
            "'updated_at' is ambiguous: write dim_customer.updated_at or dim_product.updated_at"
        ),
    ):
        kpis(warehouse, layer, ["revenue"], by=["updated_at"])
    with pytest.raises(WarehouseKitError, match="unknown metric 'revnue'; did you mean 'revenue'"):
        kpis(warehouse, layer, ["revnue"])
    with pytest.raises(
        WarehouseKitError, match=re.escape("gold.dim_product (join dim_product) has no column")
    ):
        kpis(warehouse, layer, ["revenue"], where="dim_product.colour = 'red'")


def test_a_column_unknown_to_a_metric_names_the_file_and_key(warehouse, tmp_path):
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics" / "sales.yml").write_text(
        "models:\n  lines: {table: gold.fact_orders}\n"
        "metrics:\n  revenue: {type: sum, expr: amout * 2}\n"
    )
    with pytest.raises(WarehouseKitError) as error:
        metrics.query("revenue", warehouse=warehouse, project=tmp_path)
    assert str(error.value).startswith(
        "analytics/sales.yml: metrics.revenue.expr: in expression 'amout * 2': unknown column "
        "'amout' in model lines; did you mean 'amount'?"
    )


def test_the_result_is_an_ibis_expression_with_its_sql(warehouse, layer):
    expr = metrics.query(["revenue", "aov"], grain="quarter", warehouse=warehouse, project=layer)
    assert isinstance(expr, ibis.expr.types.Table)
    text = ibis.to_sql(expr, dialect=warehouse.kind)
    assert "fact_orders" in text
    assert "GROUP BY" in text
    frame = expr.to_pandas()
    assert list(frame.columns) == ["quarter", "revenue", "aov"]
    assert len(frame) == 10  # 2023 to 2025Q1, and the facts whose date is unknown (NaT)
    assert frame.quarter.isna().sum() == 1
