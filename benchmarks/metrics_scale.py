"""The example KPIs through warehouse-kit's metrics layer against hand-written DuckDB SQL.

Builds the example warehouse at scale the way users build it: the demo seed
CSVs (``warehouse_kit.demo.generate``, about --lines order lines) and the
pipeline (pipelines/seeds-to-warehouse.yml, ``warehouse_kit.run``). The seeds
and the warehouse are kept in --work, and a rerun with the same --lines and
--seed reuses them. Then, on that one warehouse file, opened once and read
only, it runs the KPIs of analytics/retail.yml two ways:

- warehouse-kit: ``metrics.query(...)`` with the warehouse, then
  ``.to_pyarrow()``, in this process and warm: the connection has read the
  tables' schemas and compiled the query before (`metrics.cache`), so what
  it adds to the engine's time is the lookup, Ibis compiling the expression
  to SQL and the query's own shape;
- the baseline: the same query written by hand in DuckDB SQL, on the same
  DuckDB connection (``con.sql(...).to_arrow_table()``).

It runs the example's KPI queries and the six KPI shapes of issue 20 (a
single-table aggregate, a filtered sum, a multi-join by two dimensions, a
period-over-period, a ratio, a count distinct). Each pair of results is
checked first: the same rows, in the same order, with values equal to 1e-9
(relative). Then each query runs once per side to warm up, and --repeat times
per side, alternating; the best counts. The script prints, for the queries,
warehouse-kit seconds, building the expression from scratch (``compile``: a
first query), SQL seconds and their ratio, and the ratio of the totals; for
the shapes, SQL and warehouse-kit seconds, the difference and the ratio. With
--show-sql it prints the SQL warehouse-kit generates for each query.

    .venv/bin/python benchmarks/metrics_scale.py --work /tmp/wk-metrics-10m
    .venv/bin/python benchmarks/metrics_scale.py --rows 100000 --work /tmp/wk-metrics-small
"""

# The SQL is built from this file's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from warehouse_kit import demo
from warehouse_kit.analytics import metrics
from warehouse_kit.analytics.metrics import cache
from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "seeds-to-warehouse.yml"
TABLES = ("customers", "products", "orders", "order_items")
TARGET_RATIO = 1.2

SALE = "f.status IN ('completed', 'shipped')"
# The fact and the dimensions a query needs (LEFT JOINs: every line counts).
FACT = "gold.fact_orders f"
CUSTOMER = "LEFT JOIN gold.dim_customer c ON f.customer_key = c.customer_key"
PRODUCT = "LEFT JOIN gold.dim_product p ON f.product_key = p.product_key"
DATE = "LEFT JOIN gold.dim_date d ON f.date_key = d.date_key"
# Each line with its customer's natural key and day; each customer's first sale.
FIRST_SALES = f"""
    lines AS (
        SELECT c.customer_id, d.date, {SALE} AS is_sale
        FROM {FACT} {CUSTOMER} {DATE}
    ),
    firsts AS (
        SELECT customer_id, min(date) AS first_date
        FROM lines WHERE is_sale AND customer_id IS NOT NULL GROUP BY customer_id
    )"""


@dataclass
class Query:
    name: str
    metrics: list[str] | str
    options: dict[str, Any]
    sql: str
    ordered_by_sql: bool = True
    """The SQL orders its rows as warehouse-kit does (else rows are compared as sets)."""


QUERIES = [
    Query(
        "revenue, orders, aov by month",
        ["revenue", "orders", "aov"],
        {"grain": "month"},
        f"""
        SELECT date_trunc('month', d.date) AS month,
            sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS orders,
            CAST(sum(f.amount) FILTER (WHERE {SALE}) AS DOUBLE)
                / count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS aov
        FROM {FACT} {DATE}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "revenue, orders, aov by segment x month",
        ["revenue", "orders", "aov"],
        {"by": ["segment"], "grain": "month"},
        f"""
        SELECT date_trunc('month', d.date) AS month, c.segment,
            sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS orders,
            CAST(sum(f.amount) FILTER (WHERE {SALE}) AS DOUBLE)
                / count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS aov
        FROM {FACT} {CUSTOMER} {DATE}
        GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST""",
    ),
    Query(
        "units by category",
        ["units"],
        {"by": ["category"]},
        f"""
        SELECT p.category, sum(f.quantity) FILTER (WHERE {SALE}) AS units
        FROM {FACT} {PRODUCT}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "active customers by month",
        ["active_customers"],
        {"grain": "month"},
        f"""
        SELECT date_trunc('month', d.date) AS month,
            count(DISTINCT c.customer_id) FILTER (WHERE {SALE}) AS active_customers
        FROM {FACT} {CUSTOMER} {DATE}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "new vs returning customers by month",
        ["active_customers", "new_customers", "returning_customers"],
        {"grain": "month"},
        f"""
        WITH {FIRST_SALES},
        counts AS (
            SELECT date_trunc('month', l.date) AS month,
                count(DISTINCT l.customer_id) FILTER (WHERE l.is_sale) AS active,
                count(DISTINCT l.customer_id)
                    FILTER (WHERE l.is_sale AND l.date = s.first_date) AS new
            FROM lines l LEFT JOIN firsts s ON l.customer_id = s.customer_id
            GROUP BY 1
        )
        SELECT month, active, new, active - new FROM counts ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "retention by cohort x month",
        "cohort_retention",
        {},
        f"""
        WITH {FIRST_SALES},
        cohorts AS (
            SELECT date_trunc('month', first_date) AS cohort, count(*) AS size
            FROM firsts GROUP BY 1
        ),
        activity AS (
            SELECT date_trunc('month', s.first_date) AS cohort,
                (year(l.date) - year(s.first_date)) * 12
                    + month(l.date) - month(s.first_date) AS months,
                count(DISTINCT l.customer_id) FILTER (WHERE l.is_sale) AS active
            FROM lines l JOIN firsts s ON l.customer_id = s.customer_id
            GROUP BY 1, 2
        )
        SELECT a.cohort, a.months, c.size, a.active, CAST(a.active AS DOUBLE) / c.size
        FROM activity a JOIN cohorts c ON a.cohort = c.cohort
        ORDER BY 1, 2 NULLS LAST""",
    ),
    Query(
        "top 5 categories",
        "top_categories",
        {},
        f"""
        SELECT p.category, sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            sum(f.quantity) FILTER (WHERE {SALE}) AS units,
            count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS orders
        FROM {FACT} {PRODUCT}
        GROUP BY 1 ORDER BY revenue DESC LIMIT 5""",
    ),
]

SHAPES = [
    Query(
        "single-table aggregate",
        ["revenue", "units", "order_lines"],
        {"by": ["channel"]},
        f"""
        SELECT f.channel, sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            sum(f.quantity) FILTER (WHERE {SALE}) AS units,
            count(*) FILTER (WHERE {SALE}) AS order_lines
        FROM {FACT}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "filtered sum",
        ["revenue"],
        {"where": ["channel = 'web'", "quantity > 1"]},
        f"""
        SELECT sum(f.amount) FILTER (WHERE {SALE}) AS revenue
        FROM {FACT} WHERE f.channel = 'web' AND f.quantity > 1""",
    ),
    Query(
        "multi-join by two dimensions",
        ["revenue", "orders"],
        {"by": ["segment", "category"]},
        f"""
        SELECT c.segment, p.category, sum(f.amount) FILTER (WHERE {SALE}) AS revenue,
            count(DISTINCT f.order_id) FILTER (WHERE {SALE}) AS orders
        FROM {FACT} {CUSTOMER} {PRODUCT}
        GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST""",
    ),
    Query(
        "period-over-period",
        ["revenue"],
        {"grain": "month", "compare": ["previous_period"]},
        f"""
        WITH m AS (
            SELECT date_trunc('month', d.date) AS month,
                sum(f.amount) FILTER (WHERE {SALE}) AS revenue
            FROM {FACT} {DATE} GROUP BY 1
        )
        SELECT m.month, m.revenue, p.revenue AS before,
            (CAST(m.revenue AS DOUBLE) - p.revenue) / nullif(p.revenue, 0) AS change
        FROM m LEFT JOIN m AS p ON p.month + INTERVAL 1 MONTH = m.month
        ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "ratio",
        ["return_rate"],
        {"by": ["category"]},
        f"""
        SELECT p.category,
            CAST(count(DISTINCT f.order_id) FILTER (WHERE f.status = 'returned') AS DOUBLE)
                / count(DISTINCT f.order_id) AS return_rate
        FROM {FACT} {PRODUCT}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
    Query(
        "count distinct",
        ["active_customers"],
        {"by": ["country"]},
        f"""
        SELECT c.country, count(DISTINCT c.customer_id) FILTER (WHERE {SALE})
        FROM {FACT} {CUSTOMER}
        GROUP BY 1 ORDER BY 1 NULLS LAST""",
    ),
]
"""The six KPI shapes of issue 20, each against the same SQL on the same connection."""
SHAPES_TARGET = 1.1


@dataclass
class Timing:
    wk: list[float] = field(default_factory=list)
    compile: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    wk_cpu: list[float] = field(default_factory=list)
    """CPU seconds of the process (every DuckDB thread): steadier than the wall clock
    on a machine others share."""
    sql_cpu: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines", "--rows", type=int, default=10_000_000, help="about this many fact rows"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/wk-metrics"), help="seeds and warehouse, kept"
    )
    parser.add_argument("--repeat", type=int, default=3, help="warm runs of each side")
    parser.add_argument("--show-sql", action="store_true", help="print warehouse-kit's SQL")
    parser.add_argument("--only", help="run only the queries whose name contains this")
    return parser.parse_args()


# --- the warehouse --------------------------------------------------------------------


def build(args: argparse.Namespace) -> Path:
    """The example warehouse at about --lines order lines, built once per --work."""
    database = args.work / "warehouse.duckdb"
    marker = args.work / "built.json"
    wanted = {"lines": args.lines, "seed": args.seed}
    if database.is_file() and marker.is_file() and json.loads(marker.read_text()) == wanted:
        print(f"reusing the warehouse {database}")
        return database
    marker.unlink(missing_ok=True)
    seeds = args.work / "seeds"
    if seeds.exists():
        shutil.rmtree(seeds)
    started = time.perf_counter()
    rows = demo.generate(seeds, orders=round(args.lines / 2.5), seed=args.seed)
    print(f"generated {rows} in {seeds} in {time.perf_counter() - started:.1f} s")
    for path in (database, database.with_name(database.name + ".wal")):
        path.unlink(missing_ok=True)
    os.environ["WK_SEEDS"] = str(seeds)
    started = time.perf_counter()
    result = run(ROOT, pipelines=[PIPELINE], target=f"duckdb://{database}")
    if not result.ok:
        raise SystemExit(f"the pipeline failed: {[m.error for m in result.failures()]}")
    print(f"built {database} with the pipeline in {time.perf_counter() - started:.1f} s")
    marker.write_text(json.dumps(wanted))
    return database


# --- running and checking -------------------------------------------------------------


def run_wk(layer: metrics.SemanticLayer, warehouse: Warehouse, query: Query) -> pa.Table:
    expr = metrics.query(query.metrics, warehouse=warehouse, project=layer, **query.options)
    return expr.to_pyarrow()


def run_sql(con: duckdb.DuckDBPyConnection, query: Query) -> pa.Table:
    return con.sql(query.sql).to_arrow_table()


def normal(value: Any) -> Any:
    """Values both sides agree on: dates, floats, text, None."""
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else number
    return value


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    return [tuple(normal(v) for v in row.values()) for row in table.to_pylist()]


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def check(name: str, wk: pa.Table, sql: pa.Table, ordered: bool) -> str:
    """An empty string when both sides agree, else what differs."""
    mine, theirs = rows_of(wk), rows_of(sql)
    if not ordered:
        mine, theirs = sorted(mine, key=repr), sorted(theirs, key=repr)
    if len(mine) != len(theirs):
        return f"{name}: {len(mine)} rows from warehouse-kit, {len(theirs)} from SQL"
    for got, want in zip(mine, theirs, strict=True):
        if len(got) != len(want) or not all(map(close, got, want)):
            return f"{name}: warehouse-kit {got} against SQL {want}"
    return ""


def best(seconds: list[float]) -> float:
    return min(seconds)


def timed(function: Callable[[], Any], cpu: list[float] | None = None) -> float:
    """Wall seconds of `function()`; its CPU seconds are appended to `cpu`."""
    started, cpu_started = time.perf_counter(), time.process_time()
    function()
    if cpu is not None:
        cpu.append(time.process_time() - cpu_started)
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}, Ibis {ibis.__version__}"
    )
    database = build(args)
    layer = metrics.load(ROOT)
    warehouse = connect(f"duckdb://{database}", read_only=True)
    con = warehouse.con.con  # the same DuckDB connection for both sides
    (lines,) = con.sql("SELECT count(*) FROM gold.fact_orders").fetchone()
    print(f"gold.fact_orders: {lines:,} order lines\n")
    chosen = {
        title: [q for q in queries if not args.only or args.only in q.name]
        for title, queries in (("KPI queries", QUERIES), ("KPI shapes", SHAPES))
    }
    for queries in chosen.values():
        agree(layer, warehouse, queries, args.show_sql)
    timings = measure(layer, warehouse, [q for qs in chosen.values() for q in qs], args.repeat)
    warehouse.close()
    print(f"\nbest of {args.repeat} warm runs, seconds:")
    if chosen["KPI queries"]:
        report_queries({q.name: timings[q.name] for q in chosen["KPI queries"]})
    if chosen["KPI shapes"]:
        report_shapes({q.name: timings[q.name] for q in chosen["KPI shapes"]})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the process: {peak_mb:,.0f} MB")


def agree(
    layer: metrics.SemanticLayer, warehouse: Warehouse, queries: list[Query], show_sql: bool
) -> None:
    """Each query's result against its SQL's (also the warm-up); stops if one differs."""
    con = warehouse.con.con
    problems = []
    for query in queries:
        wk, sql = run_wk(layer, warehouse, query), run_sql(con, query)
        problem = check(query.name, wk, sql, query.ordered_by_sql)
        print(f"  {query.name:<40} {wk.num_rows:>5} rows  {problem or 'results agree'}")
        if problem:
            problems.append(problem)
        if show_sql:
            expr = metrics.query(query.metrics, warehouse=warehouse, project=layer, **query.options)
            print(ibis.to_sql(expr, dialect="duckdb"), "\n")
    if problems:
        raise SystemExit("results DIFFER:\n" + "\n".join(problems))


def measure(
    layer: metrics.SemanticLayer, warehouse: Warehouse, queries: list[Query], repeat: int
) -> dict[str, Timing]:
    """Each query `repeat` times per side, alternating. warehouse-kit's call is warm (the
    connection has read the schemas and compiled the query before, as a dashboard's
    second refresh); `compile` is building the query's expression from scratch."""
    con = warehouse.con.con
    timings = {q.name: Timing() for q in queries}
    for _ in range(repeat):
        for query in queries:
            timing = timings[query.name]
            timing.wk.append(timed(lambda q=query: run_wk(layer, warehouse, q), timing.wk_cpu))
            timing.sql.append(timed(lambda q=query: run_sql(con, q), timing.sql_cpu))
    for _ in range(repeat):  # after: each cold build drops what the connection kept
        for query in queries:
            timing = timings[query.name]
            timing.compile.append(timed(lambda q=query: build_cold(layer, warehouse, q)))
    return timings


def build_cold(layer: metrics.SemanticLayer, warehouse: Warehouse, query: Query) -> None:
    cache.forget(warehouse)
    metrics.query(query.metrics, warehouse=warehouse, project=layer, **query.options)


def report_queries(timings: dict[str, Timing]) -> None:
    print(
        f"  {'query':<40} {'warehouse-kit':>13} {'(compile)':>9} {'SQL':>7} {'wk / SQL':>9} "
        f"{'CPU ratio':>10}"
    )
    total_wk = total_sql = 0.0
    for name, timing in timings.items():
        wk, sql = best(timing.wk), best(timing.sql)
        total_wk, total_sql = total_wk + wk, total_sql + sql
        cpu = best(timing.wk_cpu) / best(timing.sql_cpu)
        print(
            f"  {name:<40} {wk:13.3f} {best(timing.compile):9.3f} {sql:7.3f} {wk / sql:8.2f}x "
            f"{cpu:9.2f}x"
        )
    ratio = total_wk / total_sql
    print(f"  {'total':<40} {total_wk:13.3f} {'':9} {total_sql:7.3f} {ratio:8.2f}x")
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"target: within {TARGET_RATIO}x in total ({verdict})")
    slow = [n for n, t in timings.items() if best(t.wk) / best(t.sql) > TARGET_RATIO]
    if slow:
        print(f"queries over {TARGET_RATIO}x: {', '.join(slow)}")


def report_shapes(timings: dict[str, Timing]) -> None:
    print(
        f"\n  {'shape':<32} {'SQL':>8} {'wk':>8} {'wk - SQL':>9} {'wk / SQL':>9} {'CPU ratio':>10}"
    )
    for name, timing in timings.items():
        wk, sql = best(timing.wk), best(timing.sql)
        extra_ms = (wk - sql) * 1000
        cpu = best(timing.wk_cpu) / best(timing.sql_cpu)
        print(f"  {name:<32} {sql:8.3f} {wk:8.3f} {extra_ms:7.1f}ms {wk / sql:8.2f}x {cpu:9.2f}x")
    slow = [n for n, t in timings.items() if best(t.wk) / best(t.sql) > SHAPES_TARGET]
    verdict = f"missed by {', '.join(slow)}" if slow else "met"
    print(f"target: each within {SHAPES_TARGET}x ({verdict})")


if __name__ == "__main__":
    main()
