"""Spark targets: the URL, the warehouse folder, and publishing that a kill cannot tear.

A Spark warehouse publishes a write's tables by replacing one manifest (core/spark). A
`wk run` killed at any moment leaves every table as the last whole write left it: the
tables the manifest names are complete and agree with the run history, and the next run
finishes the work.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import spark_url
from warehouse_kit.core.backends import connect, engine_of, redact
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.spark import parse_url
from warehouse_kit.core.spark.store import HISTORY, KEEP, MANIFEST

pytestmark = pytest.mark.spark

PIPELINE = """
pipeline:
  name: p
  sources:
    - {name: files, type: files, path: data, pattern: "{table}_*.csv", tables: [orders],
       load: append}
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: clean
          from: orders
          operations:
            - {op: calculate_metrics, columns: {amount: "cast(amount AS DOUBLE)"}}
          quality_checks:
            - {name: positive, type: range, field: amount, min: 0, action: quarantine}
    - stage: gold
      models:
        - name: by_customer
          from: clean
          operations:
            - op: aggregate_metrics
              group_by: [customer]
              measures: {total: "sum(amount)", orders: "count(*)"}
        - name: overall
          from: clean
          operations: [{op: aggregate_metrics, measures: {total: "sum(amount)"}}]
"""


def project(root: Path, files: int) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "pipelines").mkdir(exist_ok=True)
    (root / "pipelines" / "p.yml").write_text(textwrap.dedent(PIPELINE))
    for n in range(files):
        lines = [f"{n * 10 + i},c{i % 3},{(i - 1) * 2.5}" for i in range(10)]
        (root / "data" / f"orders_{n}.csv").write_text("id,customer,amount\n" + "\n".join(lines))
    return root


def test_a_spark_url_names_its_master_folder_and_settings(tmp_path: Path) -> None:
    parsed = parse_url("spark://local[2]?warehouse=lake&spark.sql.shuffle.partitions=4", tmp_path)
    assert (parsed.master, parsed.folder) == ("local[2]", tmp_path / "lake")
    assert parsed.settings == {"spark.sql.shuffle.partitions": "4"}
    assert parse_url("spark://host:7077", tmp_path).master == "spark://host:7077"
    assert parse_url("spark://local", tmp_path).folder == tmp_path / "spark-warehouse"
    assert engine_of("spark://local[2]") == "spark"
    assert redact("spark://local[2]?warehouse=x") == "spark://local[2]?warehouse=x"


def test_a_spark_connect_url_names_its_server_and_hides_its_token(tmp_path: Path) -> None:
    parsed = parse_url("sc://host:15002/;token=s3cret;user_id=ann?warehouse=/shared/wk", tmp_path)
    assert (parsed.master, parsed.folder) == (
        "sc://host:15002/;token=s3cret;user_id=ann",
        Path("/shared/wk"),
    )
    assert parsed.remote
    assert not parse_url("spark://local[2]", tmp_path).remote
    assert engine_of("sc://host:15002") == "spark"
    assert (
        redact("sc://host:15002/;token=s3cret;user_id=ann")
        == "sc://host:15002/;token=***;user_id=ann"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("spark://", "say where Spark runs"),
        ("sc://?warehouse=x", "say where Spark runs"),
        ("spark://local[2]?memory=2g", "unknown setting 'memory'"),
    ],
)
def test_a_bad_spark_url_is_one_clear_line(tmp_path: Path, url: str, says: str) -> None:
    with pytest.raises(WarehouseKitError, match=says):
        parse_url(url, tmp_path)


def test_each_write_publishes_a_generation_and_keeps_a_few(
    spark_session: Any, tmp_path: Path
) -> None:
    from warehouse_kit.core.runner import run

    root = project(tmp_path / "p", files=1)
    url = spark_url(tmp_path / "spark")
    assert run(root, target=url).ok
    folder = tmp_path / "spark"
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["schemas"]) >= {"_wk", "bronze", "silver", "gold"}
    kept = sorted((folder / HISTORY).glob("*.json"))
    assert len(kept) >= KEEP + 1  # and those of the last minutes
    assert kept[-1].name == f"{manifest['generation']:08d}.json"
    named = {folder / v[0] for tables in manifest["tables"].values() for v in tables.values()}
    assert all(path.is_dir() for path in named)
    # The folders on disk are those some kept manifest names: no leftovers of replaced
    # versions (a temporary folder of a write under way aside).
    older = set()
    for path in kept:
        data = json.loads(path.read_text())
        older |= {folder / v[0] for t in data["tables"].values() for v in t.values()}
    on_disk = {p for schema in manifest["schemas"] for p in (folder / schema).glob("*/*")}
    assert on_disk <= older
    # Each table's folder is named for it, not for the staging table it was written as.
    assert {p.parent.name for p in on_disk} == {
        name for tables in manifest["tables"].values() for name in tables
    }


def wk_run(root: Path, url: str) -> subprocess.Popen[str]:
    """`wk run` in a process of its own, with its own Spark, unbuffered: its first line
    says the run has begun."""
    return subprocess.Popen(
        [sys.executable, "-m", "warehouse_kit.apps.cli", "run", "--target", url, "--wait", "120"],
        cwd=root,
        env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def consistent(url: str) -> dict[str, int]:
    """Check what a reader sees: every table the manifest names reads whole, and each
    model's table holds the rows its last successful run recorded. Returns gold's rows."""
    wh = connect(url)
    try:
        runs = wh.table("model_runs", "_wk")
        done = runs.filter(runs.status == "success")
        latest = done.group_by("model").aggregate(run_id=done.run_id.max())
        last = done.join(latest, ["model", "run_id"]).select("model", "rows_out")
        recorded = {row["model"]: row["rows_out"] for row in wh.rows(last)}
        for model, rows_out in recorded.items():
            schema, name = model.split(".")
            if schema == "bronze":
                continue  # a source's row is its batch's rows; bronze holds all batches
            assert wh.scalar(wh.table(name, schema).count()) == rows_out, model
        running = wh.rows(wh.table("runs", "_wk").filter(lambda t: t.status == "running"))
        assert len(running) <= 1  # a killed run, until the next one marks it aborted
        return {name: wh.scalar(wh.table(name, "gold").count()) for name in wh.tables("gold")}
    finally:
        wh.close()


@pytest.mark.slow
def test_a_killed_run_never_leaves_a_half_published_table(
    spark_session: Any, tmp_path: Path
) -> None:
    from warehouse_kit.core.runner import run

    root = project(tmp_path / "p", files=3)
    url = spark_url(tmp_path / "spark")
    assert run(root, target=url).ok  # in this process: its Spark is already up
    expected = consistent(url)
    (root / "data" / "orders_9.csv").write_text("id,customer,amount\n900,c9,1.0\n901,c0,-1\n")
    rng = random.Random()
    seed = rng.randrange(1_000_000)
    rng.seed(seed)
    # Killed once, in a process of its own (each costs a Spark start; benchmarks/chaos.py
    # --target spark kills more): while it builds a model, a random one of its four.
    process = wk_run(root, url)
    assert process.stdout is not None
    for _ in range(1 + rng.randrange(4)):  # "run ...: 4 models", then one line per model
        assert process.stdout.readline(), process.communicate()
    time.sleep(rng.uniform(0, 1))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    consistent(url)  # whatever the kill interrupted (seed {seed})
    assert run(root, target=url, wait=120).ok
    final = consistent(url)
    assert final["by_customer"] == expected["by_customer"] + 1, f"seed {seed}"  # c9
    assert final["overall"] == 1
