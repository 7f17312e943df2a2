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

With ``--memory-limit 1GB`` both sides build under DuckDB's ``memory_limit``
(warehouse-kit in its target URL, the SQL in its connection's config), and each
round also builds with warehouse-kit without a limit, the baseline; each round
then records how much disk DuckDB's spill files took at most (`spill`).

    .venv/bin/python benchmarks/pipeline_scale.py --lines 5000000 --keep /tmp/wk-bench-5m
    .venv/bin/python benchmarks/pipeline_scale.py --lines 20000000 --keep /tmp/wk-20m/seeds \
        --memory-limit 1GB --repeat 1
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import rounds
import spill

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
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        default="",
        help="DuckDB's memory_limit for both sides (e.g. 1GB); adds warehouse-kit without one",
    )
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
    shutil.rmtree(spill.spill_folder(database), ignore_errors=True)
    return database


def settings(limit: str) -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB's settings for a round: its memory_limit, if it has one."""
    return {"memory_limit": limit} if limit else {}


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


def run_wk(seeds: Path, database: Path, limit: str = "") -> tuple[Timed, RunResult]:
    os.environ["WK_SEEDS"] = str(seeds)
    clock = Clock()
    query = urlencode(settings(limit))  # as a user gives it: duckdb:///w.duckdb?memory_limit=1GB
    target = f"duckdb://{fresh(database)}" + (f"?{query}" if query else "")
    cpu, started = time.process_time(), time.perf_counter()
    result = run(ROOT, pipelines=[PIPELINE], target=target, reporter=clock)
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


def run_sql(seeds: Path, database: Path, limit: str = "") -> Timed:
    cpu, started = time.process_time(), time.perf_counter()
    con = duckdb.connect(str(fresh(database)), config=settings(limit))
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


def compare(first: Path, second: Path, names: tuple[str, str] = ("warehouse-kit", "SQL")) -> None:
    one, two = summary(first), summary(second)
    problems, notes = [], []
    for key in sorted(one.keys() | two.keys()):
        (one_type, one_value), (two_type, two_value) = (
            one.get(key, ("-", None)),
            two.get(key, ("-", None)),
        )
        if one_value != two_value or key not in one or key not in two:
            problems.append(
                f"  {key}: {names[0]} {one_value} ({one_type}), {names[1]} {two_value} ({two_type})"
            )
        elif one_type != two_type:
            notes.append(f"  {key}: {one_type} in {names[0]}, {two_type} in {names[1]}")
    print(f"\ncross-check of the gold and quarantine tables, {names[0]} and {names[1]}:")
    print("\n".join(["results DIFFER:", *problems]) if problems else "  results agree")
    if notes:
        print("  the values agree but these column types differ:\n" + "\n".join(notes))


def show(title: str, timed: Timed) -> None:
    print(f"\n{title}: {timed[0]:.2f} s (CPU {timed[1]:.2f} s)")
    for label, seconds, note in timed[2]:
        print(f"  {label:<45} {seconds:7.2f} s  {note}")


@dataclass(frozen=True)
class Side:
    """One way of building the warehouse: who builds it (``wk`` or ``sql``), under which
    DuckDB memory_limit ("" for DuckDB's default, 80% of RAM), into which file."""

    who: str
    limit: str
    database: Path

    @property
    def title(self) -> str:
        name = "warehouse-kit" if self.who == "wk" else "hand-written SQL"
        return f"{name}, memory_limit {self.limit or 'default'}"


@dataclass(frozen=True)
class Round:
    """What one build by one side measured."""

    timed: Timed
    lines: int
    """The order lines warehouse-kit loaded (0 for the SQL)."""
    peak_mb: float
    """The round's peak RSS."""
    spill_mb: float
    """The most disk DuckDB's spill files took at once."""
    size_mb: float
    """The warehouse file at the end."""


def sides(args: argparse.Namespace, scratch: Path) -> list[Side]:
    """Both sides at the limit, and with a limit warehouse-kit without it (the baseline)."""
    found = [
        Side("wk", args.memory_limit, scratch / "wk.duckdb"),
        Side("sql", args.memory_limit, scratch / "sql.duckdb"),
    ]
    if args.memory_limit:
        found.append(Side("wk", "", scratch / "wk-unlimited.duckdb"))
    return found


def new_round(side: Side, seeds: Path) -> Round:
    """One build by one side, in a process of its own (`rounds`)."""
    found = rounds.in_new_process(__file__, side.who, str(seeds), str(side.database), side.limit)
    timed = (found["wall"], found["cpu"], [tuple(step) for step in found["steps"]])
    return Round(timed, found["lines"], found["peak_mb"], found["spill_mb"], found["size_mb"])


def one_round(who: str, seeds: Path, database: Path, limit: str) -> None:
    """The child's side of `new_round`: build once, report it."""
    with spill.SpillWatch(spill.spill_folder(database)) as watch:
        if who == "wk":
            (wall, cpu, steps), result = run_wk(seeds, database, limit)
            lines = next(m.rows_out for m in result.models if m.model == "bronze.order_items")
        else:
            (wall, cpu, steps), lines = run_sql(seeds, database, limit), 0
    size_mb = database.stat().st_size / 2**20
    found = {"wall": wall, "cpu": cpu, "steps": steps, "lines": lines}
    rounds.report({**found, "spill_mb": watch.peak_mb, "size_mb": size_mb})


def summarise(args: argparse.Namespace, builds: dict[Side, list[Round]]) -> None:
    """Each side's best round, the ratios, the memory and disk, the cross-checks."""
    best = {side: min(found, key=lambda r: r.timed[0]) for side, found in builds.items()}
    wk, sql, *unlimited = builds
    print(f"\norder lines: {best[wk].lines:,}")
    for side, fastest in best.items():
        show(f"{side.title}, best of {args.repeat}", fastest.timed)
    ratio = best[wk].timed[0] / best[sql].timed[0]
    print(f"\nwarehouse-kit / SQL: {ratio:.2f}x wall-clock, ", end="")
    print(f"{best[wk].timed[1] / best[sql].timed[1]:.2f}x CPU")
    verdict = "met" if ratio <= TARGET_RATIO else "missed"
    print(f"target: within {TARGET_RATIO}x at {TARGET_LINES:,} order lines ({verdict} here)")
    print("\nmemory and disk (the most of any round):")
    for side, done in builds.items():
        print(
            f"  {side.title:<45} peak RSS {max(r.peak_mb for r in done):7,.0f} MB, "
            f"spill {max(r.spill_mb for r in done):7,.0f} MB, "
            f"warehouse file {max(r.size_mb for r in done):7,.0f} MB"
        )
    if unlimited:
        slower = best[wk].timed[0] / best[unlimited[0]].timed[0]
        print(f"\nat memory_limit {args.memory_limit} / without: {slower:.2f}x wall-clock")
        compare(wk.database, unlimited[0].database, ("limited", "unlimited"))
    compare(wk.database, sql.database)


def main() -> None:
    if asked := rounds.requested():
        who, folder, database, limit = asked
        one_round(who, Path(folder), Path(database), limit)
        return
    args = parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores; duckdb {duckdb.__version__}")
    with tempfile.TemporaryDirectory(prefix="wk-bench-") as scratch:
        seeds = seed_folder(args, Path(scratch))
        builds: dict[Side, list[Round]] = {side: [] for side in sides(args, Path(scratch))}
        for round_no in range(1, args.repeat + 1):
            for side, found in builds.items():
                found.append(new_round(side, seeds))
            print(
                f"round {round_no}: "
                + ", ".join(
                    f"{side.title} {found[-1].timed[0]:.2f} s (CPU {found[-1].timed[1]:.2f} s)"
                    for side, found in builds.items()
                ),
                flush=True,
            )
        summarise(args, builds)


if __name__ == "__main__":
    main()
