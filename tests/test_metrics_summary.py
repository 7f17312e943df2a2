"""The KPI report's summary: each metric over whole periods, against as many periods before."""

from __future__ import annotations

import math
from datetime import date

import pytest

from conftest import REPO_ROOT
from warehouse_kit.analytics import metrics
from warehouse_kit.analytics.metrics.summary import kpi_summary, previous_window, window
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import WarehouseKitError

KPIS = ["revenue", "orders", "aov", "units", "active_customers"]


def test_the_window_is_whole_periods():
    assert window("2024-01-15", "2024-03-02", "month") == (date(2024, 1, 1), date(2024, 4, 1))
    assert window("2024-02-10", "2025-01-01", "quarter") == (date(2024, 1, 1), date(2025, 1, 1))
    assert window(date(2024, 3, 6), date(2024, 3, 8), "week") == (
        date(2024, 3, 4),
        date(2024, 3, 11),
    )


def test_the_previous_window_has_as_many_periods_right_before():
    assert previous_window((date(2024, 1, 1), date(2025, 1, 1)), "month") == (
        date(2023, 1, 1),
        date(2024, 1, 1),
    )
    assert previous_window((date(2024, 4, 1), date(2024, 10, 1)), "quarter") == (
        date(2023, 10, 1),
        date(2024, 4, 1),
    )
    assert previous_window((date(2024, 3, 4), date(2024, 3, 18)), "week") == (
        date(2024, 2, 19),
        date(2024, 3, 4),
    )


def test_an_empty_window_is_refused():
    with pytest.raises(WarehouseKitError, match="holds no month"):
        window("2024-03-01", "2024-03-01", "month")


@pytest.fixture(scope="module")
def warehouse(example_warehouse: Warehouse) -> Warehouse:
    return example_warehouse


def totals(warehouse: Warehouse, start: date, end: date) -> dict:
    expr = metrics.query(KPIS, start=start, end=end, warehouse=warehouse, project=REPO_ROOT)
    return warehouse.rows(expr)[0]


def test_each_kpi_is_the_metric_over_each_window(warehouse):
    summary = kpi_summary(
        KPIS, start="2024-01-01", end="2025-01-01", grain="month", warehouse=warehouse,
        project=REPO_ROOT,
    )  # fmt: skip
    now = totals(warehouse, date(2024, 1, 1), date(2025, 1, 1))
    before = totals(warehouse, date(2023, 1, 1), date(2024, 1, 1))
    assert summary.frame.metric.tolist() == KPIS
    for row in summary.frame.itertuples():
        assert math.isclose(row.value, now[row.metric])
        assert math.isclose(row.previous, before[row.metric])
        assert math.isclose(row.change, float(now[row.metric]) / float(before[row.metric]) - 1)
    assert summary.value("orders") == 541
    assert float(summary.value("revenue")) == pytest.approx(822_711.20)


def test_the_summary_shows_formatted_values_and_its_windows(warehouse):
    summary = kpi_summary(
        ["revenue", "aov"], start="2024-07-01", end="2024-12-31", grain="quarter",
        warehouse=warehouse, project=REPO_ROOT,
    )  # fmt: skip
    text = repr(summary)
    assert text.splitlines()[0] == (
        "2024-07-01 to 2024-12-31 (2 quarters), against the 2 before: 2024-01-01 to 2024-06-30"
    )
    assert "Average order value" in text
    now = totals(warehouse, date(2024, 7, 1), date(2025, 1, 1))["revenue"]
    before = totals(warehouse, date(2024, 1, 1), date(2024, 7, 1))["revenue"]
    change = float(now) / float(before) - 1
    assert summary.rows()[0] == ("Revenue", f"${now:,.2f}", f"${before:,.2f}", f"{change:+.1%}")
    assert "<table>" in summary._repr_html_()
