"""`wk metrics`, and reading metrics while a pipeline writes the DuckDB file."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, wk
from warehouse_kit.analytics import metrics
from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import run

pytestmark = pytest.mark.duckdb


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('metrics_cli')}/warehouse.duckdb"
    assert run(REPO_ROOT, target=url).ok
    return url


def expected(target: str, names: list[str], **options: object) -> list[dict]:
    warehouse = connect(target, read_only=True)
    try:
        expr = metrics.query(names, warehouse=warehouse, project=REPO_ROOT, **options)
        return warehouse.rows(expr)
    finally:
        warehouse.close()


def test_list_shows_the_metrics_and_saved_queries():
    result = wk("metrics", "list")
    assert result.returncode == 0, result.stderr
    assert "aov" in result.stdout
    assert "revenue, orders" in result.stdout
    assert "top_categories" in result.stdout


def test_query_as_csv(target):
    result = wk("metrics", "query", "revenue", "orders", "aov", "-b", "segment", "-g", "quarter",
                "--start", "2024-01-01", "-f", "csv", "-t", target)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    want = expected(
        target, ["revenue", "orders", "aov"], by="segment", grain="quarter", start="2024-01-01"
    )
    assert len(rows) == len(want) == 16
    for row, other in zip(rows, want, strict=True):
        assert row["quarter"] == other["quarter"].isoformat()
        assert row["segment"] == other["segment"]
        assert float(row["revenue"]) == float(other["revenue"])
        assert float(row["aov"]) == pytest.approx(other["aov"])


def test_a_saved_query_as_json(target):
    result = wk("metrics", "query", "top_categories", "--limit", "3", "-f", "json", "-t", target)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    want = expected(target, ["top_categories"], limit=3)
    assert [row["category"] for row in rows] == [row["category"] for row in want]
    assert [row["revenue"] for row in rows] == [float(row["revenue"]) for row in want]


def test_the_table_shows_values_in_their_format(target):
    result = wk("metrics", "query", "revenue", "return_rate", "-g", "year", "--compare",
                "previous_period", "-t", target)  # fmt: skip
    assert result.returncode == 0, result.stderr
    revenue = expected(target, ["revenue"], grain="year")[1]["revenue"]
    assert f"{revenue:,.2f}" in result.stdout
    assert "%" in result.stdout


def test_sql_prints_the_query_without_running_it(target):
    result = wk("metrics", "query", "aov", "-b", "category", "--sql", "-t", target)
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith(("SELECT", "WITH"))
    assert '"gold"."fact_orders"' in result.stdout


def test_a_mistake_is_one_line(target):
    result = wk("metrics", "query", "revenue", "-b", "segmnt", "-t", target)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: query: by[0]: unknown column 'segmnt' in model orders")


def test_a_query_without_a_warehouse_leaves_the_file_to_the_writer(target):
    result = metrics.query(["revenue", "orders"], grain="month", project=REPO_ROOT, target=target)
    # The DuckDB file is closed again: a pipeline in another process can write to it...
    path = target.removeprefix("duckdb://")
    writer = f"import duckdb; duckdb.connect({path!r}).execute('CREATE TABLE t AS SELECT 1')"
    subprocess.run([sys.executable, "-c", writer], check=True, timeout=60)
    # ... while the (small) result stays usable in memory.
    assert len(result.to_pandas()) == 25  # 24 months and the facts whose date is unknown


def test_a_query_waits_for_a_writer_to_let_go(target):
    path = target.removeprefix("duckdb://")
    holder = (
        f"import duckdb, time; con = duckdb.connect({path!r}); print('held', flush=True); "
        "time.sleep(1.5); con.close()"
    )
    writer = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "held"
        started = time.monotonic()
        result = metrics.query("revenue", project=REPO_ROOT, target=target)
        assert time.monotonic() - started > 0.5  # it retried until the writer closed the file
        assert result.to_pyarrow().num_rows == 1
    finally:
        writer.wait(timeout=30)
