"""warehouse-kit's type-2 dimension merge against hand-written DuckDB SQL, and
incremental fact loads against a full rebuild.

Type 2: generates, with DuckDB, two full snapshots of a customer dimension as
Parquet files: --rows members, then the same with 1% of them changed (a
tracked column), 0.5% new and 0.1% deleted. warehouse-kit builds
gold.dim_customer (scd: 2, strategy: check, deletes: invalidate) from the
first snapshot, then lands the second in bronze; that database is the common
starting point. Each round copies it twice and merges the second snapshot
into the dimension, alternating, each side in a new process (as a `wk run`
is; the long-lived process that generated the data runs both sides slower):

- warehouse-kit: ``warehouse_kit.run(select=["gold.dim_customer"])``; what
  counts is the model's step (from its start to its commit and run record),
  not loading the project, planning or bronze;
- the baseline: scd2_merge.sql, the same merge written by hand, its
  statements from BEGIN to COMMIT on the duckdb module (not connecting).

The two dimensions are then cross-checked: row counts, current rows, and a
checksum over every column, surrogate keys included.

Incremental facts: a fact of --facts rows is built by an incremental model
(``incremental: {unique_key: sale_id}``) from bronze; then batches of 1% and
10% new rows are merged (each from a copy of the same database), and the
whole fact is rebuilt (``full_refresh``) for comparison.

Prints the best of --repeat times of each, the ratio to the hand-written SQL
against the 1.5x target, and the peak RSS of the process. --profile runs one
more merge and one more 1% batch, timing each query and commit of their steps.

    .venv/bin/python benchmarks/scd2_merge.py --rows 5000000 --keep /tmp/wk-scd2
    .venv/bin/python benchmarks/scd2_merge.py --rows 100000 --facts 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import rounds

from warehouse_kit.core.backends import Transaction, Warehouse, use_enough_threads
from warehouse_kit.core.runner import ModelResult, RunResult, run

SCRIPT = Path(__file__).with_suffix(".sql")
TARGET_RATIO = 1.2
DIMENSION, FACT = "gold.dim_customer", "gold.fact_sales"
PRODUCTS = 10_000
ROUND_PEAKS_MB: list[float] = []  # of the type-2 rounds, each in its own process

SCD2_PIPELINE = """
pipeline:
  name: scd2_bench
  sources:
    - {name: crm, type: files, path: "${WK_BENCH_SNAPSHOT}", tables: [customers], load: replace}
  transformations:
    - stage: bronze
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {op: create_dimensions, key: customer_id, columns: [name, segment, city],
               scd: 2, strategy: check, track: [segment, city], changed_at: changed_at,
               deletes: invalidate}
"""

FACT_PIPELINE = """
pipeline:
  name: facts_bench
  sources:
    - {name: catalog, type: files, path: "${WK_BENCH_FACTS}", tables: [products], load: replace}
    - name: shop
      type: files
      path: "${WK_BENCH_FACTS}"
      tables: [{name: sales, path: "${WK_BENCH_SALES}"}]
  transformations:
    - stage: bronze
    - stage: gold
      models:
        - name: dim_product
          from: products
          operations:
            - {op: create_dimensions, key: product_id}
        - name: fact_sales
          from: sales
          incremental: {unique_key: sale_id}
          operations:
            - {op: calculate_metrics, columns: {amount: "quantity * unit_price"}}
            - op: build_facts
              dimensions: [{dimension: dim_product, key: product_id}]
              columns: [sale_id, sold_at, quantity, amount]
"""

# Generated data: deterministic functions of the row number i.
MACROS = """
CREATE MACRO segment(i, shift) AS
    ['Retail', 'SMB', 'Mid-market', 'Enterprise'][1 + (i * 7 + shift) % 4];
CREATE MACRO city(i) AS CASE WHEN i % 997 = 0 THEN NULL ELSE 'City ' || (i * 7919 % 5000) END;
CREATE MACRO moved(i) AS
    CASE WHEN i % 10000 = 7 THEN NULL ELSE 'City ' || ((i * 7919 + 1) % 5000) END;
CREATE MACRO since(day, i, span) AS day + to_seconds(i * 104729 % span);
CREATE MACRO changed(i) AS i % 100 = 7;
CREATE MACRO deleted(i) AS i % 1000 = 500;
"""
MEMBERS = """
SELECT i AS customer_id, 'Customer ' || i AS name, segment(i, 3) AS segment, city(i) AS city,
    since(TIMESTAMP '2024-01-01', i, 180 * 86400) AS changed_at
FROM range({low}, {high}) AS t(i)
"""
SECOND_SNAPSHOT = """
SELECT customer_id, name,
    CASE WHEN changed(customer_id) THEN segment(customer_id, 4) ELSE segment END AS segment,
    CASE WHEN changed(customer_id) THEN moved(customer_id) ELSE city END AS city,
    CASE WHEN changed(customer_id) THEN since(TIMESTAMP '2024-07-01', customer_id, 30 * 86400)
        ELSE changed_at END AS changed_at
FROM read_parquet('{first}')
WHERE NOT deleted(customer_id)
UNION ALL
SELECT i, 'Customer ' || i, segment(i, 3), city(i), since(TIMESTAMP '2024-07-01', i, 30 * 86400)
FROM range({low}, {high}) AS t(i)
"""
PRODUCT_ROWS = """
SELECT i AS product_id, 'Product ' || i AS product_name, 'Category ' || (i % 40) AS category
FROM range(1, {products} + 1) AS t(i)
"""
SALES = """
SELECT i AS sale_id, 1 + i * 7919 % {products} AS product_id,
    TIMESTAMP '2024-01-01' + to_seconds(i * 5) AS sold_at,
    (1 + i % 5)::INTEGER AS quantity, ((100 + i % 10000) / 100)::DECIMAL(10, 2) AS unit_price
FROM range({low}, {high}) AS t(i)
"""
# The fact's files: the initial load, and a 1% or a 10% batch of new sales after it.
BASE_FILES, BATCH_FILES = (
    "sales_a*.parquet",
    {"1%": "sales_[ab]*.parquet", "10%": "sales_[ac]*.parquet"},
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="members of the dimension")
    parser.add_argument("--facts", type=int, help="rows of the fact (default: --rows)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of each side; the best counts"
    )
    parser.add_argument("--keep", type=Path, help="keep data and databases here (data is reused)")
    parser.add_argument(
        "--profile", action="store_true", help="time each query of one more warehouse-kit merge"
    )
    return parser.parse_args()


# --- data ---------------------------------------------------------------------------------


def parquet(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    quoted = str(path).replace("'", "''")  # our own scratch path, quoted as a literal
    con.execute(f"COPY ({query}) TO '{quoted}' (FORMAT parquet)")


def generate_snapshots(folder: Path, rows: int) -> tuple[Path, Path]:
    """Two full snapshots of the customers: `rows` members, then the changes."""
    first, second = folder / "snapshot1", folder / "snapshot2"
    if (second / "customers.parquet").is_file():
        print(f"reusing the snapshots in {folder}")
        return first, second
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(MACROS)
        parquet(con, MEMBERS.format(low=1, high=rows + 1), first / "customers.parquet")
        source = str(first / "customers.parquet").replace("'", "''")
        query = SECOND_SNAPSHOT.format(first=source, low=rows + 1, high=rows + 1 + rows // 200)
        parquet(con, query, second / "customers.parquet")
    print(f"generated the snapshots in {folder} in {time.perf_counter() - started:.1f} s")
    return first, second


def generate_sales(folder: Path, rows: int) -> Path:
    """The products, the initial sales, and the two batches that follow them."""
    if (folder / "sales_c_10pct.parquet").is_file():
        print(f"reusing the sales in {folder}")
        return folder
    started = time.perf_counter()
    files = {
        "sales_a_initial": (1, rows + 1),
        "sales_b_1pct": (rows + 1, rows + 1 + rows // 100),
        "sales_c_10pct": (rows + 1, rows + 1 + rows // 10),
    }
    with duckdb.connect() as con:
        parquet(con, PRODUCT_ROWS.format(products=PRODUCTS), folder / "products.parquet")
        for name, (low, high) in files.items():
            query = SALES.format(products=PRODUCTS, low=low, high=high)
            parquet(con, query, folder / f"{name}.parquet")
    print(f"generated the sales in {folder} in {time.perf_counter() - started:.1f} s")
    return folder


# --- running warehouse-kit ------------------------------------------------------------------


class Clock:
    """A run reporter noting when, and with how much CPU, each model starts and ends."""

    def __init__(self) -> None:
        self.started: dict[str, tuple[float, float]] = {}
        self.steps: dict[str, tuple[float, float]] = {}
        """model -> (wall seconds, CPU seconds) of its step, run record included."""

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        pass

    def model_started(self, model_id: str) -> None:
        self.started[model_id] = (time.perf_counter(), time.process_time())

    def model_finished(self, result: ModelResult) -> None:
        wall, cpu = self.started[result.model]
        self.steps[result.model] = (time.perf_counter() - wall, time.process_time() - cpu)

    def run_finished(self, result: RunResult) -> None:
        pass


def project(folder: Path, pipeline: str) -> Path:
    (folder / "pipelines").mkdir(parents=True, exist_ok=True)
    (folder / "warehouse.yml").write_text("name: bench\n")
    (folder / "pipelines" / "bench.yml").write_text(pipeline)
    return folder


def wk_run(
    root: Path, database: Path, env: dict[str, str], **options: Any
) -> tuple[RunResult, Clock]:
    os.environ.update(env)
    clock = Clock()
    result = run(root, target=f"duckdb://{database}", reporter=clock, **options)
    if not result.ok:
        raise SystemExit(f"warehouse-kit run failed: {[m.error for m in result.failures()]}")
    return result, clock


def model(result: RunResult, model_id: str) -> ModelResult:
    return next(m for m in result.models if m.model == model_id)


def fresh(database: Path) -> Path:
    for path in (database, Path(f"{database}.wal")):
        path.unlink(missing_ok=True)
    return database


def copy_database(source: Path, target: Path) -> Path:
    """A copy, flushed to disk: the timed run's checkpoint must not write the copy back."""
    fresh(target)
    for suffix in ("", ".wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
            with open(f"{target}{suffix}", "rb+") as copied:
                os.fsync(copied.fileno())
    return target


# --- type 2: warehouse-kit against the hand-written merge ----------------------------------

Timed = tuple[float, float, list[tuple[str, float]]]
"""Wall-clock seconds, CPU seconds (all threads), and the steps inside."""


def scd2_start(root: Path, snapshots: tuple[Path, Path], base: Path) -> dict[str, str]:
    """The state both sides start from: the dimension of snapshot 1, snapshot 2 in bronze.
    Returns the environment pointing the pipeline at snapshot 2."""
    fresh(base)
    first, _ = wk_run(root, base, {"WK_BENCH_SNAPSHOT": str(snapshots[0])})
    load, dim = model(first, "bronze.customers"), model(first, DIMENSION)
    print(
        f"first load: bronze {load.duration_s:.2f} s, {DIMENSION} {dim.duration_s:.2f} s "
        f"({dim.rows_out:,} rows)"
    )
    env = {"WK_BENCH_SNAPSHOT": str(snapshots[1])}
    second, _ = wk_run(root, base, env, select=["bronze.customers"])
    load = model(second, "bronze.customers")
    print(f"snapshot 2 in bronze: {load.rows_out:,} rows in {load.duration_s:.2f} s (not counted)")
    return env


def scd2_wk(root: Path, env: dict[str, str], base: Path, work: Path) -> tuple[Timed, ModelResult]:
    copy_database(base, work)
    started = time.perf_counter()
    result, clock = wk_run(root, work, env, select=[DIMENSION])
    total = time.perf_counter() - started
    step = model(result, DIMENSION)
    wall, cpu = clock.steps[DIMENSION]
    steps = [
        ("the model's duration_s (to its commit)", step.duration_s),
        ("the step (to its run record updated)", wall),
        ("run(): load project, plan, the step, close", total),
    ]
    return (wall, cpu, steps), step


def statements() -> list[tuple[str, str]]:
    """The baseline's statements, each with a short label (its first line of code)."""
    found = []
    for chunk in re.split(r";[ \t]*$", SCRIPT.read_text(), flags=re.MULTILINE):
        code = [
            line
            for line in chunk.splitlines()
            if line.strip() and not line.lstrip().startswith("--")
        ]
        if code:
            found.append((code[0].removesuffix(" AS")[:60], chunk))
    return found


def scd2_sql(base: Path, work: Path) -> Timed:
    copy_database(base, work)
    with duckdb.connect(str(work)) as con:
        use_enough_threads(con)  # DuckDB as warehouse-kit sets it up
        steps = []
        cpu, started = time.process_time(), time.perf_counter()
        for label, sql in statements():
            clock = time.perf_counter()
            con.execute(sql)
            steps.append((label, time.perf_counter() - clock))
        return time.perf_counter() - started, time.process_time() - cpu, steps


CHECKSUM = """
SELECT count(*) AS rows, count_if(is_current) AS current, count_if(NOT is_current) AS closed,
    sum(hash(customer_key, customer_id, name, segment, city,
             effective_from, effective_to, is_current, is_deleted, _wk_first_seen)) AS checksum
FROM gold.dim_customer
"""


def dimension_summary(database: Path) -> dict[str, Any]:
    with duckdb.connect(str(database), read_only=True) as con:
        cursor = con.execute(CHECKSUM)
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
        assert row is not None  # an aggregate always has a row
        return dict(zip(names, row, strict=True))


def expected_dimension(rows: int) -> dict[str, int]:
    """What the merge must give: every member's first version, the new versions, the unknown
    member; changed and deleted members' versions closed."""
    changed, deleted = len(range(7, rows + 1, 100)), len(range(500, rows + 1, 1000))
    new = rows // 200
    return {
        "rows": rows + changed + new + 1,
        "current": rows - deleted + new + 1,
        "closed": changed + deleted,
    }


def cross_check(wk_db: Path, sql_db: Path, rows: int) -> None:
    wk, sql, expected = (
        dimension_summary(wk_db),
        dimension_summary(sql_db),
        expected_dimension(rows),
    )
    print("\ncross-check of gold.dim_customer:")
    for name, value in wk.items():
        want = expected.get(name, value)
        mark = "" if value == sql[name] == want else "   <-- DIFFERS"
        shown = f"expected {want:,}" if name in expected else ""
        print(f"  {name:<9} warehouse-kit {value:>24,}  SQL {sql[name]:>24,}  {shown}{mark}")
    print("  dimensions agree" if wk == sql else "  dimensions DIFFER")


# --- profiling warehouse-kit's steps --------------------------------------------------------

Trace = list[tuple[float, float, str]]
"""(start, seconds, statement) of each query warehouse-kit sends, its compilation included."""


def _sql(thing: object) -> str:
    if isinstance(thing, ibis.Expr):
        return str(ibis.to_sql(thing, dialect="duckdb"))
    sql: Callable[..., str] = getattr(thing, "sql")  # noqa: B009 - a sqlglot expression
    return sql(dialect="duckdb")


@contextmanager
def traced(trace: Trace) -> Iterator[None]:
    """Time every query warehouse-kit sends, and every commit (by wrapping its methods)."""
    patched: list[tuple[type, str, Callable[..., Any]]] = []

    def wrap(owner: type, name: str, describe: Callable[[Any], str]) -> None:
        original = getattr(owner, name)

        def timed(self: object, thing: object, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(self, thing, *args, **kwargs)
            finally:
                trace.append((started, time.perf_counter() - started, describe(thing)))

        patched.append((owner, name, original))
        setattr(owner, name, timed)

    for owner, name in ((Transaction, "_execute"), (Warehouse, "scalar"), (Warehouse, "rows")):
        wrap(owner, name, _sql)
    wrap(Warehouse, "exists", lambda table: f"(list tables: does {table} exist?)")
    original_transaction = Warehouse.transaction

    @contextmanager
    def transaction(self: Warehouse) -> Iterator[Transaction]:
        with original_transaction(self) as tx:
            yield tx
            committing = time.perf_counter()
        trace.append((committing, time.perf_counter() - committing, "COMMIT"))

    patched.append((Warehouse, "transaction", original_transaction))
    Warehouse.transaction = transaction  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, name, original in patched:
            setattr(cls, name, original)


def profile(
    title: str, root: Path, database: Path, env: dict[str, str], model_id: str, **options: Any
) -> None:
    """Run warehouse-kit once more and print the time of each query of one model's step."""
    trace: Trace = []
    clock = Clock()
    os.environ.update(env)
    with traced(trace):
        result = run(root, target=f"duckdb://{database}", reporter=clock, **options)
    assert result.ok, result.failures()
    begin, total = clock.started[model_id][0], clock.steps[model_id][0]
    inside = [(seconds, sql) for when, seconds, sql in trace if begin <= when < begin + total]
    print(f"\nprofile: {title} (each query: compiling and running it)")
    for seconds, sql in inside:
        line = re.sub(r"\s+", " ", sql)[:84]
        print(f"  {line:<84} {seconds:7.3f} s")
    rest = total - sum(seconds for seconds, _ in inside)
    print(f"  {'(the rest: building Ibis expressions, compiling statements)':<84} {rest:7.3f} s")
    print(f"  {'the step':<84} {total:7.3f} s")


# --- incremental facts ----------------------------------------------------------------------


def sales_env(sales: Path, files: str) -> dict[str, str]:
    return {"WK_BENCH_FACTS": str(sales), "WK_BENCH_SALES": files}


def facts_start(root: Path, sales: Path, base: Path) -> None:
    fresh(base)
    result, _ = wk_run(root, base, sales_env(sales, BASE_FILES))
    fact = model(result, FACT)
    print(f"initial fact build: {fact.rows_out:,} rows in {fact.duration_s:.2f} s")


def incremental_round(
    root: Path, sales: Path, base: Path, work: Path
) -> dict[str, tuple[float, str]]:
    """Seconds of the fact's step (and a note) for each batch, and for a full rebuild."""
    found = {}
    for batch, files in BATCH_FILES.items():
        copy_database(base, work)
        result, clock = wk_run(root, work, sales_env(sales, files))
        step, load = model(result, FACT), model(result, "bronze.sales")
        note = f"{step.rows_out:,} rows; {step.note}; bronze load {load.duration_s:.2f} s"
        found[batch] = (clock.steps[FACT][0], note)
        if batch == "1%":
            env = sales_env(sales, files)
            rebuilt, clock = wk_run(root, work, env, select=[FACT], full_refresh=True)
            note = f"{model(rebuilt, FACT).rows_out:,} rows (full_refresh=True)"
            found["full rebuild"] = (clock.steps[FACT][0], note)
    return found


# --- the report -----------------------------------------------------------------------------


def show(title: str, timed: Timed) -> None:
    print(f"\n{title}: {timed[0]:.2f} s (CPU {timed[1]:.2f} s)")
    for label, seconds in timed[2]:
        print(f"  {label:<62} {seconds:7.3f} s")


def new_round(side: str, root: Path, base: Path, work: Path) -> tuple[Timed, str]:
    """One round of one side, in a process of its own (`rounds`)."""
    found = rounds.in_new_process(__file__, side, str(root), str(base), str(work))
    timed = (found["wall"], found["cpu"], [tuple(step) for step in found["steps"]])
    ROUND_PEAKS_MB.append(found["peak_mb"])
    return timed, found["note"]


def one_round(side: str, root: Path, base: Path, work: Path) -> None:
    """The child's side of `new_round`: time one round, report it."""
    if side == "wk":
        env = {"WK_BENCH_SNAPSHOT": os.environ["WK_BENCH_SNAPSHOT"]}
        (wall, cpu, steps), step = scd2_wk(root, env, base, work)
        note = step.note
    else:
        (wall, cpu, steps), note = scd2_sql(base, work), ""
    rounds.report({"wall": wall, "cpu": cpu, "steps": steps, "note": note})


def scd2_benchmark(args: argparse.Namespace, data: Path, work: Path) -> None:
    snapshots = generate_snapshots(data / f"customers_{args.rows}", args.rows)
    root, base = project(work / "scd2_project", SCD2_PIPELINE), work / "scd2_start.duckdb"
    env = scd2_start(root, snapshots, base)
    os.environ.update(env)  # for the rounds' processes
    wk_db, sql_db = work / "scd2_wk.duckdb", work / "scd2_sql.duckdb"
    wk_runs, sql_runs = [], []
    for round_no in range(1, args.repeat + 1):
        wk_runs.append(new_round("wk", root, base, wk_db))
        sql_runs.append(new_round("sql", root, base, sql_db))
        (wk, note), (sql, _) = wk_runs[-1], sql_runs[-1]
        print(f"round {round_no}: warehouse-kit {wk[0]:.2f} s ({note}), SQL {sql[0]:.2f} s")
    wk, _ = min(wk_runs, key=lambda pair: pair[0][0])
    sql, _ = min(sql_runs, key=lambda pair: pair[0][0])
    show(f"warehouse-kit, {DIMENSION} step, best of {args.repeat}", wk)
    show(f"hand-written SQL, BEGIN .. COMMIT, best of {args.repeat}", sql)
    ratio = wk[0] / sql[0]
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"\nwarehouse-kit / SQL: {ratio:.2f}x wall-clock, {wk[1] / sql[1]:.2f}x CPU")
    print(f"target: within {TARGET_RATIO}x of the hand-written SQL ({verdict})")
    cross_check(wk_db, sql_db, args.rows)
    if args.profile:
        copy_database(base, wk_db)
        profile("one more type-2 merge", root, wk_db, env, DIMENSION, select=[DIMENSION])


def facts_benchmark(args: argparse.Namespace, data: Path, work: Path) -> None:
    rows = args.facts or args.rows
    sales = generate_sales(data / f"sales_{rows}", rows)
    root, base = project(work / "facts_project", FACT_PIPELINE), work / "facts_start.duckdb"
    print()
    facts_start(root, sales, base)
    rounds = [
        incremental_round(root, sales, base, work / "facts.duckdb") for _ in range(args.repeat)
    ]
    print(f"\nincremental {FACT} (its step, best of {args.repeat}), on a fact of {rows:,} rows:")
    best = {what: min(found[what] for found in rounds) for what in rounds[0]}
    for what, (seconds, note) in best.items():
        print(f"  {what:<14} {seconds:7.2f} s   {note}")
    one, ten, full = best["1%"][0], best["10%"][0], best["full rebuild"][0]
    per_percent = (ten - one) / 9
    print(
        f"  a batch costs about {one - per_percent:.2f} s + {per_percent:.3f} s per 1% of the "
        f"table; 1% takes {one / full:.0%} of a full rebuild, 10% {ten / full:.0%}"
    )
    if args.profile:
        copy_database(base, work / "facts.duckdb")
        env = sales_env(sales, BATCH_FILES["1%"])
        profile("a 1% batch of the incremental fact", root, work / "facts.duckdb", env, FACT)


def main() -> None:
    if asked := rounds.requested():
        side, root, base, work = asked
        one_round(side, Path(root), Path(base), Path(work))
        return
    args = parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores; "
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, ibis {ibis.__version__}"
    )
    print(f"dimension: {args.rows:,} members; 1% changed, 0.5% new, 0.1% deleted")
    with tempfile.TemporaryDirectory(prefix="wk-scd2-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        scd2_benchmark(args, work, work)
        facts_benchmark(args, work, work)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak_mb:,.0f} MB (this process), {max(ROUND_PEAKS_MB):,.0f} MB (a round)")


if __name__ == "__main__":
    main()
