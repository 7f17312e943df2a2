"""warehouse-kit's quality checks against hand-written DuckDB SQL and pandera, at scale.

Generates --rows orders (10M by default) deterministically with DuckDB SQL
into a DuckDB file (``silver.orders``, plus 100,000 ``silver.customers``),
with a known number of violations of each of ten checks: seven row-level
(not_null, unique, accepted_values, range, regex, relationships, expression)
and three table-level (row_count, null_percentage, freshness). Then it
measures, --repeat times each, taking turns:

- warehouse-kit: ``quality.evaluate(table, checks, context)``, the whole
  call (validation, the one aggregate, the sample queries), with
  ``sample_size=0`` (compared with the SQL) and with ``sample_size=5``;
- the baseline: one hand-written DuckDB aggregate query computing the same
  counts and measures, run with the duckdb module on the same file;

and afterwards, in a child process of its own (for its peak RSS), pandera
0.35 on pandas: the same checks as a ``DataFrameSchema``, validated lazily on
the same data loaded into a DataFrame (load and validation timed apart).

Prints the best times, the ratios, the peak RSS, and a cross-check that the
three agree with each other and with the numbers the generator planted.

    .venv/bin/python benchmarks/quality_scale.py                 # 10M rows, best of 3
    .venv/bin/python benchmarks/quality_scale.py --rows 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from warehouse_kit.core import quality
from warehouse_kit.core.backends import Warehouse, connect, use_enough_threads

TARGET_RATIO, TARGET_ROWS = 1.3, 10_000_000
CUSTOMERS = 100_000
START = datetime(2026, 1, 1)
STATUSES = ("placed", "shipped", "delivered", "returned")
EMAIL_PATTERN = r"^[^@ ]+@[^@ ]+\.[a-z]+$"
MAX_NULL_SHARE = 0.004
MAX_AGE = timedelta(days=1)
QUIET = "SET enable_progress_bar = false"

# Row i (0-based) of silver.orders breaks a rule when i % modulus == remainder;
# the remainders are chosen so that no two rules of one column meet on a row.
PLANTED = {
    "not_null_email": (1_000, 1),  # email NULL
    "regex_email": (1_000, 2),  # email without '@'
    "accepted_values_status": (2_000, 6),  # status 'unknown'
    "status_null": (3_000, 7),  # status NULL: passes accepted_values
    "amount_negative": (5_000, 8),
    "amount_too_high": (7_000, 9),
    "shipped_before_created": (8_000, 10),
    "relationships_customer_id": (10_000, 3),  # a customer that does not exist
    "customer_id_null": (20_000, 5),  # passes relationships
    "country_null": (200, 11),
    "duplicate_order_id": (100_000, 99_999),  # takes the previous row's order_id
}

GENERATE = """
CREATE SCHEMA silver;
CREATE TABLE silver.customers AS
SELECT i AS customer_id, 'customer ' || i AS name
FROM range(1, getvariable('n_customers') + 1) AS t(i);
CREATE TABLE silver.orders AS
WITH base AS (
    SELECT i, TIMESTAMP '2026-01-01' + to_seconds(i) AS created_at,
        CASE WHEN i % 2000 = 6 THEN 'unknown' WHEN i % 3000 = 7 THEN NULL
             ELSE ['placed', 'shipped', 'delivered', 'returned'][i % 4 + 1] END AS status
    FROM range(getvariable('n_rows')) AS t(i)
)
SELECT
    CASE WHEN i % 100000 = 99999 THEN i ELSE i + 1 END AS order_id,
    CASE WHEN i % 10000 = 3 THEN getvariable('n_customers') + 1 + i % 1000
         WHEN i % 20000 = 5 THEN NULL
         ELSE (i * 7919) % getvariable('n_customers') + 1 END AS customer_id,
    CASE WHEN i % 1000 = 1 THEN NULL
         WHEN i % 1000 = 2 THEN 'user' || i || '.example.com'
         ELSE 'user' || i || '@example.com' END AS email,
    status,
    CASE WHEN i % 5000 = 8 THEN -12.34
         WHEN i % 7000 = 9 THEN 20000
         ELSE ((i * 37) % 1000000) / 100 END::DECIMAL(12, 2) AS amount,
    (1 + i % 20)::INTEGER AS quantity,
    created_at,
    CASE WHEN i % 8000 = 10 THEN created_at - INTERVAL 1 HOUR
         WHEN status = 'placed' THEN NULL
         ELSE created_at + to_hours(1 + i % 72) END AS shipped_at,
    CASE WHEN i % 200 = 11 THEN NULL
         ELSE ['NL', 'DE', 'FR', 'BE', 'US'][i % 5 + 1] END AS country
FROM base
ORDER BY i;
"""

CHECKS: list[dict[str, Any]] = [
    {"type": "not_null", "field": "email", "action": "quarantine"},
    {"type": "unique", "field": "order_id", "action": "quarantine"},
    {
        "type": "accepted_values",
        "field": "status",
        "values": list(STATUSES),
        "action": "quarantine",
    },
    {"type": "range", "field": "amount", "min": 0, "max": 10_000, "action": "quarantine"},
    {"type": "regex", "field": "email", "pattern": EMAIL_PATTERN},
    {"type": "relationships", "field": "customer_id", "to": "silver.customers"},
    {
        "type": "expression",
        "name": "shipped_after_created",
        "expression": "shipped_at IS NULL OR shipped_at >= created_at",
    },
    {"type": "row_count", "min": 1, "action": "reject"},
    {
        "type": "null_percentage",
        "fields": ["customer_id", "country"],
        "max_allowed": MAX_NULL_SHARE,
    },
    {"type": "freshness", "field": "created_at", "max_age": "1d", "action": "reject"},
]
ROW_CHECKS = [
    "not_null_email",
    "unique_order_id",
    "accepted_values_status",
    "range_amount",
    "regex_email",
    "relationships_customer_id",
    "shipped_after_created",
]
TABLE_CHECKS = ["row_count", "null_percentage_customer_id_country", "freshness_created_at"]

# One scan for the row-level counts and the table-level measures; the
# duplicates come from a GROUP BY, the missing customers from a left join
# on the customer keys (the hand-written way to say "not in").
SQL = """
WITH duplicates AS (
    SELECT coalesce(sum(n), 0) AS rows FROM (
        SELECT count(*) AS n FROM silver.orders
        WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1
    )
)
SELECT
    count(*) AS "row_count",
    count(*) FILTER (WHERE o.email IS NULL) AS "not_null_email",
    (SELECT rows FROM duplicates) AS "unique_order_id",
    count(*) FILTER (WHERE o.status NOT IN ('placed', 'shipped', 'delivered', 'returned'))
        AS "accepted_values_status",
    count(*) FILTER (WHERE o.amount < 0 OR o.amount > 10000) AS "range_amount",
    count(*) FILTER (WHERE NOT regexp_matches(o.email, '^[^@ ]+@[^@ ]+\\.[a-z]+$'))
        AS "regex_email",
    count(*) FILTER (WHERE o.customer_id IS NOT NULL AND c.customer_id IS NULL)
        AS "relationships_customer_id",
    count(*) FILTER (WHERE NOT (o.shipped_at IS NULL OR o.shipped_at >= o.created_at))
        AS "shipped_after_created",
    count(*) FILTER (WHERE o.customer_id IS NULL) AS "customer_id_nulls",
    count(*) FILTER (WHERE o.country IS NULL) AS "country_nulls",
    max(o.created_at) AS "newest_created_at"
FROM silver.orders AS o
LEFT JOIN silver.customers AS c ON o.customer_id = c.customer_id
"""

T = TypeVar("T")
Counts = dict[str, Any]
"""Check name -> failing rows (row-level) or verdict (table-level: True is a pass)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of silver.orders")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    parser.add_argument(
        "--samples",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time warehouse-kit with sample_size=5 (default: yes)",
    )
    parser.add_argument(
        "--library", action=argparse.BooleanOptionalAction, default=True, help="run pandera"
    )
    parser.add_argument(
        "--profile", action="store_true", help="time warehouse-kit's queries and parts of the SQL"
    )
    parser.add_argument("--keep", type=Path, help="generate the database here, or reuse it")
    return parser.parse_args()


# --- data ------------------------------------------------------------------------------


def planted(name: str, rows: int) -> int:
    """How many of rows 0..rows-1 the generator made break rule `name`."""
    modulus, remainder = PLANTED[name]
    return (rows - remainder + modulus - 1) // modulus if rows > remainder else 0


def expected(rows: int) -> Counts:
    """What every side must find: the planted counts and the table-level verdicts."""
    null_shares = [planted(n, rows) / rows for n in ("customer_id_null", "country_null")]
    return {
        "not_null_email": planted("not_null_email", rows),
        "unique_order_id": 2 * planted("duplicate_order_id", rows),
        "accepted_values_status": planted("accepted_values_status", rows),
        "range_amount": planted("amount_negative", rows) + planted("amount_too_high", rows),
        "regex_email": planted("regex_email", rows),
        "relationships_customer_id": planted("relationships_customer_id", rows),
        "shipped_after_created": planted("shipped_before_created", rows),
        "row_count": True,
        "null_percentage_customer_id_country": max(null_shares) <= MAX_NULL_SHARE,
        "freshness_created_at": True,
    }


def now_for(rows: int) -> datetime:
    """The moment freshness measures against: an hour after the newest order."""
    return START + timedelta(seconds=rows - 1, hours=1)


def generate(database: Path, rows: int) -> float:
    """Write the tables into `database` (run in a child process); returns the seconds."""
    started = time.perf_counter()
    with duckdb.connect(str(database)) as con:
        con.execute(QUIET)
        con.execute("SET VARIABLE n_rows = $1::BIGINT", [rows])
        con.execute("SET VARIABLE n_customers = $1::BIGINT", [CUSTOMERS])
        con.execute(GENERATE)
        con.execute("CHECKPOINT")
    return time.perf_counter() - started


def in_child(function: Callable[..., Any], *args: Any) -> Any:
    """`function(*args)` in a fresh process: its memory (and peak RSS) is its own."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(function, *args).result()


def database_for(args: argparse.Namespace, scratch: Path) -> Path:
    database = args.keep or scratch / "quality.duckdb"
    if database.exists():
        with duckdb.connect(str(database), read_only=True) as con:
            (rows,) = con.execute("SELECT count(*) FROM silver.orders").fetchall()[0]
        if rows == args.rows:
            print(f"reusing {database} ({rows:,} rows)")
            return database
        database.unlink()
    seconds = in_child(generate, database, args.rows)
    size = database.stat().st_size / 2**20
    print(f"generated {args.rows:,} orders in {database} ({size:,.0f} MB) in {seconds:.1f} s")
    return database


# --- warehouse-kit ---------------------------------------------------------------------


def wk_setup(database: Path, rows: int) -> tuple[Warehouse, Callable[[int], quality.CheckResults]]:
    """The warehouse and a function running `evaluate` with a sample size."""
    warehouse = connect(f"duckdb:///{database}", read_only=True)
    warehouse.con.con.execute(QUIET)
    checks = quality.parse_checks(CHECKS, file="benchmarks/quality_scale.py", key_path="checks")

    def tables(reference: str) -> Any:
        schema, name = reference.split(".")
        return warehouse.table(name, schema)

    context = quality.CheckContext(
        model="silver.orders",
        warehouse=warehouse,
        tables=tables,
        key=("order_id",),
        now=now_for(rows),
    )
    table = warehouse.table("orders", "silver")

    def run(sample_size: int) -> quality.CheckResults:
        return quality.evaluate(table, checks, context, sample_size=sample_size)

    return warehouse, run


def wk_counts(results: quality.CheckResults, sample_size: int) -> Counts:
    if sample_size and not all(r.sample for r in results if r.check in ROW_CHECKS):
        raise SystemExit("warehouse-kit: a failing row-level check has no sample")
    counts: Counts = {r.check: r.failing_rows for r in results if r.check in ROW_CHECKS}
    counts.update({r.check: r.status == "pass" for r in results if r.check in TABLE_CHECKS})
    return counts


# --- hand-written SQL ------------------------------------------------------------------


def sql_setup(database: Path, rows: int) -> tuple[duckdb.DuckDBPyConnection, Callable[[], Counts]]:
    con = duckdb.connect(str(database), read_only=True)
    use_enough_threads(con)  # DuckDB as warehouse-kit sets it up
    con.execute(QUIET)
    now = now_for(rows)

    def run() -> Counts:
        cursor = con.execute(SQL)
        names = [d[0] for d in cursor.description]
        values = dict(zip(names, cursor.fetchall()[0], strict=True))
        total = values["row_count"]
        counts: Counts = {name: values[name] for name in ROW_CHECKS}
        worst = max(values["customer_id_nulls"], values["country_nulls"])
        counts["row_count"] = total >= 1
        counts["null_percentage_customer_id_country"] = worst / total <= MAX_NULL_SHARE
        newest = values["newest_created_at"]
        counts["freshness_created_at"] = newest is not None and now - newest <= MAX_AGE
        return counts

    return con, run


# --- pandera ---------------------------------------------------------------------------


def pandera_schema(customer_ids: Any, now: datetime) -> Any:
    import pandera.pandas as pa

    def shipped_after_created(df: Any) -> Any:
        return df["shipped_at"].isna() | (df["shipped_at"] >= df["created_at"])

    def null_share(df: Any) -> bool:
        return bool(df[["customer_id", "country"]].isna().mean().max() <= MAX_NULL_SHARE)

    def fresh(df: Any) -> bool:
        newest = df["created_at"].max()
        return bool(newest == newest and now - newest <= MAX_AGE)

    return pa.DataFrameSchema(
        {
            "order_id": pa.Column(unique=True, nullable=True),
            "email": pa.Column(nullable=False, checks=pa.Check.str_contains(EMAIL_PATTERN)),
            "status": pa.Column(nullable=True, checks=pa.Check.isin(STATUSES)),
            "amount": pa.Column(nullable=True, checks=pa.Check.in_range(0, 10_000)),
            "customer_id": pa.Column(nullable=True, checks=pa.Check.isin(customer_ids)),
        },
        checks=[
            pa.Check(shipped_after_created, name="shipped_after_created"),
            pa.Check(lambda df: len(df) >= 1, name="row_count"),
            pa.Check(null_share, name="null_percentage_customer_id_country"),
            pa.Check(fresh, name="freshness_created_at"),
        ],
    )


def pandera_counts(errors: Any) -> Counts:
    """The failing rows per check from pandera's failure cases (one per row and column)."""
    counts: Counts = dict.fromkeys(ROW_CHECKS, 0)
    failed_tables: set[str] = set()
    if errors is not None:
        cases = errors.failure_cases
        groups = cases.groupby(["schema_context", "column", "check"], dropna=False)["index"]
        for (where, column, check), index in groups:
            by_column = PANDERA_NAMES.get(column, check) if where == "Column" else check
            name = PANDERA_NAMES.get((column, check), by_column)
            if name in TABLE_CHECKS:
                failed_tables.add(name)
            else:  # a DataFrame-wide check reports a failing row once per column
                counts[name] = int(index.nunique())
    counts.update({name: name not in failed_tables for name in TABLE_CHECKS})
    return counts


PANDERA_NAMES = {
    ("email", "not_nullable"): "not_null_email",
    ("order_id", "field_uniqueness"): "unique_order_id",
    "email": "regex_email",
    "status": "accepted_values_status",
    "amount": "range_amount",
    "customer_id": "relationships_customer_id",
}
"""Our check names for pandera's failure cases: by (column, check), else by column
(pandera names a built-in check after its arguments, such as ``in_range(0, 10000)``)."""


def run_pandera(database: Path, rows: int, repeat: int) -> dict[str, Any]:
    """Load the tables into pandas and validate `repeat` times (in a child process)."""
    import pandas as pd
    from pandera.errors import SchemaErrors

    started = time.perf_counter()
    with duckdb.connect(str(database), read_only=True) as con:
        use_enough_threads(con)
        con.execute(QUIET)
        # pandas has no decimal type: DECIMAL(12,2) would arrive as Python objects.
        orders = con.execute(
            "SELECT * REPLACE (amount::DOUBLE AS amount) FROM silver.orders"
        ).to_arrow_table()
        customers = con.execute("SELECT customer_id FROM silver.customers").to_arrow_table()
    frame = orders.to_pandas()
    customer_ids = pd.unique(customers.column("customer_id").to_numpy())
    del orders, customers
    load = time.perf_counter() - started
    schema = pandera_schema(customer_ids, now_for(rows))
    times, counts = [], {}
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            schema.validate(frame, lazy=True, inplace=True)
            counts = pandera_counts(None)
        except SchemaErrors as errors:
            counts = pandera_counts(errors)
        times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"load": load, "times": times, "counts": counts, "peak_mb": peak}


# --- profile ---------------------------------------------------------------------------

PARTS = {
    "scan: NULLs, IN, range, expression, max": """
        SELECT count(*), count(*) FILTER (WHERE email IS NULL),
            count(*) FILTER (WHERE status NOT IN ('placed', 'shipped', 'delivered', 'returned')),
            count(*) FILTER (WHERE amount < 0 OR amount > 10000),
            count(*) FILTER (WHERE NOT (shipped_at IS NULL OR shipped_at >= created_at)),
            count(*) FILTER (WHERE customer_id IS NULL), count(*) FILTER (WHERE country IS NULL),
            max(created_at)
        FROM silver.orders""",
    "regex alone": """
        SELECT count(*) FILTER (WHERE NOT regexp_matches(email, '^[^@ ]+@[^@ ]+\\.[a-z]+$'))
        FROM silver.orders""",
    "relationships: LEFT JOIN customers": """
        SELECT count(*) FILTER (WHERE o.customer_id IS NOT NULL AND c.customer_id IS NULL)
        FROM silver.orders AS o LEFT JOIN silver.customers AS c ON o.customer_id = c.customer_id""",
    "unique: GROUP BY ... HAVING (the SQL's)": """
        SELECT coalesce(sum(n), 0) FROM (
            SELECT count(*) AS n FROM silver.orders
            WHERE order_id IS NOT NULL GROUP BY order_id HAVING count(*) > 1)""",
    "unique: count(*) OVER (PARTITION BY) (wk's)": """
        SELECT count(*) FILTER (WHERE order_id IS NOT NULL AND n > 1)
        FROM (SELECT order_id, count(*) OVER (PARTITION BY order_id) AS n FROM silver.orders)""",
    "unique: join to the duplicated keys": """
        SELECT count(*) FILTER (WHERE d.order_id IS NOT NULL)
        FROM silver.orders AS o LEFT JOIN (
            SELECT order_id FROM silver.orders WHERE order_id IS NOT NULL
            GROUP BY order_id HAVING count(*) > 1) AS d ON o.order_id = d.order_id""",
}
"""Parts of the work, timed alone with the duckdb module (best of --repeat)."""


def fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[Any]:
    return con.execute(sql).fetchall()


def profile(
    warehouse: Warehouse,
    wk_run: Callable[[int], quality.CheckResults],
    con: duckdb.DuckDBPyConnection,
    repeat: int,
) -> None:
    """Where the time goes: warehouse-kit's queries one by one, then parts of the SQL."""
    queries: list[tuple[str, float]] = []
    rows = warehouse.rows

    def timed_rows(expr: Any) -> list[dict[str, Any]]:
        started = time.perf_counter()
        found = rows(expr)
        queries.append((warehouse.sql(expr, pretty=False), time.perf_counter() - started))
        return found

    warehouse.rows = timed_rows  # type: ignore[method-assign]
    started = time.perf_counter()
    results = wk_run(5)
    total = time.perf_counter() - started
    warehouse.rows = rows  # type: ignore[method-assign]
    sampled = [r.check for r in results if r.sample]
    print(f"\nprofile: warehouse-kit evaluate, sample_size=5: {total:.2f} s")
    labels = ["the aggregate", *(f"sample of {name}" for name in sampled)]
    for label, (_, seconds) in zip(labels, queries, strict=True):
        print(f"  {label:<44} {seconds:7.2f} s")
    print(f"  {'Python (validate, build, compile, results)':<44} ", end="")
    print(f"{total - sum(s for _, s in queries):7.2f} s")
    print(f"\nthe aggregate query warehouse-kit compiled:\n{queries[0][0]}")
    print(f"\nprofile: parts of the work alone, SQL, best of {repeat}")
    for label, sql in PARTS.items():
        query = partial(fetch, con, sql)
        best = min(timed(query)[0] for _ in range(repeat))
        print(f"  {label:<44} {best:7.2f} s")


# --- report ----------------------------------------------------------------------------


def cross_check(expected_counts: Counts, sides: dict[str, Counts]) -> bool:
    print(f"\n{'check':<38} {'planted':>10}" + "".join(f" {name:>14}" for name in sides))
    agree = True
    for check, want in expected_counts.items():
        got = [side.get(check) for side in sides.values()]
        mark = "" if all(g == want for g in got) else "   <-- DIFFERS"
        agree = agree and not mark
        shown = [_shown(want), *(_shown(g) for g in got)]
        print(f"{check:<38} {shown[0]:>10}" + "".join(f" {s:>14}" for s in shown[1:]) + mark)
    print("results agree" if agree else "results DIFFER")
    return agree


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "pass" if value else "fail"
    return "-" if value is None else f"{value:,}"


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """Seconds on the wall clock, and what `function` returned."""
    started = time.perf_counter()
    found = function()
    return time.perf_counter() - started, found


def main() -> None:
    args = parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores; duckdb {duckdb.__version__}")
    with tempfile.TemporaryDirectory(prefix="wk-quality-") as scratch:
        database = database_for(args, Path(scratch))
        warehouse, wk_run = wk_setup(database, args.rows)
        con, sql_run = sql_setup(database, args.rows)
        runs: dict[str, list[tuple[float, Counts]]] = {"wk": [], "sql": [], "wk+samples": []}
        wk_run(0), sql_run()  # warm up: the catalog, the file's pages in memory
        for round_no in range(1, args.repeat + 1):
            runs["wk"].append(timed(lambda: wk_counts(wk_run(0), 0)))
            runs["sql"].append(timed(sql_run))
            if args.samples:
                runs["wk+samples"].append(timed(lambda: wk_counts(wk_run(5), 5)))
            line = ", ".join(f"{side} {r[-1][0]:.2f} s" for side, r in runs.items() if r)
            print(f"round {round_no}: {line}")
        peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.profile:
            profile(warehouse, wk_run, con, args.repeat)
        warehouse.close()
        con.close()
        library = None
        if args.library:
            library = in_child(run_pandera, database, args.rows, args.repeat)
        report(args, runs, library, peak_main)


def report(
    args: argparse.Namespace,
    runs: dict[str, list[tuple[float, Counts]]],
    library: dict[str, Any] | None,
    peak_main: float,
) -> None:
    best = {side: min(r[0] for r in found) for side, found in runs.items() if found}
    print(f"\nrows: {args.rows:,}; 10 checks; best of {args.repeat}")
    print(f"  warehouse-kit evaluate, sample_size=0  {best['wk']:8.2f} s")
    if "wk+samples" in best:
        print(f"  warehouse-kit evaluate, sample_size=5  {best['wk+samples']:8.2f} s")
    print(f"  hand-written DuckDB SQL aggregate      {best['sql']:8.2f} s")
    print(f"  peak RSS of the process (both sides)   {peak_main:8,.0f} MB")
    ratio = best["wk"] / best["sql"]
    print(f"\nwarehouse-kit / SQL: {ratio:.2f}x (sample_size=0)", end="")
    if "wk+samples" in best:
        print(f", {best['wk+samples'] / best['sql']:.2f}x (sample_size=5)", end="")
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"\ntarget: within {TARGET_RATIO}x of the SQL at {TARGET_ROWS:,} rows ({verdict} here)")
    sides = {"warehouse-kit": runs["wk"][-1][1], "SQL": runs["sql"][-1][1]}
    if runs["wk+samples"]:
        sides["wk+samples"] = runs["wk+samples"][-1][1]
    if library:
        lib = min(library["times"])
        print(f"\npandera (pandas): load {library['load']:.2f} s, validate {lib:.2f} s (best)")
        print(f"  peak RSS of its process                {library['peak_mb']:8,.0f} MB")
        print(f"  pandera / warehouse-kit: {lib / best['wk']:.1f}x (validation only), ", end="")
        print(f"{(lib + library['load']) / best['wk']:.1f}x (with the load)")
        sides["pandera"] = library["counts"]
    cross_check(expected(args.rows), sides)


if __name__ == "__main__":
    main()
