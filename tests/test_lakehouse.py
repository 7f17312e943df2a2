"""The lakehouse output: gold tables published as Hive-partitioned Parquet, read back by
DuckDB, Spark and pandas; versions, a pointer swapped atomically, kills; on every backend."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from conftest import BACKENDS, REPO_ROOT, TinyProject, fresh_postgres_database
from warehouse_kit.apps.cli import app
from warehouse_kit.apps.notebooks_refresh import build_example
from warehouse_kit.core import lakehouse
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError, ExpressionError
from warehouse_kit.core.project import Project

WK = [sys.executable, "-m", "warehouse_kit.apps.cli"]
NULL = "__HIVE_DEFAULT_PARTITION__"
"""NULL's folder value."""
CHANNELS = ["web shop", "store", "a/b=c%d", ""]  # a folder name escapes / = %; "" is NULL

PIPELINE = """
pipeline:
  name: shop
  sources: [{name: shop, type: files, path: data, tables: [orders]}]
  transformations:
    - stage: silver
      models:
        - name: orders
          operations:
            - op: type_casting
              columns: {order_id: int64, order_date: date, channel: string, amount: "decimal(10,2)"}
            - {op: null_handling, columns: {channel: keep}}
            - {op: deduplicate, key: order_id}
    - stage: gold
      models:
        - name: fact_sales
          from: orders
          operations:
            - {op: calculate_metrics, columns: {net: "amount * 0.8"}}
  destination:
    tables: [fact_sales]
    lakehouse:
      path: lake
      compression: COMPRESSION
      target_file_size: SIZE
      keep_versions: 2
      tables:
        fact_sales:
          partition_by: PARTITIONS
"""
BY_CHANNEL_AND_MONTH = '[channel, {order_month: "year(order_date) * 100 + month(order_date)"}]'


def pipeline(
    partitions: str = BY_CHANNEL_AND_MONTH, size: str = "128MB", compression: str = "zstd"
) -> str:
    return (
        PIPELINE.replace("PARTITIONS", partitions)
        .replace("SIZE", size)
        .replace("COMPRESSION", compression)
    )


def orders_csv(first: int, count: int, seed: int = 1) -> str:
    """Orders over 2024 and 2025, some without a date or a channel."""
    rng = random.Random(seed)
    lines = ["order_id,order_date,channel,amount"]
    for order_id in range(first, first + count):
        day = date(2024, 1, 1) + timedelta(days=rng.randrange(730))
        when = "not a date" if order_id % 25 == 0 else day.isoformat()
        channel = CHANNELS[order_id % len(CHANNELS)]
        amount = f"{rng.uniform(1, 500):.2f}"
        lines.append(f'{order_id},{when},"{channel}",{amount}')
    return "\n".join(lines) + "\n"


def shop(tiny: TinyProject, rows: int = 300, **options: str) -> TinyProject:
    tiny.csv("orders", orders_csv(1, rows))
    tiny.pipeline(pipeline(**options))
    return tiny


def expected_rows(tiny: TinyProject) -> list[tuple[Any, ...]]:
    """The gold table's rows, each with the month its order_month folder must say."""
    rows = tiny.rows("gold.fact_sales")
    for row in rows:
        day = row["order_date"]
        row["order_month"] = day.year * 100 + day.month if day else None
    return normalized(rows)


def normalized(rows: Iterable[Mapping[str, Any]], key: str = "order_id") -> list[tuple[Any, ...]]:
    """Rows as sorted tuples of (column, value), in `key` order: each reader's types made
    plain (pandas' timestamps and NaN, zone-aware timestamps in UTC)."""

    def plain(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))
        if isinstance(value, float) and value != value:  # NaN: pandas' NULL
            return None
        return value

    result = [tuple(sorted((k, plain(v)) for k, v in row.items())) for row in rows]
    return sorted(result, key=lambda row: dict(row)[key])


def current(tiny: TinyProject, table: str = "fact_sales") -> Path:
    return tiny.root / "lake" / table / "current"


def duckdb_rows(folder: Path, key: str = "order_id") -> list[tuple[Any, ...]]:
    """What DuckDB reads, with nothing of warehouse-kit."""
    relation = duckdb.read_parquet(str(folder / "**" / "*.parquet"), hive_partitioning=True)
    return normalized(relation.to_arrow_table().to_pylist(), key)


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "_manifest.json").read_text())


# --- what is published, and who reads it ------------------------------------------------


def test_a_run_publishes_hive_partitions_that_duckdb_and_pandas_read_as_the_warehouse_has_them(
    tiny,
):
    shop(tiny)
    result = tiny.run()

    assert result.ok, result.first_error()
    [published] = result.published
    assert (published.table, published.status, published.version) == ("fact_sales", "published", 1)
    assert os.readlink(current(tiny)) == "v000001"
    files = current(tiny).rglob("*.parquet")
    folders = {path.parent.relative_to(current(tiny)).as_posix() for path in files}
    assert "channel=web%20shop/order_month=202401" in folders  # escaped as Hive escapes
    assert "channel=a%2Fb%3Dc%25d/order_month=202512" in folders
    assert f"channel=store/order_month={NULL}" in folders  # no order date: NULL
    assert f"channel={NULL}/order_month=202406" in folders
    expected = expected_rows(tiny)
    assert len(expected) == published.rows == 300
    assert duckdb_rows(current(tiny)) == expected
    # pandas: pyarrow cannot turn a partition column with NULLs into a categorical
    hive = ds.HivePartitioning.discover(infer_dictionary=False)
    frame = pd.read_parquet(current(tiny), partitioning=hive)
    assert normalized(frame.astype(object).to_dict("records")) == expected
    # The Python API reads the same through an Ibis table.
    assert lakehouse.read(tiny.root, "fact_sales").count().execute() == 300


@pytest.mark.spark
def test_spark_reads_the_same_rows_through_the_current_pointer(tiny, spark_session):
    shop(tiny)
    assert tiny.run().ok

    frame = spark_session.read.parquet(str(current(tiny)))

    assert dict(frame.dtypes)["order_month"] == "int"  # from the folder names
    assert normalized(row.asDict() for row in frame.collect()) == expected_rows(tiny)


def test_a_run_that_built_nothing_new_publishes_nothing_and_new_rows_make_a_new_version(tiny):
    shop(tiny, rows=100)
    assert tiny.run().ok
    again = tiny.run()
    assert [(p.status, p.version) for p in again.published] == [("unchanged", 1)]

    tiny.csv("orders", orders_csv(1, 150))  # the shop's next export: 50 more orders
    third = tiny.run()

    assert [(p.status, p.version, p.rows) for p in third.published] == [("published", 2, 150)]
    assert os.readlink(current(tiny)) == "v000002"
    old = lakehouse.read(tiny.root, "fact_sales", version=1)
    assert old.count().execute() == 100  # the version before, still readable whole
    assert [v.number for v in lakehouse.versions(tiny.root, "fact_sales")] == [1, 2]


def test_only_keep_versions_are_kept_and_a_changed_layout_is_published_again(tiny):
    shop(tiny, rows=50)
    assert tiny.run().ok
    runner = CliRunner()
    command = ["publish", "--project", str(tiny.root), "-t", tiny.target, "--force"]
    forced = runner.invoke(app, command)
    assert forced.exit_code == 0, forced.output
    assert "lake fact_sales published: v000002, 50 rows" in forced.output
    tiny.pipeline(pipeline(partitions="[channel]"))  # a new layout, the same data

    result = tiny.run()

    assert [(p.status, p.version) for p in result.published] == [("published", 3)]
    kept = lakehouse.versions(tiny.root, "fact_sales")
    assert [(v.number, v.current) for v in kept] == [(2, False), (3, True)]  # keep_versions: 2
    assert sorted(p.name for p in (tiny.root / "lake" / "fact_sales").iterdir()) == [
        ".lock", "current", "v000002", "v000003",
    ]  # fmt: skip
    assert {p.parent.name for p in current(tiny).rglob("*.parquet")} == {
        "channel=web%20shop", "channel=store", "channel=a%2Fb%3Dc%25d", f"channel={NULL}",
    }  # fmt: skip
    listing = runner.invoke(app, ["lake", "--project", str(tiny.root)], env={"COLUMNS": "200"})
    assert "v000003 (current)" in listing.output
    assert "v000001" not in listing.output  # deleted


def test_files_are_about_the_target_size(tiny):
    shop(tiny, rows=20_000, partitions="[]", size="64KB", compression="snappy")
    result = tiny.run()

    assert result.ok
    files = manifest(current(tiny))["files"]
    sizes = [f["bytes"] for f in files]
    assert len(files) > 5
    assert sum(f["rows"] for f in files) == 20_000
    assert all(40_000 < size < 90_000 for size in sizes[:-1]), sizes


def test_an_empty_table_publishes_a_version_readers_can_open(tiny):
    shop(tiny, rows=10)
    none = (
        '            - {op: apply_business_rules, rules: [{name: no, condition: "amount < 0"}]}\n'
    )
    tiny.pipeline(pipeline().replace("  destination:", none + "  destination:"))
    assert tiny.run().ok

    relation = duckdb.read_parquet(str(current(tiny) / "**" / "*.parquet"), hive_partitioning=True)
    assert relation.count("*").fetchone() == (0,)
    assert {"order_id", "net", "channel", "order_month"} <= set(relation.columns)


# --- the example ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The example built from both seed batches, and its lake's fact_orders folder."""
    lake = tmp_path_factory.mktemp("lake")
    with ExitStack() as stack:
        if request.param == "duckdb":
            url = f"duckdb:///{tmp_path_factory.mktemp('example')}/warehouse.duckdb"
        else:
            url = stack.enter_context(fresh_postgres_database())
        build_example(Project.load(REPO_ROOT), url, lake=lake)
        yield url, lake / "fact_orders"


def test_the_example_publishes_its_facts_by_order_month_after_each_batch(example):
    url, table = example
    wh = connect(url)
    try:
        facts = wh.table("fact_orders", "gold")
        gold = facts.mutate(order_month=(facts.date_key // 100).cast("int64")).to_pyarrow()
    finally:
        wh.close()

    kept = lakehouse.lake_versions.versions(table)
    assert [(v.number, v.current) for v in kept] == [(1, False), (2, True)]  # batch 1, batch 2
    assert kept[0].manifest["rows"] == 2959 < kept[1].manifest["rows"] == gold.num_rows
    assert duckdb_rows(table / "current", "order_item_id") == normalized(
        gold.to_pylist(), "order_item_id"
    )
    months = {p.name for p in (table / "current").iterdir() if p.is_dir()}
    assert "order_month=202401" in months
    assert "order_month=-1" in months  # date_key -1: no order date
    frame = pd.read_parquet(table / "current")  # no NULL partition: pandas as it comes
    assert len(frame) == gold.num_rows
    assert frame.amount.sum() == Decimal(str(pd.Series(gold["amount"].to_pylist()).sum()))


# --- failures ---------------------------------------------------------------------------------


def test_a_publish_that_fails_fails_the_run_and_the_next_run_publishes(tiny):
    shop(tiny, rows=20)
    (tiny.root / "lake").write_text("not a folder")

    failed = tiny.run()

    assert not failed.ok
    assert all(m.status == "success" for m in failed.models)
    assert failed.first_error().startswith("lake fact_sales: ")
    (tiny.root / "lake").unlink()
    again = tiny.run()
    assert again.ok
    assert all(m.status == "up_to_date" for m in again.models)
    assert [(p.status, p.version) for p in again.published] == [("published", 1)]


@pytest.mark.parametrize(
    ("partitions", "message"),
    [
        (
            "[chanel]",
            "pipeline.destination.lakehouse.tables.fact_sales.partition_by[0]: unknown column "
            "'chanel' of gold.fact_sales; did you mean 'channel'?",
        ),
        (
            "[amount]",
            "partition_by[0]: partition 'amount' is decimal(10, 2): partition by an integer, "
            "string, date or boolean",
        ),
        (
            '[{channel: "upper(channel)"}]',
            "partition_by[0]: 'channel' is already a column of gold.fact_sales",
        ),
    ],
)
def test_a_partition_the_table_cannot_have_stops_the_run_before_it_writes(
    duck, partitions, message
):
    shop(duck, partitions=partitions)

    with pytest.raises(ConfigError, match=r"^pipelines/p\.yml: ") as raised:
        duck.run()

    assert message in str(raised.value)
    assert not Path(duck.target.removeprefix("duckdb://")).exists() or not gold_tables(duck)


def test_an_expression_error_names_the_file_key_and_partition(duck):
    shop(duck, partitions='[{m: "month(order_dat)"}]')

    with pytest.raises(ExpressionError) as raised:
        duck.run()

    assert (
        "pipelines/p.yml: pipeline.destination.lakehouse.tables.fact_sales.partition_by[0].m"
        in str(raised.value)
    )
    assert "order_dat" in str(raised.value)


def test_a_lake_table_must_be_a_published_table(duck):
    shop(duck)
    duck.pipeline(pipeline().replace("        fact_sales:\n", "        orders:\n"))

    with pytest.raises(ConfigError) as raised:
        duck.run()

    assert str(raised.value) == (
        "pipelines/p.yml: pipeline.destination.lakehouse.tables.orders: 'orders' is not a "
        "table of destination.tables (fact_sales)"
    )


@pytest.fixture
def duck(tmp_path: Path) -> TinyProject:
    """A project on DuckDB only, for what does not depend on the engine."""
    return TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/warehouse.duckdb")


def gold_tables(tiny: TinyProject) -> list[str]:
    wh = connect(tiny.target)
    try:
        return wh.con.list_tables(database="gold") if "gold" in wh.con.list_databases() else []
    finally:
        wh.close()


# --- kills ------------------------------------------------------------------------------------


def assert_current_is_complete(tiny: TinyProject, rows: int) -> str:
    """`current` points to a version whose files are all there, as its manifest lists
    them, and hold every row; the version's name."""
    folder = current(tiny)
    written = manifest(folder)
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")}
    assert on_disk == {f["path"] for f in written["files"]}
    relation = duckdb.read_parquet(str(folder / "**" / "*.parquet"), hive_partitioning=True)
    assert relation.aggregate("count(*), count(DISTINCT order_id)").fetchone() == (rows, rows)
    assert written["rows"] == rows
    return os.readlink(folder)


def publishing(tiny: TinyProject) -> subprocess.Popen[bytes]:
    command = [*WK, "publish", "--force", "--project", str(tiny.root), "--target", tiny.target]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_a_publish_killed_at_any_moment_leaves_current_on_a_complete_version(tiny):
    # Files of 1KB: hundreds of them, so that a publish is a while writing.
    shop(tiny, rows=10_000, partitions="[channel]", size="1KB")
    [first] = tiny.run().published
    table = tiny.root / "lake" / "fact_sales"
    assert assert_current_is_complete(tiny, 10_000) == "v000001"

    # Killed while it writes its files: the moment its first file is there.
    clock = time.monotonic()
    process = publishing(tiny)
    while not any(table.glob(".v*.writing/*/*.parquet")) and process.poll() is None:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    starting = time.monotonic() - clock  # its start, up to its first file
    assert any(table.glob(".v000002.writing")), "the publish was not killed while writing"
    assert assert_current_is_complete(tiny, 10_000) == "v000001"

    # Killed at random moments, from about its first file to about its end.
    rng = random.Random(17)
    for _ in range(2):
        process = publishing(tiny)
        time.sleep(0.9 * starting + rng.uniform(0, 1.2) * first.duration_s)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert_current_is_complete(tiny, 10_000)

    # The next publish clears what the killed ones left.
    last = publishing(tiny)
    assert last.wait() == 0
    name = assert_current_is_complete(tiny, 10_000)
    names = sorted(p.name for p in table.iterdir())
    kept = [v.name for v in lakehouse.versions(tiny.root, "fact_sales")]
    assert names == [".lock", "current", *kept]  # nothing that killed publishes left
    assert len(kept) == 2  # keep_versions
    assert name == kept[-1]
