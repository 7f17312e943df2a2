"""Chaos: SIGKILL `wk run` at random points, then check that the warehouse is right.

For each target (``--target duckdb``, ``postgres``, ``spark``; default the first two),
rounds on a fresh warehouse each: the example project's batch 1 (``seeds/``) then batch 2
(``WK_SEEDS=seeds/batch2``), every batch run again until a run of it
completes. While the round has kills left (``--per-round``), a run is killed
with SIGKILL after a random delay: half the time uniform over the time a clean
run of that batch took, else over the part after its first line (once Python
has started and the run is planned and recorded), so that more kills land
while models are built. With probability ``--concurrent`` a second `wk run` of
the batch starts with it, and either of the two is the one killed. After each
round:

- no run is left ``running``, and every killed run is ``aborted`` (or finished
  before the kill reached it), once `wk history` has looked: a killed run is
  marked by the next run, and a round may end with none after it (the killed
  run had waited for the other one, which completed the batch);
- bronze holds the rows of the files loaded, each file once: per batch, the
  rows in bronze = ``_wk.batches.rows`` = the rows of the file it names; and
  bronze's rows equal those of a clean build (``_loaded_at`` aside);
- watermarks agree with the data: ``gold.fact_orders``' is the latest
  ``_loaded_at`` of its input ``silver.order_lines``, and each order line has
  its fact;
- gold is identical to a clean build of the same batches (built once per
  target, without kills), compared as multisets of rows. Some gold columns
  depend on when a batch was loaded, not on what it held, and are left out:
  ``_loaded_at``, ``_batch_id``, ``_wk_run_id``, ``_wk_first_seen``. A type-2
  dimension's times that are snapshot times (a deletion starts at the
  snapshot, by default the load time) are normalised to the snapshot's rank
  (``<snapshot 2>``), from ``_wk.snapshots``.

Prints the kills, where they landed (which model the killed run was building,
by stage), and every failure found; exits 1 if there is one.

    .venv/bin/python benchmarks/chaos.py                       # 50 kills on each engine
    .venv/bin/python benchmarks/chaos.py --kills 6 --target duckdb --seed 7
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import select
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq

from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.history import recover

ROOT = Path(__file__).resolve().parents[1]
BATCHES = ("seeds", "seeds/batch2")
WK = [sys.executable, "-m", "warehouse_kit.apps.cli", "run", "--wait", "600"]
LOAD_TIME = {"_loaded_at", "_batch_id", "_wk_run_id", "_wk_first_seen"}
"""Gold columns that say when a batch was loaded, not what it held: left out."""
WATERMARKS = {"gold.fact_orders": "silver.order_lines"}
"""Each incremental model, and the input whose ``_loaded_at`` its watermark follows."""
POSTGRES = os.environ.get("WK_TEST_POSTGRES", "postgres://root@127.0.0.1:5432/test")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs per target")
    parser.add_argument("--per-round", type=int, default=6, help="kills before a round checks")
    parser.add_argument("--concurrent", type=float, default=0.3, help="chance of a second run")
    parser.add_argument("--target", choices=["duckdb", "postgres", "spark"], action="append")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    return parser.parse_args()


@contextmanager
def fresh(engine: str) -> Iterator[str]:
    """The URL of an empty warehouse on `engine`, removed afterwards."""
    if engine in ("duckdb", "spark"):
        with tempfile.TemporaryDirectory(prefix="wk-chaos-") as folder:
            if engine == "spark":  # each `wk run` starts a local Spark of its own
                yield f"spark://local[2]?warehouse={folder}/spark"
            else:
                yield f"duckdb://{folder}/warehouse.duckdb"
        return
    name = f"wk_chaos_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(url: str, batch: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*WK, "--target", url],
        cwd=ROOT,
        env={**os.environ, "WK_SEEDS": batch, "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """Its first output line, printed once it holds the target and has recorded its run
    (empty if none came within `timeout`)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


Timing = tuple[float, float]
"""A clean run's seconds until its first line (Python started, the run planned), and in all."""


class Round:
    """One warehouse taken through both batches, with kills on the way."""

    def __init__(self, url: str, kills: int, stats: Stats, rng: random.Random, chance: float):
        self.url, self.kills, self.stats, self.rng, self.chance = url, kills, stats, rng, chance
        self.killed: list[str] = []  # the run ids of killed runs that recorded one

    def play(self, timings: dict[str, Timing]) -> None:
        left = self.kills
        for batch, last in zip(BATCHES, (False, True), strict=True):
            share = left if last else self.rng.randint(0, left)  # what batch 1 leaves, batch 2
            done = False
            while share > 0 and not done:
                done = self.attempt(batch, timings[batch])
                share, left = share - 1, left - 1
            if not done:
                code, _, err = finish(start(self.url, batch))
                self.stats.check(code == 0, f"a run of {batch} failed: {last_line(err)}")

    def attempt(self, batch: str, timing: Timing) -> bool:
        """Start a run (or two), kill one at a random point; whether the batch completed.

        Half the time the point is uniform over the whole run; else over the part after
        its first line, so that more kills land while models are built than while Python
        starts."""
        runs = [start(self.url, batch) for _ in range(2 if self.rng.random() < self.chance else 1)]
        victim, (startup, total), head = self.rng.choice(runs), timing, ""
        if self.rng.random() < 0.5:
            delay = self.rng.uniform(0, total)
        else:
            head, delay = first_line(victim, total * 3), self.rng.uniform(0, total - startup)
        try:
            victim.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            victim.kill()
        code, out, err = finish(victim)
        completed = code == 0
        if code == -9:
            self.stats.kills += 1
            self.stats.paired += len(runs) > 1
            self.note_kill(head + out, err)
        else:
            self.stats.missed += 1
            self.stats.check(completed, f"a run of {batch} failed: {last_line(err)}")
        for other in runs:
            if other is not victim:
                code, _, err = finish(other)
                self.stats.check(
                    code == 0, f"the concurrent run of {batch} failed: {last_line(err)}"
                )
                completed = completed or code == 0
        return completed

    def note_kill(self, out: str, err: str) -> None:
        first = out.split("\n", 1)[0]
        if first.startswith("run ") and " on " in first:
            self.killed.append(first.split()[1])
        elif "waiting up to" in err:
            self.stats.landed["waiting for the target"] += 1
        else:
            self.stats.landed["starting (before its run was recorded)"] += 1


class Stats:
    def __init__(self) -> None:
        self.kills = self.paired = self.missed = self.rounds = 0
        self.landed: Counter[str] = Counter()
        self.models: Counter[str] = Counter()  # which model, of the kills that landed in one
        self.failures: list[str] = []

    def check(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def clean_build(url: str) -> dict[str, Timing]:
    """Both batches into an empty warehouse, without kills, timed."""
    timings = {}
    for batch in BATCHES:
        started, process = time.monotonic(), start(url, batch)
        first_line(process, 600)
        startup = time.monotonic() - started
        code, _, err = finish(process)
        if code != 0:
            raise SystemExit(f"the clean build of {batch} failed: {last_line(err)}")
        timings[batch] = (startup, time.monotonic() - started)
    return timings


def tables(wh: Warehouse, schema: str) -> list[str]:
    return sorted(wh.tables(schema))


def contents(url: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """Every bronze and gold table as a multiset of rows, normalised as the docstring says."""
    wh = connect(url)
    try:
        found = {}
        for schema in ("bronze", "gold"):
            for name in tables(wh, schema):
                table = wh.table(name, schema)
                drop = {"_loaded_at"} if schema == "bronze" else LOAD_TIME
                kept = [column for column in table.columns if column not in drop]
                ranks = snapshot_ranks(wh, f"{schema}.{name}")
                rows = wh.con.to_pyarrow(table.select(kept)).to_pylist()
                found[f"{schema}.{name}"] = Counter(
                    tuple(ranks.get(value, value) for value in row.values()) for row in rows
                )
        return found
    finally:
        wh.close()


def snapshot_ranks(wh: Warehouse, model: str) -> dict[datetime, str]:
    snapshots = wh.table("snapshots", "_wk")
    times = wh.rows(snapshots.filter(snapshots.model == model).select("snapshot_at"))
    ordered = sorted({row["snapshot_at"] for row in times})
    return {at: f"<snapshot {rank}>" for rank, at in enumerate(ordered, 1)}


def verify(url: str, clean: dict[str, Counter[tuple[Any, ...]]], round_: Round) -> list[str]:
    wh = connect(url)
    try:
        runs = {row["run_id"]: row["status"] for row in wh.rows(wh.table("runs", "_wk"))}
        failures = [f"run {r} left running" for r, status in runs.items() if status == "running"]
        failures += [
            f"killed run {r} is {runs.get(r)}"
            for r in round_.killed
            if runs.get(r) not in ("aborted", "success", "failed")
        ]
        failures += batches_agree(wh) + watermarks_agree(wh)
    finally:
        wh.close()
    found = contents(url)
    for table in sorted(set(clean) | set(found)):
        extra, missing = found[table] - clean[table], clean[table] - found[table]
        if extra or missing:
            failures.append(
                f"{table}: {sum(extra.values())} rows more and "
                f"{sum(missing.values())} fewer than a clean build"
            )
    return failures


def batches_agree(wh: Warehouse) -> list[str]:
    """Per batch: rows in bronze = its ``_wk.batches.rows`` = the rows of its file."""
    failures = []
    for batch in wh.rows(wh.table("batches", "_wk")):
        schema, name = batch["model"].split(".")
        table = wh.table(name, schema)
        in_bronze = wh.scalar(table.filter(table._batch_id == batch["batch_id"]).count())
        in_file = file_rows(ROOT / batch["description"].split(": ", 1)[1])
        if not in_bronze == batch["rows"] == in_file:
            failures.append(
                f"{batch['model']} {batch['description']}: {in_bronze} rows in bronze, "
                f"{batch['rows']} recorded, {in_file} in the file"
            )
    return failures


def file_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        return int(pq.read_metadata(path).num_rows)
    with path.open(newline="", encoding="utf-8") as file:
        return sum(1 for _ in csv.reader(file)) - 1  # the header


def watermarks_agree(wh: Warehouse) -> list[str]:
    failures = []
    marks = {row["model"]: row["value"] for row in wh.rows(wh.table("watermarks", "_wk"))}
    for model, source in WATERMARKS.items():
        schema, name = source.split(".")
        latest = wh.scalar(wh.table(name, schema)._loaded_at.max())
        if model not in marks or datetime.fromisoformat(marks[model]) != latest:
            failures.append(f"{model}: watermark {marks.get(model)}, latest input {latest}")
        facts = wh.table(*reversed(model.split(".")))
        lines = wh.table(name, schema)
        lost = wh.scalar(lines.anti_join(facts, "order_item_id").count())
        if lost:
            failures.append(f"{model}: {lost} lines of {source} have no fact")
    return failures


def landing(url: str, killed: list[str], order: list[str], stats: Stats) -> None:
    """Where each killed run was: the model after the last one it recorded."""
    wh = connect(url)
    try:
        steps = wh.table("model_runs", "_wk")
        for run_id in killed:
            done = wh.scalar(steps.filter(steps.run_id == run_id).count())
            if done == len(order):
                stats.landed["finishing (after its last model)"] += 1
                continue
            stats.landed[f"building a {order[done].split('.')[0]} model"] += 1
            stats.models[order[done]] += 1
    finally:
        wh.close()


def model_order(url: str) -> list[str]:
    wh = connect(url)
    try:
        steps = wh.table("model_runs", "_wk")
        first = steps.filter(steps.run_id == steps.run_id.min())
        return [row["model"] for row in wh.rows(first.order_by("started_at").select("model"))]
    finally:
        wh.close()


def chaos(engine: str, args: argparse.Namespace, rng: random.Random) -> Stats:
    stats = Stats()
    with fresh(engine) as reference:
        timings = clean_build(reference)
        clean, order = contents(reference), model_order(reference)
    print(
        f"{engine}: a clean build of each batch takes "
        + " and ".join(
            f"{total:.1f} s ({ready:.1f} s to start)" for ready, total in timings.values()
        ),
        flush=True,
    )
    while stats.kills < args.kills:
        stats.rounds += 1
        kills = min(args.per_round, args.kills - stats.kills)
        with fresh(engine) as url:
            round_ = Round(url, kills, stats, rng, args.concurrent)
            round_.play(timings)
            landing(url, round_.killed, order, stats)
            recover(ROOT, url)  # what `wk history` does first
            found = verify(url, clean, round_)
        stats.failures += [f"round {stats.rounds}: {failure}" for failure in found]
        print(
            f"{engine}: round {stats.rounds}, {stats.kills} kills so far, "
            f"{len(stats.failures)} failures",
            flush=True,
        )
    return stats


def report(engine: str, stats: Stats, seconds: float) -> None:
    print(
        f"\n{engine}: {stats.kills} kills in {stats.rounds} rounds ({seconds:.0f} s), "
        f"{stats.paired} of them with a second run going; "
        f"{stats.missed} runs finished before their kill"
    )
    for where, count in sorted(stats.landed.items(), key=lambda item: -item[1]):
        print(f"  {count:3} {where}")
    models = ", ".join(f"{model} {n}" for model, n in stats.models.most_common())
    print(f"  models being built: {models or 'none'}")
    print(f"  failures found: {len(stats.failures)}")
    for failure in stats.failures:
        print(f"    {failure}")


def main() -> None:
    args = parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    print(f"seed {seed}")
    rng = random.Random(seed)
    failed = False
    for engine in args.target or ["duckdb", "postgres"]:
        started = time.monotonic()
        stats = chaos(engine, args, rng)
        report(engine, stats, time.monotonic() - started)
        failed = failed or bool(stats.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
