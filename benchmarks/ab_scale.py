"""warehouse-kit's in-warehouse A/B analysis against pandas + scipy, at scale.

Generates an experiment with --rows exposure rows (20M by default: 16M units,
a quarter of them exposed twice) and its events (purchases before and after
each unit's first exposure, support tickets) deterministically with DuckDB SQL
into a DuckDB file, then analyses five metrics (conversion, revenue per user,
orders per user, order value as a ratio, support tickets), CUPED on the four
per-unit ones, two ways, each in a child process of its own (for its peak RSS):

- warehouse-kit: ``experiments.analyze(spec, warehouse=...)``, the whole call:
  building the expression, the one aggregation in DuckDB, the statistics;
- the baseline: the same analysis in pandas and scipy, the way it is often
  written: load the exposures and events into DataFrames (DuckDB -> Arrow ->
  pandas, timed apart), first exposure per unit, join, per-unit metrics with
  groupby, then ``scipy.stats.ttest_ind(equal_var=False)`` per metric, CUPED
  on adjusted values, the delta method in numpy, ``scipy.stats.chisquare``.

--repeat rounds (3 by default) alternate the sides. The script prints the best
times, the ratio, each side's peak RSS, and whether the two agree (lifts and
p-values to 6 significant digits). With --also-rows, it measures more sizes
(each its own database) and prints time and peak RSS by size.

    .venv/bin/python benchmarks/ab_scale.py --keep /tmp/wk-ab-20m.duckdb --also-rows 5000000
    .venv/bin/python benchmarks/ab_scale.py --rows 200000 --repeat 1     # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from warehouse_kit.core.backends import use_enough_threads

TARGET_RATIO = 10.0
START, DAYS, PRE_DAYS = datetime(2025, 3, 3), 14, 28
KEY = "big_test"

GENERATE = """
SET enable_progress_bar = false;
CREATE SCHEMA silver;
CREATE TEMP MACRO u(k, salt) AS (hash(k, salt) % 1000000) / 1000000;
CREATE TEMP MACRO first_at(i) AS
    TIMESTAMP '2025-03-03' + to_seconds((u(i, 1) * 14 * 86400)::BIGINT);
CREATE TEMP MACRO treated(i) AS hash(i, 2) % 2 = 1;
CREATE TEMP MACRO rate(i) AS 0.02 + 0.1 * pow(u(i, 3), 3);
CREATE TABLE silver.exposures AS
SELECT 'big_test' AS experiment, i + 1 AS user_id,
    CASE WHEN treated(i) THEN 'treatment' ELSE 'control' END AS variant,
    first_at(i) + CASE WHEN r.again THEN to_seconds((u(i, 4) * 86400)::BIGINT)
        ELSE INTERVAL 0 SECOND END AS exposed_at
FROM range($units) AS t(i), (VALUES (false), (true)) AS r(again)
WHERE NOT r.again OR i % 4 = 0;
CREATE TABLE silver.events AS
SELECT i + 1 AS user_id, 'purchase' AS event_type,
    CASE WHEN k < 3 THEN first_at(i) - to_seconds((u(i * 8 + k, 5) * 28 * 86400)::BIGINT)
        ELSE first_at(i) + to_seconds((u(i * 8 + k, 5) * 86400 * 7)::BIGINT) END AS event_at,
    (20 + 80 * u(i * 8 + k, 6))::DECIMAL(10, 2) AS amount
FROM range($units) AS t(i), range(6) AS s(k)
WHERE u(i * 8 + k, 7) < rate(i) * CASE WHEN k >= 3 AND treated(i) THEN 1.05 ELSE 1 END
UNION ALL
SELECT i + 1, 'support_ticket', first_at(i) + to_seconds((u(i, 8) * 86400)::BIGINT), NULL
FROM range($units) AS t(i) WHERE u(i, 9) < 0.03;
"""

SPEC = {
    "key": KEY,
    "variants": {"control": 50, "treatment": 50},
    "start": "2025-03-03",
    "end": "2025-03-16",
    "exposures": {"table": "silver.exposures", "where": f"experiment = '{KEY}'"},
    "events": {"table": "silver.events", "unit": "user_id", "timestamp": "event_at"},
    "metrics": [
        {"name": "conversion", "type": "binomial", "role": "primary",
         "where": "event_type = 'purchase'"},
        {"name": "revenue_per_user", "type": "mean", "value": "amount",
         "where": "event_type = 'purchase'"},
        {"name": "orders_per_user", "type": "mean", "value": "1",
         "where": "event_type = 'purchase'"},
        {"name": "order_value", "type": "ratio", "numerator": "amount", "denominator": "1",
         "where": "event_type = 'purchase'"},
        {"name": "support_tickets", "type": "mean", "value": "1", "role": "guardrail",
         "where": "event_type = 'support_ticket'", "higher_is_better": False},
    ],
    "cuped": {"pre_period_days": PRE_DAYS},
}  # fmt: skip


def generate(path: Path, rows: int) -> None:
    units = rows * 4 // 5  # a quarter of the units are exposed twice
    started = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        con.execute(GENERATE.replace("$units", str(units)))
        (exposures,) = con.execute("SELECT count(*) FROM silver.exposures").fetchone()
        (events,) = con.execute("SELECT count(*) FROM silver.events").fetchone()
    took = time.perf_counter() - started
    print(f"generated {exposures:,} exposure rows and {events:,} events in {took:.1f} s")


# --- the two sides, each run in a child process -----------------------------------------------


def run_warehouse_kit(path: str, memory_limit: str | None) -> dict[str, Any]:
    # Imports stay outside the timer, as pandas' and scipy's do on the other side; Ibis
    # imports its DuckDB backend (and, for results, pandas) on first use, so here.
    import ibis.backends.duckdb.converter  # noqa: F401

    from warehouse_kit.analytics.experiments import analyze, parse_experiment
    from warehouse_kit.core.backends import connect

    spec = parse_experiment({"experiment": SPEC}, file="ab_scale")
    url = f"duckdb:///{path}" + (f"?memory_limit={memory_limit}" if memory_limit else "")
    started = time.perf_counter()
    warehouse = connect(url, read_only=True)
    result = analyze(spec, warehouse=warehouse)
    warehouse.close()
    seconds = time.perf_counter() - started
    lifts = {c.metric: [c.absolute, c.p_value] for c in result.comparisons}
    return {"seconds": seconds, "lifts": lifts, "srm_p": result.srm.p_value}


def run_pandas(path: str) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from scipy import stats

    started = time.perf_counter()
    with duckdb.connect(path, read_only=True) as con:
        use_enough_threads(con)  # DuckDB as warehouse-kit sets it up
        exposures = con.sql(
            "SELECT experiment, user_id, variant, exposed_at FROM silver.exposures"
        ).df()
        events = con.sql("SELECT user_id, event_type, event_at, amount FROM silver.events").df()
    loaded = time.perf_counter()
    start, end = START, START + timedelta(days=DAYS)
    mine = exposures[
        (exposures.experiment == KEY) & (exposures.exposed_at >= start)
        & (exposures.exposed_at < end)
    ]  # fmt: skip
    units = mine.groupby("user_id").agg(
        first=("exposed_at", "min"), low=("variant", "min"), high=("variant", "max")
    )
    units["variant"] = units.low.where(units.low == units.high)
    joined = events.merge(units[["first"]], left_on="user_id", right_index=True)
    joined = joined[
        (joined.event_at >= joined["first"] - timedelta(days=PRE_DAYS)) & (joined.event_at < end)
    ]
    post = joined.event_at >= joined["first"]
    purchase = joined.event_type == "purchase"
    ticket = joined.event_type == "support_ticket"
    amount = joined.amount.astype(float).fillna(0.0)
    parts = pd.DataFrame({
        "user_id": joined.user_id,
        "conversion": (purchase & post).astype(float),
        "conversion_c": (purchase & ~post).astype(float),
        "revenue_per_user": amount.where(purchase & post, 0.0),
        "revenue_per_user_c": amount.where(purchase & ~post, 0.0),
        "orders_per_user": (purchase & post).astype(float),
        "orders_per_user_c": (purchase & ~post).astype(float),
        "support_tickets": (ticket & post).astype(float),
        "support_tickets_c": (ticket & ~post).astype(float),
    })  # fmt: skip
    per_unit = units[["variant"]].join(parts.groupby("user_id").sum()).fillna(0.0)
    for name in ("conversion", "conversion_c"):
        per_unit[name] = (per_unit[name] > 0).astype(float)
    per_unit = per_unit[per_unit.variant.notna()]
    counts = per_unit.variant.value_counts()
    srm = stats.chisquare([counts["control"], counts["treatment"]])
    lifts = {}
    arms = {v: per_unit[per_unit.variant == v] for v in ("control", "treatment")}
    for metric in ("conversion", "revenue_per_user", "orders_per_user", "support_tickets"):
        y, c = per_unit[metric].to_numpy(), per_unit[f"{metric}_c"].to_numpy()
        treated = (per_unit.variant == "treatment").to_numpy()
        within = [(y[m] - y[m].mean(), c[m] - c[m].mean()) for m in (treated, ~treated)]
        theta = sum((dy * dc).sum() for dy, dc in within) / sum((dc * dc).sum() for _, dc in within)
        adjusted = y - theta * (c - c.mean())
        test = stats.ttest_ind(adjusted[treated], adjusted[~treated], equal_var=False)
        lifts[metric] = [adjusted[treated].mean() - adjusted[~treated].mean(), test.pvalue]
    ratios = []
    for arm in arms.values():
        y, x = arm.revenue_per_user.to_numpy(), arm.orders_per_user.to_numpy()
        r = y.sum() / x.sum()
        cov = np.cov(y, x)
        var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (len(y) * x.mean() ** 2)
        ratios.append((r, var))
    diff = ratios[1][0] - ratios[0][0]
    z = diff / np.sqrt(ratios[0][1] + ratios[1][1])
    lifts["order_value"] = [diff, 2 * stats.norm.sf(abs(z))]
    done = time.perf_counter()
    return {
        "seconds": done - started,
        "load_seconds": loaded - started,
        "lifts": {k: [float(a), float(b)] for k, (a, b) in lifts.items()},
        "srm_p": float(srm.pvalue),
    }


def child(side: str, path: str, memory_limit: str | None) -> dict[str, Any]:
    """Run one side in a fresh interpreter; its result and its own peak RSS."""
    command = [sys.executable, __file__, "--child", side, "--keep", path]
    if memory_limit:
        command += ["--memory-limit", memory_limit]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        errors = [line for line in lines if "Error" in line or "Exception" in line]
        raise SystemExit(f"the {side} side failed on {path}: {(errors or lines or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def agree(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    differences = []
    for metric, (lift, p) in a["lifts"].items():
        other_lift, other_p = b["lifts"][metric]
        if abs(lift - other_lift) > 1e-6 * abs(other_lift) or abs(p - other_p) > 1e-6 * other_p:
            differences.append(
                f"{metric}: {lift:.9g}, p {p:.9g} vs {other_lift:.9g}, {other_p:.9g}"
            )
    return differences


def database(args: argparse.Namespace, rows: int, scratch: Path) -> Path:
    """The DuckDB file of an experiment with `rows` exposure rows, generated if missing.

    With --keep, the main size is that file and another size goes next to it
    (``ab-20m.duckdb`` -> ``ab-20m.5000000.duckdb``)."""
    if args.keep is None:
        path = scratch / f"ab.{rows}.duckdb"
    elif rows == args.rows:
        path = args.keep
    else:
        path = args.keep.with_name(f"{args.keep.stem}.{rows}{args.keep.suffix}")
    if not path.exists():
        generate(path, rows)
    return path


def measure(path: Path, args: argparse.Namespace) -> tuple[int, dict[str, dict[str, Any]]]:
    """The best round of each side on one database, printing every round."""
    with duckdb.connect(str(path), read_only=True) as con:
        (rows,) = con.execute("SELECT count(*) FROM silver.exposures").fetchone()
    print(f"\n{rows:,} exposure rows ({path}):")
    best: dict[str, dict[str, Any]] = {}
    sides = ["wk"] if args.no_baseline else ["wk", "pandas"]
    for round_ in range(args.repeat):
        for side in sides if round_ % 2 == 0 else sides[::-1]:
            result = child(side, str(path), args.memory_limit)
            print(f"  round {round_ + 1} {side}: {result['seconds']:.2f} s, "
                  f"peak RSS {result['peak_rss_mb']:,.0f} MB")  # fmt: skip
            if side not in best or result["seconds"] < best[side]["seconds"]:
                best[side] = result
    return rows, best


def report(rows: int, best: dict[str, dict[str, Any]]) -> None:
    wk = best["wk"]
    print(f"\n{rows:,} exposure rows, 5 metrics (4 with CUPED), best of each side")
    print(f"warehouse-kit:  {wk['seconds']:7.2f} s   peak RSS {wk['peak_rss_mb']:7,.0f} MB")
    if "pandas" in best:
        pd_ = best["pandas"]
        compute = pd_["seconds"] - pd_["load_seconds"]
        print(f"pandas + scipy: {pd_['seconds']:7.2f} s   peak RSS {pd_['peak_rss_mb']:7,.0f} MB"
              f"   (load {pd_['load_seconds']:.2f} s + analysis {compute:.2f} s)")  # fmt: skip
        ratio = pd_["seconds"] / wk["seconds"]
        print(f"pandas / warehouse-kit: {ratio:.1f}x (target {TARGET_RATIO:.0f}x); "
              f"without the load {compute / wk['seconds']:.1f}x; "
              f"peak RSS {pd_['peak_rss_mb'] / wk['peak_rss_mb']:.1f}x")  # fmt: skip
        differences = agree(wk, pd_)
        print("results agree" if not differences else "DIFFER: " + "; ".join(differences))


def scaling(measured: list[tuple[int, dict[str, dict[str, Any]]]], limit: str | None) -> None:
    """Time and peak RSS of each side at each size, side by side."""
    print(f"\nby size (DuckDB memory_limit: {limit or 'default, 80% of RAM'}):")
    print(f"  {'exposure rows':>14} {'wk time':>9} {'wk peak RSS':>12} "
          f"{'pandas time':>12} {'pandas peak RSS':>16}  results")  # fmt: skip
    for rows, best in sorted(measured, key=lambda item: item[0]):
        wk, pd_ = best["wk"], best.get("pandas")
        other = (
            f"{pd_['seconds']:10.2f} s {pd_['peak_rss_mb']:13,.0f} MB"
            if pd_
            else f"{'-':>12} {'-':>16}"
        )
        verdict = "-" if pd_ is None else "DIFFER" if agree(wk, pd_) else "agree"
        print(
            f"  {rows:>14,} {wk['seconds']:7.2f} s {wk['peak_rss_mb']:9,.0f} MB {other}  {verdict}"
        )
    ordered = sorted(measured, key=lambda item: item[0])
    (small, low), (large, high) = ordered[0], ordered[-1]
    grew = high["wk"]["peak_rss_mb"] / low["wk"]["peak_rss_mb"]
    print(f"  warehouse-kit's peak RSS: x{grew:.2f} for x{large / small:.1f} the rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000, help="exposure rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="reuse (or create) this DuckDB file")
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit for warehouse-kit's side")
    parser.add_argument("--no-baseline", action="store_true", help="skip pandas + scipy")
    parser.add_argument(
        "--also-rows",
        type=int,
        nargs="*",
        default=[],
        help="also measure at these sizes, for how time and memory grow with the rows",
    )
    parser.add_argument("--child", choices=["wk", "pandas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = (
            run_warehouse_kit(str(args.keep), args.memory_limit)
            if args.child == "wk"
            else run_pandas(str(args.keep))
        )
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wk-ab-") as scratch:
        measured = [
            measure(database(args, rows, Path(scratch)), args)
            for rows in [args.rows, *args.also_rows]
        ]
    report(*measured[0])
    if len(measured) > 1:
        scaling(measured, args.memory_limit)


if __name__ == "__main__":
    main()
