"""What a KPI query can ask beyond metrics by columns: HAVING on the result, groups
computed by SQL expressions, a model's second time column; and the schemas a
connection keeps between queries, dropped when a run changes a table.

Each result equals the same query written by hand in SQL on the same warehouse,
on DuckDB and on PostgreSQL.
"""

from __future__ import annotations

import json
import math
import textwrap
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from conftest import TinyProject, wk
from warehouse_kit.analytics import metrics
from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.errors import WarehouseKitError

SALES = pd.DataFrame(
    [
        (1, 1, date(2024, 1, 3), date(2024, 1, 5), "100.00"),
        (2, 1, date(2024, 1, 20), date(2024, 2, 2), "50.50"),
        (3, 2, date(2024, 1, 5), date(2024, 1, 9), "20.00"),
        (4, 3, date(2024, 2, 1), date(2024, 2, 3), "70.25"),
        (5, 4, date(2024, 2, 14), date(2024, 3, 1), "10.00"),
        (6, 4, date(2024, 3, 1), date(2024, 3, 4), "300.00"),
        (7, 5, date(2024, 3, 9), date(2024, 4, 1), "40.00"),
        (8, 2, date(2024, 3, 10), None, "5.75"),  # not shipped yet
        (9, 1, date(2024, 4, 30), date(2024, 5, 2), "60.00"),
        (10, 9, date(2024, 5, 2), date(2024, 5, 3), "15.00"),  # a customer the dimension lacks
    ],
    columns=["sale_id", "customer_id", "day", "ship_day", "amount"],
)
CUSTOMERS = pd.DataFrame(
    [(1, "retail"), (2, "retail"), (3, "business"), (4, "business"), (5, "wholesale")],
    columns=["customer_id", "segment"],
)
ANALYTICS = """
models:
  sales:
    table: gold.fact_sales
    time: {sale_date: day, ship_date: ship_day}
    joins:
      dim_customers: customer_id
metrics:
  revenue: {type: sum, expr: amount}
  sales: {type: count}
  average_sale: {type: ratio, numerator: revenue, denominator: sales}
queries:
  big_segments: {metrics: [revenue, sales, average_sale], by: segment, having: revenue > 100}
"""
STAR = """gold.fact_sales f
    LEFT JOIN gold.dim_customers c ON f.customer_id = c.customer_id"""


@pytest.fixture(scope="module")
def star(
    shared_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, metrics.SemanticLayer]:
    shared_warehouse.ensure_schema("gold")
    for name, frame in (("fact_sales", SALES), ("dim_customers", CUSTOMERS)):
        shared_warehouse.con.create_table(name, _arrow(frame), database="gold", overwrite=True)
    root = tmp_path_factory.mktemp("metrics_query")
    (root / "analytics").mkdir()
    (root / "analytics" / "sales.yml").write_text(textwrap.dedent(ANALYTICS))
    return shared_warehouse, metrics.load(root)


def _arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "amount" in frame:
        amounts = pa.array([Decimal(a) for a in frame["amount"]], pa.decimal128(10, 2))
        table = table.set_column(table.schema.get_field_index("amount"), "amount", amounts)
    return table


def kpis(star: tuple[Warehouse, Any], names: Any, **options: Any) -> list[tuple]:
    warehouse, layer = star
    expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
    return [tuple(normal(row[c]) for c in expr.columns) for row in warehouse.rows(expr)]


def sql(warehouse: Warehouse, text: str) -> list[tuple]:
    cursor = warehouse.con.raw_sql(textwrap.dedent(text))  # DuckDB's is the connection
    return [tuple(normal(value) for value in row) for row in cursor.fetchall()]


def normal(value: Any) -> Any:
    """Values both engines agree on: dates, rounded floats, text, None."""
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else round(number, 9)
    return value


@pytest.mark.parametrize("saved", [False, True], ids=["options", "saved query"])
def test_having_keeps_the_groups_whose_metrics_pass(star, saved):
    if saved:
        found = kpis(star, "big_segments")
    else:
        found = kpis(
            star, ["revenue", "sales", "average_sale"], by="segment", having="revenue > 100"
        )
    expected = sql(
        star[0],
        f"""
        SELECT c.segment, sum(f.amount), count(*),
            CAST(sum(f.amount) AS DOUBLE PRECISION) / count(*)
        FROM {STAR}
        GROUP BY c.segment HAVING sum(f.amount) > 100 ORDER BY c.segment NULLS LAST""",
    )
    assert found == expected
    assert [row[0] for row in found] == ["business", "retail"]  # wholesale: 40, no customer: 15


def test_having_sees_ratios_and_comparisons_by_period(star):
    found = kpis(
        star,
        ["revenue", "average_sale"],
        grain="month",
        compare="previous_period",
        having=["average_sale < 100", "revenue_previous_period IS NOT NULL"],
    )
    expected = sql(
        star[0],
        f"""
        WITH m AS (
            SELECT date_trunc('month', f.day) AS month, sum(f.amount) AS revenue,
                CAST(sum(f.amount) AS DOUBLE PRECISION) / count(*) AS average_sale
            FROM {STAR} GROUP BY 1
        )
        SELECT m.month, m.revenue, p.revenue,
            (CAST(m.revenue AS DOUBLE PRECISION) - p.revenue) / p.revenue,
            m.average_sale, p.average_sale, (m.average_sale - p.average_sale) / p.average_sale
        FROM m JOIN m AS p ON p.month + INTERVAL '1 month' = m.month
        WHERE m.average_sale < 100
        ORDER BY 1""",
    )
    assert found == expected
    assert [row[0] for row in found] == [date(2024, 2, 1), date(2024, 4, 1), date(2024, 5, 1)]


def test_an_expression_groups_as_group_by_does(star):
    found = kpis(
        star,
        ["revenue", "sales"],
        by=["date_trunc('month', day) AS sale_month", "upper(dim_customers.segment) AS seg"],
    )
    expected = sql(
        star[0],
        f"""
        SELECT date_trunc('month', f.day), upper(c.segment), sum(f.amount), count(*)
        FROM {STAR}
        GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST""",
    )
    assert found == expected
    assert len(found) == 7


def test_time_picks_the_models_second_time_column(star):
    found = kpis(star, ["revenue", "sales"], grain="month", time="ship_date", end="2024-05-01")
    expected = sql(
        star[0],
        f"""
        SELECT date_trunc('month', f.ship_day), sum(f.amount), count(*)
        FROM {STAR}
        WHERE f.ship_day < DATE '2024-05-01'
        GROUP BY 1 ORDER BY 1""",
    )
    assert found == expected
    default = kpis(star, ["sales"], grain="month", end="2024-05-01")  # by the sale's day
    assert default == [(date(2024, month, 1), n) for month, n in ((1, 3), (2, 2), (3, 3), (4, 1))]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"having": "revnue > 1"}, r"having\[0\]: .*column 'revnue'; did you mean 'revenue'"),
        ({"having": "revenue"}, r"having\[0\]: 'revenue' is a decimal.*, not a condition"),
        ({"by": "upper(segment)"}, r"by\[0\]: name the expression .*`expression AS name`"),
        ({"by": "sum(amount) AS s"}, r"by\[0\]: 'SUM\(amount\)' aggregates"),
        ({"by": "lower(segmnt) AS s"}, r"by\[0\]: .*column 'segmnt'.*did you mean 'segment'"),
        ({"by": "1; DROP TABLE x AS y"}, r"by\[0\]: '1; DROP TABLE x AS y' is neither a column"),
        (
            {"grain": "month", "time": "shipped"},
            r"time: model sales has no time column 'shipped'; did you mean 'ship_date'\? "
            r"its time columns: sale_date, ship_date",
        ),
        ({"time": "ship_date"}, r"time: 'ship_date' needs a grain, start or end"),
    ],
    ids=lambda value: "" if isinstance(value, str) else next(iter(value.values())),
)
def test_a_bad_query_says_what_is_wrong_in_one_line(star, options, message):
    with pytest.raises(WarehouseKitError, match=message) as raised:
        kpis(star, ["revenue"], **options)
    assert "\n" not in str(raised.value)


# --- the schemas a connection keeps -------------------------------------------------------

PIPELINE = """
pipeline:
  name: shop
  sources: [{name: files, type: files, path: data, tables: [sales], load: replace}]
  transformations:
    - stage: bronze
"""
BRONZE_ANALYTICS = """
models:
  sales: {table: bronze.sales}
metrics:
  sales: {type: count}
  amount: {type: sum, expr: "cast(amount AS INT)"}
"""


@pytest.fixture
def shop(tiny: TinyProject) -> TinyProject:
    tiny.csv("sales", "id,amount\n1,10\n2,20\n")
    tiny.pipeline(PIPELINE)
    (tiny.root / "analytics").mkdir()
    (tiny.root / "analytics" / "shop.yml").write_text(textwrap.dedent(BRONZE_ANALYTICS))
    assert tiny.run().ok
    return tiny


def test_a_run_that_changes_a_table_is_seen_by_the_next_query(shop):
    layer = metrics.load(shop.root)
    warehouse = connect(shop.target)
    try:
        first = metrics.query(["sales", "amount"], warehouse=warehouse, project=layer)
        again = metrics.query(["sales", "amount"], warehouse=warehouse, project=layer)
        assert again is first  # compiled once while no run changed anything
        assert warehouse.rows(first) == [{"sales": 2, "amount": 30}]
        with pytest.raises(WarehouseKitError, match="unknown column 'channel'"):
            metrics.query("sales", by="channel", warehouse=warehouse, project=layer)

        shop.csv("sales", "id,amount,channel\n1,10,web\n2,20,store\n3,5,web\n")
        assert shop.run().ok  # in this process, while the connection stays open

        by_channel = metrics.query(
            ["sales", "amount"], by="channel", warehouse=warehouse, project=layer
        )
        assert warehouse.rows(by_channel) == [
            {"channel": "store", "sales": 1, "amount": 20},
            {"channel": "web", "sales": 2, "amount": 15},
        ]
        total = metrics.query(["sales", "amount"], warehouse=warehouse, project=layer)
        assert total is not first
        assert warehouse.rows(total) == [{"sales": 3, "amount": 35}]
    finally:
        warehouse.close()


@pytest.mark.parametrize("target_url", ["duckdb"], indirect=True)  # the same on every engine
def test_wk_metrics_query_takes_having_and_an_expression(shop):
    shop.csv("sales", "id,amount,channel\n1,10,web\n2,20,store\n3,5,web\n4,7,Web\n")
    assert shop.run().ok
    result = wk(
        "metrics", "query", "sales", "amount", "--by", "lower(channel) AS channel_name",
        "--having", "sales > 1", "--format", "json", "-t", shop.target, "-p", str(shop.root),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"channel_name": "web", "sales": 3, "amount": 22}]
