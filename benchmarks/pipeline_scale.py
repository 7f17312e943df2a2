"""warehouse-kit against hand-written DuckDB SQL, on the example pipeline at scale.

Generates the demo seed CSVs (about --lines order lines; reused from --keep
when there), then builds the same warehouse --repeat times with each side,
alternating, each time into a fresh DuckDB file and in a new process (as a
`wk run` is; see rounds.py):

- warehouse-kit: ``warehouse_kit.run`` on pipelines/seeds-to-warehouse.yml;
- the baseline: pipeline_scale.sql, the same work written by hand, run
  statement by statement with the duckdb module.

Prints the best wall-clock time of each side, their ratio, the per-model and
per-statement times of the best runs, the peak RSS of a round, and a
cross-check that both built the same gold and quarantine tables (row counts and
column sums).

    .venv/bin/python benchmarks/pipeline_scale.py --lines 5000000 --keep /tmp/wk-bench-5m
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import rounds

from warehouse_kit import demo
from warehouse_kit.core.backends import use_enough_threads
from warehouse_kit.core.runner import ModelResult, RunResult, run

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "seeds-to-warehouse.yml"
SCRIPT = Path(__file__).with_suffix(".sql")
TABLES = ("customers", "products", "orders", "order_items")
GOLD = ("dim_customer", "dim_product", "dim_date", "fact_orders", "mart_monthly_sales")
CHECKED = (
    *(f"gold.{table}" for table in GOLD),
    "silver.customers__quarantine",
    "silver.order_items__quarantine",
)
"""The tables cross-checked."""
SKIPPED = {"_wk_run_id", "_loaded_at", "_batch_id", "_wk_first_seen"}
"""Run ids and load times differ by design (a dimension's first version is first seen when
its row was loaded)."""
"""Columns that differ by design: each side's run id and load time."""
TARGET_RATIO, TARGET_LINES = 1.3, 5_000_000

Breakdown = list[tuple[str, float, str]]
"""(step, seconds, note) rows of one run."""
Timed = tuple[float, float, Breakdown]
"""Wall-clock seconds, CPU seconds of the process (all threads), and the breakdown."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="about this many order lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="generate the CSVs here, or reuse them")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    return parser.parse_args()


def seed_folder(args: argparse.Namespace, scratch: Path) -> Path:
    folder = args.keep or scratch / "seeds"
    if all((folder / f"{t}_seed.csv").is_file() for t in TABLES):
        print(f"reusing the CSV files in {folder}")
        return folder
    started = time.perf_counter()
    rows = demo.generate(folder, orders=round(args.lines / 2.5), seed=args.seed)
    print(f"generated {rows} in {folder} in {time.perf_counter() - started:.1f} s")
    return folder


def fresh(database: Path) -> Path:
    for path in (database, database.with_name(database.name + ".wal")):
        path.unlink(missing_ok=True)
    return database


class Clock:
    """A run reporter noting when each model starts and ends (its commit included)."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.walls: dict[str, float] = {}

    def run_started(self, run_id: str, target: str, models: list[str]) -> None:
        self.marks["run_started"] = time.perf_counter()

    def model_started(self, model_id: str) -> None:
        self.marks[model_id] = time.perf_counter()

    def model_finished(self, result: ModelResult) -> None:
        self.walls[result.model] = time.perf_counter() - self.marks[result.model]

    def run_finished(self, result: RunResult) -> None:
        self.marks["run_finished"] = time.perf_counter()


def run_wk(seeds: Path, database: Path) -> tuple[Timed, RunResult]:
    os.environ["WK_SEEDS"] = str(seeds)
    clock = Clock()
    cpu, started = time.process_time(), time.perf_counter()
    result = run(ROOT, pipelines=[PIPELINE], target=f"duckdb://{fresh(database)}", reporter=clock)
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    if not result.ok:
        raise SystemExit(f"warehouse-kit run failed: {[m.error for m in result.failures()]}")
    steps: Breakdown = [
        ("load project, plan, state tables", clock.marks["run_started"] - started, "")
    ]
    for m in result.models:
        note = f"{m.rows_out:>12,} rows; {m.duration_s:6.2f} s before commit"
        if m.checks:
            counts = [f"{c.check} {c.failing_rows:,}" for c in m.checks if c.failing_rows]
            note += f"; {m.checks[0].total_rows:,} rows checked" + (
                ": " + ", ".join(counts) if counts else ""
            )
        steps.append((m.model, clock.walls[m.model], note))
    steps.append(("run record, close", started + total - clock.marks["run_finished"], ""))
    return (total, cpu, steps), result


def statements() -> list[tuple[str, str]]:
    """The script's statements, each with a short label (its first line of code)."""
    found = []
    for chunk in re.split(r";[ \t]*$", SCRIPT.read_text(), flags=re.MULTILINE):
        code = [
            line
            for line in chunk.splitlines()
            if line.strip() and not line.lstrip().startswith("--")
        ]
        if not code:
            continue
        # A model's check aggregate says whose it is: "-- checks: gold.fact_orders".
        named = re.search(r"^-- (checks: \S+)", chunk, flags=re.MULTILINE)
        found.append((named[1] if named else code[0].removesuffix(" AS")[:60], chunk))
    return found


def run_sql(seeds: Path, database: Path) -> Timed:
    cpu, started = time.process_time(), time.perf_counter()
    con = duckdb.connect(str(fresh(database)))
    use_enough_threads(con)  # DuckDB as warehouse-kit sets it up
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    run_id = loaded_at.strftime("%Y%m%dT%H%M%S.%fZ")
    con.execute("SET VARIABLE seeds = $value", {"value": str(seeds)})
    con.execute("SET VARIABLE loaded_at = $value::TIMESTAMP", {"value": loaded_at})
    con.execute("SET VARIABLE batch_id = $value", {"value": run_id})
    con.execute("SET VARIABLE run_id = $value", {"value": run_id})
    steps: Breakdown = [("connect, set variables", time.perf_counter() - started, "")]
    for label, sql in statements():
        clock = time.perf_counter()
        cursor = con.execute(sql)
        # A check's aggregate: fetched, as warehouse-kit fetches its results.
        rows = cursor.fetchall() if cursor.description else []
        steps.append((label, time.perf_counter() - clock, check_note(cursor, rows)))
    clock = time.perf_counter()
    con.close()
    steps.append(("close (checkpoint)", time.perf_counter() - clock, ""))
    return time.perf_counter() - started, time.process_time() - cpu, steps


def check_note(cursor: duckdb.DuckDBPyConnection, rows: list[tuple[object, ...]]) -> str:
    """The counts of a check aggregate that are not zero, in short."""
    names = [column[0] for column in cursor.description or []]
    if not rows or names == ["Count"]:  # nothing, or the rows a CREATE TABLE wrote
        return ""
    found = [f"{n} {v:,}" for n, v in zip(names, rows[0], strict=True) if v and n != "rows"]
    return f"{rows[0][0]:,} rows checked" + (": " + ", ".join(found) if found else "")


def measure(name: str, type_name: str) -> str:
    """A SQL aggregate summarising one column, the same for equal values of any type."""
    column = f'"{name}"'
    if type_name == "BOOLEAN":
        return f"count_if({column})"
    if type_name in ("DATE", "TIMESTAMP"):
        return f"sum(epoch_ms({column}))"
    if type_name == "VARCHAR" or type_name.endswith("[]"):
        return f"sum(hash({column}))"
    return f"sum({column})"


def summary(database: Path) -> dict[str, tuple[str, object]]:
    """(table.column -> (type, measure)) of the checked tables, with their row counts."""
    found: dict[str, tuple[str, object]] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for table in CHECKED:
            # The table and column names are our own constants, not input.
            described = con.execute(f"DESCRIBE {table}").fetchall()
            columns = [c for c in described if c[0] not in SKIPPED]
            aggregates = ["count(*)", *(measure(c[0], c[1]) for c in columns)]
            query = f"SELECT {', '.join(aggregates)} FROM {table}"  # noqa: S608
            values = con.execute(query).fetchone()
            found[f"{table} rows"] = ("", values[0])
            for (name, type_name, *_), value in zip(columns, values[1:], strict=True):
                found[f"{table}.{name}"] = (type_name, value)
    return found


def compare(wk_db: Path, sql_db: Path) -> None:
    wk, sql = summary(wk_db), summary(sql_db)
    problems, notes = [], []
    for key in sorted(wk.keys() | sql.keys()):
        (wk_type, wk_value), (sql_type, sql_value) = (
            wk.get(key, ("-", None)),
            sql.get(key, ("-", None)),
        )
        if wk_value != sql_value or key not in wk or key not in sql:
            problems.append(
                f"  {key}: warehouse-kit {wk_value} ({wk_type}), SQL {sql_value} ({sql_type})"
            )
        elif wk_type != sql_type:
            notes.append(f"  {key}: {wk_type} in warehouse-kit, {sql_type} in SQL")
    print("\ncross-check of the gold and quarantine tables (row counts, column sums):")
    print("\n".join(["results DIFFER:", *problems]) if problems else "  results agree")
    if notes:
        print("  the values agree but these column types differ:\n" + "\n".join(notes))


def show(title: str, timed: Timed) -> None:
    print(f"\n{title}: {timed[0]:.2f} s (CPU {timed[1]:.2f} s)")
    for label, seconds, note in timed[2]:
        print(f"  {label:<45} {seconds:7.2f} s  {note}")


def new_round(side: str, seeds: Path, database: Path) -> tuple[Timed, int, float]:
    """One build by one side, in a process of its own (`rounds`): its times, the order
    lines warehouse-kit loaded, its peak RSS in MB."""
    found = rounds.in_new_process(__file__, side, str(seeds), str(database))
    timed = (found["wall"], found["cpu"], [tuple(step) for step in found["steps"]])
    return timed, found["lines"], found["peak_mb"]


def one_round(side: str, seeds: Path, database: Path) -> None:
    """The child's side of `new_round`: build once, report it."""
    if side == "wk":
        (wall, cpu, steps), result = run_wk(seeds, database)
        lines = next(m.rows_out for m in result.models if m.model == "bronze.order_items")
    else:
        (wall, cpu, steps), lines = run_sql(seeds, database), 0
    rounds.report({"wall": wall, "cpu": cpu, "steps": steps, "lines": lines})


def main() -> None:
    if asked := rounds.requested():
        side, seeds, database = asked
        one_round(side, Path(seeds), Path(database))
        return
    args = parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores; duckdb {duckdb.__version__}")
    with tempfile.TemporaryDirectory(prefix="wk-bench-") as scratch:
        seeds = seed_folder(args, Path(scratch))
        wk_db, sql_db = Path(scratch) / "wk.duckdb", Path(scratch) / "sql.duckdb"
        wk_runs, sql_runs = [], []
        for round_no in range(1, args.repeat + 1):
            wk_runs.append(new_round("wk", seeds, wk_db))
            sql_runs.append(new_round("sql", seeds, sql_db))
            (wk, *_), (sql, *_) = wk_runs[-1], sql_runs[-1]
            print(
                f"round {round_no}: warehouse-kit {wk[0]:.2f} s (CPU {wk[1]:.2f} s), "
                f"SQL {sql[0]:.2f} s (CPU {sql[1]:.2f} s)"
            )
        wk, lines, _ = min(wk_runs, key=lambda found: found[0][0])
        sql, *_ = min(sql_runs, key=lambda found: found[0][0])
        peak, sql_peak = (max(found[2] for found in runs) for runs in (wk_runs, sql_runs))
        print(f"\norder lines: {lines:,}")
        show(f"warehouse-kit, best of {args.repeat}", wk)
        show(f"hand-written SQL, best of {args.repeat}", sql)
        ratio = wk[0] / sql[0]
        verdict = "met" if ratio <= TARGET_RATIO else "missed"
        print(f"\nwarehouse-kit / SQL: {ratio:.2f}x wall-clock, {wk[1] / sql[1]:.2f}x CPU")
        print(f"target: within {TARGET_RATIO}x at {TARGET_LINES:,} order lines ({verdict} here)")
        print(f"peak RSS of a round: {peak:,.0f} MB (warehouse-kit), {sql_peak:,.0f} MB (SQL)")
        compare(wk_db, sql_db)


if __name__ == "__main__":
    main()
