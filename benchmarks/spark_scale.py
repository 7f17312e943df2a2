"""The example pipeline at scale on Spark (local[2]) beside DuckDB, in the same run.

Generates the demo seed CSVs (about --lines order lines; reused from --keep when there),
then builds the example's batch into a fresh warehouse on each engine, alternating,
--repeat times, each build in a new process (`rounds`): a `wk run` is one, and a Spark
build pays for starting its JVM as a user's does. Prints the best time of each side,
their ratio, the peak RSS of the Python process (Spark's JVM is not counted), and checks
that both built the same gold tables (row counts and a digest of their rows).

    .venv/bin/python benchmarks/spark_scale.py --lines 5000000 --keep /tmp/wk-bench-5m
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyspark
import rounds
from pipeline_scale import seed_folder

from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import run

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "seeds-to-warehouse.yml"
GOLD = ("dim_customer", "dim_date", "fact_orders", "mart_monthly_sales")
"""dim_product's validity starts when its batch was loaded: it differs by design."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="about this many order lines")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, help="generate the CSVs here, or reuse them")
    parser.add_argument("--repeat", type=int, default=2, help="builds on each engine")
    return parser.parse_args()


def target(engine: str, folder: Path) -> str:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    if engine == "spark":
        return f"spark://local[2]?warehouse={folder}"
    return f"duckdb://{folder}/warehouse.duckdb"


def one_round(engine: str, seeds: Path, folder: Path) -> None:
    """The child: build once on `engine`, report the time and the gold digests."""
    os.environ["WK_SEEDS"] = str(seeds)
    os.environ["WK_LAKE"] = str(folder / "lake")
    url = target(engine, folder)
    started = time.perf_counter()
    result = run(ROOT, pipelines=[PIPELINE], target=url)
    wall = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"{engine}: {result.first_error()}")
    lines = next(m.rows_out for m in result.models if m.model == "bronze.order_items")
    rounds.report({"wall": wall, "lines": lines, "gold": digests(url)})


def digests(url: str) -> dict[str, list[Any]]:
    wh = connect(url)
    try:
        found: dict[str, list[Any]] = {}
        for name in GOLD:
            table = wh.table(name, "gold")
            kept = [c for c in table.columns if not c.startswith("_wk_")]
            # In batches: 5M fact rows collected whole overflow Spark's 1 GB driver.
            batches = wh.con.to_pyarrow_batches(table.select(kept))
            rows = (row for batch in batches for row in batch.to_pylist())
            lines = sorted(repr([_plain(row[c]) for c in kept]) for row in rows)
            found[name] = [len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()]
        return found
    finally:
        wh.close()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return format(Decimal(str(value)).normalize(), "f")
    return value


def main() -> None:
    if asked := rounds.requested():
        engine, seeds, folder = asked
        one_round(engine, Path(seeds), Path(folder))
        return
    args = parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores; pyspark {pyspark.__version__}")
    with tempfile.TemporaryDirectory(prefix="wk-spark-bench-") as scratch:
        seeds = seed_folder(args, Path(scratch))
        best: dict[str, dict[str, Any]] = {}
        for round_no in range(1, args.repeat + 1):
            for engine in ("duckdb", "spark"):
                folder = Path(scratch) / engine
                found = rounds.in_new_process(__file__, engine, str(seeds), str(folder))
                print(f"round {round_no}: {engine} {found['wall']:.1f} s", flush=True)
                if engine not in best or found["wall"] < best[engine]["wall"]:
                    best[engine] = found
        duck, spark = best["duckdb"], best["spark"]
        print(f"\norder lines: {duck['lines']:,}")
        print(f"DuckDB: {duck['wall']:.1f} s, peak RSS {duck['peak_mb']:,.0f} MB")
        print(f"Spark local[2]: {spark['wall']:.1f} s (JVM start included)")
        print(f"Spark / DuckDB: {spark['wall'] / duck['wall']:.1f}x")
        same = duck["gold"] == spark["gold"]
        print(f"gold tables {'identical' if same else 'DIFFER'}: " + ", ".join(GOLD))
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
