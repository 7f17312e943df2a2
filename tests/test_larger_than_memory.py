"""Building larger than memory: a DuckDB warehouse under a `memory_limit` far below what
its build takes spills to disk, and comes out the same as without a limit.

The example pipeline over about 300,000 generated order lines, then its later batch (the
incremental facts and the type-2 dimensions' merges), under 96MB with 3 threads: DuckDB
must spill (its folder of temporary files, next to the warehouse file, appears during the
run) and every gold table must have the same digest as a build with DuckDB's default
limit. A plan that cannot spill fails the limited build ("Out of Memory Error"); one that
spills into other results changes a digest. Not a timed test: what spilling costs is the
benchmark's (benchmarks/README.md). DuckDB only: `memory_limit` is a DuckDB setting.
"""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest

from warehouse_kit import demo
from warehouse_kit.core.backends import connect
from warehouse_kit.core.progress import Silent
from warehouse_kit.core.results import ModelResult
from warehouse_kit.core.runner import run

REPO_ROOT = Path(__file__).resolve().parent.parent
PIPELINE = REPO_ROOT / "pipelines" / "seeds-to-warehouse.yml"
GOLD = ("dim_customer", "dim_product", "dim_date", "fact_orders", "mart_monthly_sales")
ORDERS = 120_000
"""About 306,000 order lines, and 30,000 more in the later batch."""
SETTINGS = "memory_limit=96MB&threads=3"
"""Well under what the build takes (it spills from silver.order_items on), and enough for
the buffers each DuckDB thread needs whatever the data (about 30MB: with 3 threads the
fact table's build fails under 64MB). The threads are set, since DuckDB runs one per core:
on a machine with more cores, 96MB would be too little for any data."""
BY_RUN = {"_wk_run_id", "_wk_first_seen"}
"""Columns that name the run or its time, so differ between any two builds."""


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("seeds")
    demo.generate(folder / "batch1", orders=ORDERS)
    demo.generate_changes(folder / "batch2", orders=ORDERS, changes=10)
    return [folder / "batch1", folder / "batch2"]


class SpillSeen(Silent):
    """The models after which DuckDB's spill folder was there: DuckDB makes it when it
    first writes a temporary file, and removes it when the warehouse closes."""

    def __init__(self, database: Path):
        self.folder = database.with_name(database.name + ".tmp")
        self.models: list[str] = []

    def model_finished(self, result: ModelResult) -> None:
        if self.folder.is_dir():
            self.models.append(result.model)


def build(
    target: str, batches: list[Path], monkeypatch: pytest.MonkeyPatch, spilled: SpillSeen | None
) -> None:
    for folder in batches:
        monkeypatch.setenv("WK_SEEDS", str(folder))
        result = run(REPO_ROOT, pipelines=[PIPELINE], target=target, reporter=spilled)
        assert result.ok, [f"{m.model}: {m.error}" for m in result.failures()]


def as_of_runs(value: ir.Value, started: list[object]) -> ir.Value:
    """A timestamp, with each run's start replaced by the run's number: a deleted
    version is valid from the time of the run that found it gone."""
    cases = [
        (value == when, ibis.timestamp(f"2000-01-{n:02d}")) for n, when in enumerate(started, 1)
    ]
    return ibis.cases(*cases, else_=value)


def digests(target: str) -> dict[str, tuple[int, int]]:
    """Each gold table's row count and the sum of its rows' hashes (any row order)."""
    wh = connect(target)
    try:
        runs = wh.table("runs", "_wk")
        started = [row["started_at"] for row in wh.rows(runs.select("started_at"))]
        found = {}
        for name in GOLD:
            table = wh.table(name, "gold")
            row = {
                column: as_of_runs(table[column], started)
                if dtype.is_timestamp()
                else table[column]
                for column, dtype in table.schema().items()
                if column not in BY_RUN
            }
            digest = ibis.struct(row).hash().cast("decimal(38, 0)").sum()
            (values,) = wh.rows(table.aggregate(rows=table.count(), digest=digest))
            found[name] = (values["rows"], int(values["digest"]))
        return found
    finally:
        wh.close()


@pytest.mark.duckdb
@pytest.mark.slow
def test_a_build_under_a_tight_memory_limit_spills_and_builds_the_same_warehouse(
    tmp_path: Path, batches: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    limited, unlimited = tmp_path / "limited.duckdb", tmp_path / "unlimited.duckdb"
    spilled = SpillSeen(limited)
    build(f"duckdb://{limited}?{SETTINGS}", batches, monkeypatch, spilled)
    build(f"duckdb://{unlimited}", batches, monkeypatch, None)
    # Nothing spilled would prove nothing: then the limit is too generous for the data.
    assert spilled.models, f"the build did not spill with {SETTINGS}: add lines or lower the limit"
    found = digests(f"duckdb://{limited}")
    assert found["fact_orders"][0] > 300_000
    assert found == digests(f"duckdb://{unlimited}")
