"""The KPI layer's traps: each query equals hand-written SQL, or fails with one clear line.

A small shop, built once per module on each engine: order lines (the fine
grain), orders (shipping cost: one per order), customers (a credit limit each),
regions reached through customers, products, customer tags (several per
customer: a bridge) and visits (another fact, its key an INTEGER and its time a
TIMESTAMP where the orders have a BIGINT and a DATE). Naive joins get these
queries wrong: order 10 has two 'pen' lines, so its shipping would count twice
for pens; customer 1 has 'vip' twice.
"""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from conftest import REPO_ROOT
from warehouse_kit.analytics import metrics
from warehouse_kit.analytics.metrics.keys import catalog_keys
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project

TABLES = {
    "regions": ["region_id", "region"],
    "customers": ["customer_id", "region_id", "segment", "credit_limit"],
    "orders": ["order_id", "customer_id", "order_date", "status", "shipping_cost"],
    "order_lines": ["line_id", "order_id", "product", "amount"],
    "products": ["product", "unit_cost"],
    "customer_tags": ["customer_id", "tag"],
}
ROWS = {
    "regions": [(1, "north"), (2, "south")],
    "customers": [(1, 1, "retail", 100), (2, 1, "business", 200), (3, 2, "retail", 300),
                  (4, 9, "business", 400)],  # region 9 does not exist
    "orders": [(10, 1, date(2024, 1, 5), "shipped", 7), (11, 1, date(2024, 1, 20), "cancelled", 5),
               (12, 2, date(2024, 2, 3), "shipped", 11), (13, 3, date(2024, 2, 10), "shipped", 13),
               (14, 4, date(2024, 3, 1), "cancelled", 17), (15, 8, date(2024, 3, 5), "shipped", 19),
               (16, None, date(2024, 3, 9), "shipped", 23),
               (17, 2, date(2024, 3, 9), "shipped", 29)],
    "order_lines": [(1, 10, "pen", 10), (2, 10, "ink", 20), (3, 10, "pen", 5), (4, 11, "pad", 40),
                    (5, 12, "pen", 60), (6, 12, "pad", 70), (7, 12, "ink", 80), (8, 13, "ink", 90),
                    (9, 14, "pen", 15), (10, 15, "pad", 25), (11, 15, "pad", 35),
                    (12, 16, "pen", 45)],  # order 17 has no line; customer 8 does not exist
    "products": [("pen", 1), ("ink", 3), ("pad", 2)],
    "customer_tags": [(1, "vip"), (1, "newsletter"), (1, "vip"), (2, "newsletter"), (3, "vip")],
}  # fmt: skip
VISITS = pa.table(
    {
        "visit_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
        "customer_id": pa.array([1, 1, 2, 3, None], pa.int32()),
        "visited_at": pa.array(
            [datetime(2024, 1, 2, 9), datetime(2024, 2, 2), datetime(2024, 2, 5, 13),
             datetime(2024, 3, 1), datetime(2024, 3, 2)], pa.timestamp("us")
        ),
    }
)  # fmt: skip

ANALYTICS = """
models:
  lines:
    table: shop.order_lines
    key: line_id
    time: orders.order_date
    joins:
      orders: {table: shop.orders, on: order_id}
      customers: {table: shop.customers, on: {orders.customer_id: customer_id}}
      regions: {table: shop.regions, on: {customers.region_id: region_id}}
      products: {table: shop.products, on: product}
      tags: {table: shop.customer_tags, on: {orders.customer_id: customer_id},
             relationship: one_to_many}
    dimensions:
      first_order: {per: orders.customer_id, expr: min(orders.order_date)}
      cohort: "coalesce(date_trunc('month', first_order), CAST('1900-01-01' AS DATE))"
      # over one row per customer: the line of order 16 (no customer) has no first order
      cohort_customers: {per: cohort, expr: "count(DISTINCT coalesce(orders.customer_id, 0))"}
      cohort_lines: {per: cohort, expr: count(*)}
  orders:
    table: shop.orders
    time: order_date
    joins:
      customers: {table: shop.customers, on: customer_id, type: inner}
  orders_left:
    table: shop.orders
    joins:
      customers: {table: shop.customers, on: customer_id}
  visits:
    table: shop.visits
    time: visited_at
    joins:
      customers: {table: shop.customers, on: customer_id}
  tagged_orders:
    table: shop.orders
    joins:
      tags: {table: shop.customer_tags, on: customer_id}   # many_to_one: wrong
metrics:
  revenue: {type: sum, expr: amount, model: lines}
  line_margin: {type: sum, expr: amount - products.unit_cost, model: lines}
  shipping: {type: sum, expr: orders.shipping_cost, model: lines}
  average_shipping: {type: avg, expr: orders.shipping_cost, model: lines}
  shipped_shipping:
    {type: sum, expr: orders.shipping_cost, filter: "orders.status = 'shipped'", model: lines}
  big_line_shipping: {type: sum, expr: orders.shipping_cost, filter: amount > 50, model: lines}
  credit: {type: sum, expr: customers.credit_limit, model: lines}
  mixed: {type: sum, expr: orders.shipping_cost + products.unit_cost, model: lines}
  order_shipping: {type: sum, expr: shipping_cost, model: orders}
  order_count: {type: count, model: orders}
  order_count_left: {type: count, model: orders_left}
  visit_count: {type: count, model: visits}
  tagged_orders: {type: count, model: tagged_orders}
  cohort_size: {type: max, expr: cohort_customers, model: lines}
  cohort_line_count: {type: sum, expr: cohort_lines, filter: amount > 50, model: lines}
"""

LINES = (
    "shop.order_lines l LEFT JOIN shop.orders o ON l.order_id = o.order_id "
    "LEFT JOIN shop.customers c ON o.customer_id = c.customer_id "
)
COHORTS = (  # each line's cohort (its customer's first month), and each cohort's size
    "WITH l AS (SELECT l.product, l.amount, o.customer_id, o.order_date FROM shop.order_lines l "
    "LEFT JOIN shop.orders o ON l.order_id = o.order_id), "
    "f AS (SELECT customer_id, min(order_date) AS first_order FROM l "
    "WHERE customer_id IS NOT NULL GROUP BY customer_id), "
    "r AS (SELECT l.*, coalesce(date_trunc('month', f.first_order), DATE '1900-01-01') AS cohort "
    "FROM l LEFT JOIN f ON l.customer_id = f.customer_id), "
    "s AS (SELECT cohort, count(DISTINCT coalesce(customer_id, 0)) AS customers, "
    "count(*) AS lines FROM r GROUP BY cohort), "
    "d AS (SELECT DISTINCT r.product, r.cohort, r.amount > 50 AS kept, s.customers, s.lines "
    "FROM r JOIN s ON r.cohort = s.cohort) "
)
CASES = [
    pytest.param(  # one shipping cost per order and product, however many lines
        ["revenue", "shipping", "average_shipping"],
        {"by": ["product"]},
        f"SELECT r.product, r.revenue, s.shipping, s.average_shipping FROM "
        f"(SELECT product, sum(amount) AS revenue FROM shop.order_lines GROUP BY product) r JOIN "
        f"(SELECT product, sum(shipping_cost) AS shipping, avg(shipping_cost) AS average_shipping "
        f"FROM (SELECT DISTINCT l.product, o.order_id, o.shipping_cost FROM {LINES}) d "
        f"GROUP BY product) s ON r.product = s.product",
        id="order-measure-on-line-model",
    ),
    pytest.param(  # the metric's filter: on the order, or on its lines
        ["shipped_shipping", "big_line_shipping"],
        {},
        "SELECT (SELECT sum(shipping_cost) FROM shop.orders WHERE status = 'shipped' AND order_id "
        "IN (SELECT order_id FROM shop.order_lines)), (SELECT sum(shipping_cost) FROM shop.orders "
        "WHERE order_id IN (SELECT order_id FROM shop.order_lines WHERE amount > 50))",
        id="filtered-order-measure",
    ),
    pytest.param(  # row-level over the line and its product: the line's grain
        ["line_margin"],
        {"by": ["product"]},
        "SELECT l.product, sum(l.amount - p.unit_cost) FROM shop.order_lines l "
        "LEFT JOIN shop.products p ON l.product = p.product GROUP BY l.product",
        id="row-level-measure",
    ),
    pytest.param(  # lines -> orders -> customers -> regions: each customer's limit once
        ["credit"],
        {"by": ["regions.region"]},
        f"SELECT region, sum(credit_limit) FROM (SELECT DISTINCT g.region, c.customer_id, "
        f"c.credit_limit FROM {LINES} LEFT JOIN shop.regions g ON c.region_id = g.region_id) d "
        f"GROUP BY region",
        id="chained-joins",
    ),
    pytest.param(  # tags: each line once per distinct tag of its customer
        ["revenue", "shipping"],
        {"by": ["tag"]},
        f"SELECT t.tag, sum(l.amount), (SELECT sum(shipping_cost) FROM (SELECT DISTINCT "
        f"o2.order_id, o2.shipping_cost FROM shop.orders o2 JOIN shop.order_lines l2 ON "
        f"l2.order_id = o2.order_id LEFT JOIN (SELECT DISTINCT customer_id, tag FROM "
        f"shop.customer_tags) t2 ON o2.customer_id = t2.customer_id "
        f"WHERE t2.tag IS NOT DISTINCT FROM t.tag) d) FROM {LINES} LEFT JOIN "
        f"(SELECT DISTINCT customer_id, tag FROM shop.customer_tags) t "
        f"ON o.customer_id = t.customer_id GROUP BY t.tag",
        id="one-to-many",
    ),
    pytest.param(  # two models grouped by a column each reaches; orders' join is inner
        ["revenue", "order_shipping"],
        {"by": ["customers.segment"]},
        f"WITH a AS (SELECT c.segment, sum(l.amount) AS v FROM {LINES} GROUP BY c.segment), "
        "b AS (SELECT c.segment, sum(o.shipping_cost) AS v FROM shop.orders o "
        "JOIN shop.customers c ON o.customer_id = c.customer_id GROUP BY c.segment), "
        "g AS (SELECT segment FROM a UNION SELECT segment FROM b) "
        "SELECT g.segment, a.v, b.v FROM g LEFT JOIN a ON g.segment IS NOT DISTINCT FROM "
        "a.segment LEFT JOIN b ON g.segment IS NOT DISTINCT FROM b.segment",
        id="cross-model",
    ),
    pytest.param(  # a DATE and a TIMESTAMP period, an INTEGER and a BIGINT key
        ["order_count_left", "visit_count"],
        {"by": ["customers.customer_id"]},
        "WITH a AS (SELECT c.customer_id, count(*) AS v FROM shop.orders o LEFT JOIN "
        "shop.customers c ON o.customer_id = c.customer_id GROUP BY c.customer_id), "
        "b AS (SELECT c.customer_id, count(*) AS v FROM shop.visits v LEFT JOIN shop.customers c "
        "ON v.customer_id = c.customer_id GROUP BY c.customer_id), "
        "g AS (SELECT customer_id FROM a UNION SELECT customer_id FROM b) "
        "SELECT g.customer_id, a.v, b.v FROM g LEFT JOIN a ON g.customer_id IS NOT DISTINCT FROM "
        "a.customer_id LEFT JOIN b ON g.customer_id IS NOT DISTINCT FROM b.customer_id",
        id="cross-model-key-types",
    ),
    pytest.param(
        ["order_shipping", "visit_count"],
        {"grain": "month"},
        "WITH a AS (SELECT date_trunc('month', order_date) AS m, sum(shipping_cost) AS v "
        "FROM shop.orders GROUP BY 1), b AS (SELECT date_trunc('month', visited_at) AS m, "
        "count(*) AS v FROM shop.visits GROUP BY 1) "
        "SELECT a.m, a.v, b.v FROM a FULL JOIN b ON a.m = b.m",
        id="cross-model-period-types",
    ),
    pytest.param(  # inner: orders without a known customer drop out; left: they stay
        ["order_count", "order_count_left"],
        {"by": ["customers.segment"]},
        "WITH a AS (SELECT c.segment, count(*) AS v FROM shop.orders o JOIN shop.customers c "
        "ON o.customer_id = c.customer_id GROUP BY c.segment), "
        "b AS (SELECT c.segment, count(*) AS v FROM shop.orders o LEFT JOIN shop.customers c "
        "ON o.customer_id = c.customer_id GROUP BY c.segment) "
        "SELECT b.segment, a.v, b.v FROM b LEFT JOIN a ON b.segment IS NOT DISTINCT FROM a.segment",
        id="inner-vs-left",
    ),
    pytest.param(  # per dimensions: each cohort once per group, whatever its lines
        ["revenue", "cohort_size", "cohort_line_count"],
        {"by": ["cohort", "product"]},
        f"{COHORTS}SELECT a.cohort, a.product, a.revenue, g.customers, g.lines FROM "
        "(SELECT cohort, product, sum(amount) AS revenue FROM r GROUP BY 1, 2) a JOIN "
        "(SELECT cohort, product, max(customers) AS customers, "
        "sum(lines) FILTER (WHERE kept) AS lines FROM d GROUP BY 1, 2) g "
        "ON a.cohort = g.cohort AND a.product = g.product",
        id="per-dimension-by-its-key",
    ),
    pytest.param(  # each cohort once per product
        ["cohort_size", "cohort_line_count"],
        {"by": ["product"]},
        f"{COHORTS}SELECT product, max(customers), sum(lines) FILTER (WHERE kept) FROM d "
        "GROUP BY product",
        id="per-dimension-by-another-column",
    ),
    pytest.param(  # computed before the query's conditions: the cohort's size, not its pens'
        ["cohort_size"],
        {"by": ["cohort", "cohort_customers"], "where": ["product = 'pen'"]},
        f"{COHORTS}SELECT DISTINCT cohort, customers, customers FROM d WHERE product = 'pen'",
        id="per-dimension-filtered",
    ),
]


@pytest.fixture(scope="module")
def shop(
    shared_warehouse: Warehouse, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Warehouse, metrics.SemanticLayer]:
    shared_warehouse.ensure_schema("shop")
    for name, columns in TABLES.items():
        table = pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in ROWS[name]])
        shared_warehouse.con.create_table(name, table, database="shop", overwrite=True)
    shared_warehouse.con.create_table("visits", VISITS, database="shop", overwrite=True)
    root = tmp_path_factory.mktemp("metrics_grain")
    (root / "analytics").mkdir()
    (root / "analytics" / "shop.yml").write_text(textwrap.dedent(ANALYTICS))
    return shared_warehouse, metrics.load(root)


def _value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return round(float(value), 6)


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    normal = [tuple(_value(v) for v in row) for row in rows]
    return sorted(normal, key=lambda row: [(v is None, str(v)) for v in row])


@pytest.mark.parametrize(("names", "options", "sql"), CASES)
def test_a_query_equals_hand_written_sql(shop, names, options, sql):
    warehouse, layer = shop
    expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
    found = [tuple(row.values()) for row in warehouse.rows(expr)]
    expected = warehouse.con.raw_sql(sql).fetchall()
    assert _sorted(found) == _sorted(expected)


def test_an_inner_join_is_an_inner_join(shop):
    warehouse, layer = shop
    expr = metrics.query(["order_count"], by="segment", warehouse=warehouse, project=layer)
    assert "INNER JOIN" in warehouse.sql(expr).upper()


@pytest.mark.parametrize(
    ("names", "options", "words"),
    [
        pytest.param(  # a bridge declared many_to_one: rows would repeat
            ["tagged_orders"], {"by": ["tag"]},
            ["tagged_orders", "model tagged_orders", "join tags", "customer_id=1"],
            id="many-to-many",
        ),
        pytest.param(  # two joins, neither reaching the other: no grain
            ["mixed"], {}, ["'mixed'", "model lines", "orders, products"], id="no-grain",
        ),
        pytest.param(  # visits cannot reach products
            ["revenue", "visit_count"], {"by": ["products.product"]},
            ["visit_count", "model visits", "'products.product'"], id="cross-model-unreachable",
        ),
        pytest.param(  # a grain on a model without `time:` names the column it could use
            ["order_count_left"], {"grain": "month"},
            ["models.orders_left.time", "model orders_left has order_date: add time: order_date"],
            id="no-time",
        ),
    ],
)  # fmt: skip
def test_a_query_the_layer_cannot_build_fails_with_one_line(shop, names, options, words):
    warehouse, layer = shop
    with pytest.raises(WarehouseKitError) as failure:
        metrics.query(names, warehouse=warehouse, project=layer, **options)
    message = str(failure.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_keys_come_from_the_pipeline():
    catalog = load_catalog(Project.load(REPO_ROOT))
    keys = {name: catalog_keys(catalog.graph.models[catalog.find(name)]) for name in
            ("fact_orders", "dim_customer", "dim_product", "mart_monthly_sales")}  # fmt: skip
    assert keys["fact_orders"][0] == ("order_item_id",)  # incremental: unique_key
    assert keys["dim_customer"][0] == ("customer_key",)  # type 2: the surrogate key only
    assert ("product_id",) in keys["dim_product"]  # type 1: the natural key too
    assert keys["mart_monthly_sales"] == ()
