"""The example warehouse on PostgreSQL with its default indexes, and without any.

Generates the demo seeds at about --lines order lines (batch 1) and the shop's later
export (batch 2: 10% new orders, customers who moved, new prices), and builds them on the
running PostgreSQL twice, once per side, each into a database of its own:

- **indexes**: pipelines/seeds-to-warehouse.yml as it is, so each dimension has its
  (natural key, effective_from) and its surrogate key indexed, and the fact each dimension
  key and its unique key (`materialize.indexes`);
- **none**: the same file with ``indexes: []`` on every gold model.

Each side's database, kept as a template, holds batch 1 and batch 2 up to the fact:
bronze, silver and the dimensions (their batch 2 steps are printed, measured once). Each
round copies one side's template (``CREATE DATABASE ... TEMPLATE``) and, in a new process
(as a `wk run` is; see rounds.py), times

- the point-in-time fact build: ``wk run --select gold.fact_orders`` for batch 2, the
  fact's step from its start to its commit: the new lines (and those whose member
  versions changed) looked up in the type-2 dimensions at their order date, merged,
  checked, and the indexes kept up to date;
- KPI queries through the metrics layer (analytics/retail.yml) on the result: all history
  by month, one month by day, one customer's sales; each warm (run once first), the best
  of --queries.

Sides alternate, --repeat rounds each; the best counts. Prints both sides and the ratio
(none / indexes: above 1, the indexes help), and the peak RSS of a round. Seeds and
templates are kept (in --work and on the server) and reused by the next run with the same
--lines, --seed and pipeline (--rebuild builds them again, after a change to the code).

    .venv/bin/python benchmarks/physical_design.py --lines 1500000
    .venv/bin/python benchmarks/physical_design.py --lines 50000 --repeat 1   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import time
from pathlib import Path
from typing import Any

import psycopg
import rounds

from warehouse_kit import demo
from warehouse_kit.analytics import metrics
from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "seeds-to-warehouse.yml"
SIDES = ("indexes", "none")
GOLD = ("dim_customer", "dim_product", "dim_date", "fact_orders")
FACT = "gold.fact_orders"
DIMENSIONS = ("gold.dim_customer", "gold.dim_product")
UP_TO_THE_FACT = ["bronze", "silver", "gold.dim_customer", "gold.dim_product", "gold.dim_date"]
KPIS: dict[str, dict[str, Any]] = {
    "revenue, orders by month (all history)": {
        "metrics": ["revenue", "orders"],
        "grain": "month",
    },
    "revenue, orders by day (one month)": {
        "metrics": ["revenue", "orders"],
        "grain": "day",
        "start": "2024-06-01",
        "end": "2024-07-01",
    },
    "one customer's revenue, orders by month": {
        "metrics": ["revenue", "orders"],
        "grain": "month",
        "where": "dim_customer.customer_id = 4242",
    },
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_500_000, help="about this many lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each side")
    parser.add_argument("--queries", type=int, default=3, help="timed runs of each KPI query")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/wk-physical"), help="seeds and pipelines, kept"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="build the templates again (the code changed)"
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("WK_BENCH_POSTGRES", "postgres://root@127.0.0.1:5432/test"),
        help="a PostgreSQL URL whose user may create databases",
    )
    return parser.parse_args()


# --- the starting point: seeds, pipelines, one template database per side ----------------


def database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + f"/{name}"


def admin(server: str, *statements: str) -> None:
    with psycopg.connect(server, autocommit=True) as con:
        for statement in statements:
            con.execute(statement)


def exists(server: str, name: str) -> bool:
    with psycopg.connect(server) as con:
        found = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        return found is not None


def seeds(args: argparse.Namespace) -> tuple[Path, Path]:
    """Batch 1 and batch 2 of the demo seeds, generated once per --work, --lines, --seed."""
    first, second = args.work / "seeds", args.work / "seeds" / "batch2"
    marker = args.work / "seeds.json"
    wanted = {"lines": args.lines, "seed": args.seed}
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return first, second
    marker.unlink(missing_ok=True)
    shutil.rmtree(first, ignore_errors=True)
    orders = round(args.lines / 2.5)
    started = time.perf_counter()
    written = demo.generate(first, orders=orders, seed=args.seed)
    later = demo.generate_changes(second, orders=orders, seed=args.seed, changes=10)
    print(f"generated {written} and batch 2 {later} in {time.perf_counter() - started:.1f} s")
    marker.write_text(json.dumps(wanted))
    return first, second


def pipelines(work: Path) -> dict[str, Path]:
    """Each side's pipeline file: the example's, and the same with ``indexes: []`` on
    every gold model (a line under its name: YAML 1.1 loaders read the key ``on`` as True,
    so the file is not loaded and dumped again)."""
    lines = []
    for line in PIPELINE.read_text().splitlines():
        lines.append(line)
        found = re.fullmatch(r"( *)- name: (\w+)", line)
        if found and found[2] in GOLD:
            lines.append(f"{found[1]}  indexes: []")
    bare = work / "no-indexes.yml"
    bare.write_text("\n".join(lines) + "\n")
    return {"indexes": PIPELINE, "none": bare}


def template(args: argparse.Namespace, side: str, pipeline: Path, seeds: tuple[Path, Path]):
    """`side`'s database: batch 1, then batch 2 up to the fact; built once per seeds and
    pipeline. Returns its name and the seconds of its batch 2 steps."""
    name = f"wk_physical_{side}"
    marker = args.work / f"{name}.json"
    wanted = {"lines": args.lines, "seed": args.seed, "pipeline": pipeline.read_text()}
    found = json.loads(marker.read_text()) if marker.is_file() else {}
    if not args.rebuild and found.get("wanted") == wanted and exists(args.server, name):
        return name, found["steps"]
    marker.unlink(missing_ok=True)
    admin(
        args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    url = database_url(args.server, name)
    steps: dict[str, float] = {}
    for batch, folder, select in ((1, seeds[0], []), (2, seeds[1], UP_TO_THE_FACT)):
        os.environ["WK_SEEDS"] = str(folder)
        started = time.perf_counter()
        result = run(ROOT, pipelines=[pipeline], target=url, select=select)
        if not result.ok:
            raise SystemExit(f"batch {batch} failed ({side}): {result.failures()[0].error}")
        steps[f"batch {batch} run" + (" (to the fact)" if select else "")] = (
            time.perf_counter() - started
        )
    steps.update({f"{m.model} step": m.duration_s for m in result.models if m.model in DIMENSIONS})
    print(f"built {name}: " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    marker.write_text(json.dumps({"wanted": wanted, "steps": steps}))
    return name, steps


# --- one round: the fact's batch 2 and the KPI queries, in a process of its own -----------


def one_round(url: str, pipeline: str, batch2: str, queries: int) -> dict[str, Any]:
    os.environ["WK_SEEDS"] = batch2
    result = run(ROOT, pipelines=[Path(pipeline)], target=url, select=[FACT])
    if not result.ok:
        raise SystemExit(f"the fact failed: {result.failures()[0].error}")
    (fact,) = result.models
    with psycopg.connect(url) as con:
        (count,) = con.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'gold'"
        ).fetchone() or (0,)
    layer = metrics.load(ROOT)
    warehouse = connect(url)
    kpis: dict[str, float] = {}
    answers: dict[str, Any] = {}
    try:
        for name, options in KPIS.items():
            expr = metrics.query(warehouse=warehouse, project=layer, **options)
            answers[name] = expr.to_pyarrow().to_pylist()  # the warm-up, and the answer
            seconds = []
            for _ in range(queries):
                begun = time.perf_counter()
                metrics.query(warehouse=warehouse, project=layer, **options).to_pyarrow()
                seconds.append(time.perf_counter() - begun)
            kpis[name] = min(seconds)
    finally:
        warehouse.close()
    digest = {name: repr(rows) for name, rows in answers.items()}
    return {
        "fact": fact.duration_s, "kpis": kpis, "indexes": count, "lines": fact.rows_out,
        "note": fact.note, "answers": digest,
    }  # fmt: skip


# --- the comparison ------------------------------------------------------------------------


def compare(args: argparse.Namespace, names: dict[str, str], files: dict[str, Path], batch2: Path):
    found: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for number in range(args.repeat):
        for side in SIDES if number % 2 == 0 else reversed(SIDES):
            name = f"wk_physical_round_{side}"
            admin(
                args.server,
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                f'CREATE DATABASE "{name}" TEMPLATE "{names[side]}"',
            )
            url = database_url(args.server, name)
            arguments = (url, str(files[side]), str(batch2), str(args.queries))
            report = rounds.in_new_process(__file__, side, *arguments)
            admin(args.server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            kpis = ", ".join(f"{seconds:.3f}" for seconds in report["kpis"].values())
            print(f"  round {number + 1} {side:<8} fact {report['fact']:6.2f} s, KPIs {kpis} s")
            found[side].append(report)
    return found


def summary(found: dict[str, list[dict[str, Any]]], setup: dict[str, dict[str, float]]) -> None:
    first = {side: reports[0] for side, reports in found.items()}
    if first["indexes"]["answers"] != first["none"]["answers"]:
        raise SystemExit("the KPI answers DIFFER between the sides")
    counts = {side: report["indexes"] for side, report in first.items()}
    print(f"\nfact after batch 2: {first['indexes']['lines']:,} lines; {first['indexes']['note']}")
    print(f"KPI answers agree; indexes in gold: {counts['indexes']} with, {counts['none']} without")
    print("\nbuilding the templates (measured once), seconds:")
    print(f"  {'':<48} {'indexes':>9} {'none':>9} {'ratio':>7}")
    for step in setup["indexes"]:
        with_, without = setup["indexes"][step], setup["none"][step]
        print(f"  {step:<48} {with_:9.2f} {without:9.2f} {without / with_:6.2f}x")

    def best(side: str, pick: Any) -> float:
        return min(pick(report) for report in found[side])

    rows = [(f"{FACT} step (batch 2)", lambda r: r["fact"])]
    rows += [(f"KPI: {name}", lambda r, n=name: r["kpis"][n]) for name in KPIS]
    print(f"\nbest of {len(found['indexes'])} rounds, seconds (none / indexes > 1: indexes help):")
    print(f"  {'':<48} {'indexes':>9} {'none':>9} {'ratio':>7}")
    for label, pick in rows:
        with_, without = best("indexes", pick), best("none", pick)
        print(f"  {label:<48} {with_:9.3f} {without:9.3f} {without / with_:6.2f}x")
    peak = max(report["peak_mb"] for reports in found.values() for report in reports)
    print(f"\npeak RSS of a round: {peak:,.0f} MB")


def main() -> None:
    requested = rounds.requested()
    if requested is not None:
        _, url, pipeline, batch2, queries = requested
        rounds.report(one_round(url, pipeline, batch2, int(queries)))
        return
    args = parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(args.server) as con:
        server = con.execute("SHOW server_version").fetchone()
    print(
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {server[0] if server else '?'}"
    )
    batches = seeds(args)
    files = pipelines(args.work)
    built = {side: template(args, side, files[side], batches) for side in SIDES}
    names = {side: name for side, (name, _) in built.items()}
    found = compare(args, names, files, batches[1])
    summary(found, {side: steps for side, (_, steps) in built.items()})


if __name__ == "__main__":
    main()
