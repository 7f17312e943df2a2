"""The Warehouse connection: transactions and names, on every backend."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.backends import (
    MIN_DUCKDB_THREADS,
    ConnectionFailed,
    WarehouseBusy,
    connect,
    redact,
    table_ref,
)
from warehouse_kit.core.errors import WarehouseKitError


def create_table(name: str, schema: str) -> sge.Create:
    column = sge.ColumnDef(this=sg.to_identifier("a"), kind=sge.DataType.build("int"))
    return sge.Create(
        kind="TABLE", this=sge.Schema(this=table_ref(name, schema), expressions=[column])
    )


def test_a_committed_transaction_is_visible(warehouse):
    warehouse.ensure_schema("silver")
    with warehouse.transaction() as tx:
        tx.run(create_table("t", "silver"))
    assert warehouse.exists("t", "silver")


def test_a_failed_transaction_leaves_nothing_behind(warehouse):
    warehouse.ensure_schema("silver")

    def create_then_fail() -> None:
        with warehouse.transaction() as tx:
            tx.run(create_table("t", "silver"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        create_then_fail()
    assert not warehouse.exists("t", "silver")


def test_hostile_names_are_quoted_not_executed(warehouse):
    warehouse.ensure_schema("silver")
    hostile = 'x"; DROP TABLE y; --'
    warehouse.execute(create_table(hostile, "silver"))
    assert hostile in warehouse.con.list_tables(database="silver")


def test_arrow_batches_stream_into_a_table(warehouse):
    import pyarrow as pa

    warehouse.ensure_schema("bronze")
    warehouse.execute(create_table("t", "bronze"))
    data = pa.table({"a": [1, None, 3]})
    with warehouse.transaction() as tx:
        written = tx.load(table_ref("t", "bronze"), ["a"], data.to_reader(max_chunksize=2))
    assert written == 3
    assert warehouse.table("t", "bronze").a.sum().execute() == 4
    assert warehouse.table("t", "bronze").a.isnull().sum().execute() == 1


def test_redact_hides_the_password():
    assert redact("postgres://u:secret@h:5432/db") == "postgres://u:***@h:5432/db"
    assert redact("duckdb:///x.duckdb") == "duckdb:///x.duckdb"
    assert redact("postgres://u@h/db?sslmode=require&password=s3&x=1") == (
        "postgres://u@h/db?sslmode=require&password=***&x=1"
    )
    assert redact("duckdb:///x.duckdb?memory_limit=2GB") == "duckdb:///x.duckdb?memory_limit=2GB"


def test_a_password_in_the_query_is_not_in_the_error():
    with pytest.raises(ConnectionFailed) as caught:
        connect("postgres://root@127.0.0.1:1/x?password=s3cret")
    assert "s3cret" not in str(caught.value)
    assert "password=***" in str(caught.value)


def test_a_duckdb_file_in_a_missing_folder_is_an_error_naming_the_folder(tmp_path):
    folder = tmp_path / "typo" / "dir"
    with pytest.raises(WarehouseKitError) as caught:
        connect(f"duckdb://{folder}/x.duckdb")
    assert str(caught.value) == (
        f"cannot create the warehouse {folder}/x.duckdb: there is no folder {folder} "
        "(create it, or correct the target)"
    )
    assert not (tmp_path / "typo").exists()


def test_a_relative_duckdb_file_is_in_the_project_folder(tmp_path):
    connect("duckdb://w.duckdb", base_dir=tmp_path).close()
    assert (tmp_path / "w.duckdb").is_file()
    with pytest.raises(WarehouseKitError, match=f"there is no folder {tmp_path}/sub "):
        connect("duckdb://sub/w.duckdb", base_dir=tmp_path)


def test_unreachable_database_is_one_clear_error():
    with pytest.raises(ConnectionFailed, match=r"cannot open postgres://root@127.0.0.1:1/x: "):
        connect("postgres://root@127.0.0.1:1/x")


PYTHON = Path(sys.executable).resolve()  # DuckDB names the program a lock's holder runs
HOLD_READ_ONLY = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_writer_waits_for_a_reader_in_another_process_to_let_go(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(path), "1.0"], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None
    assert reader.stdout.readline() == "holding\n"
    with pytest.raises(WarehouseBusy, match=f"process {reader.pid} "):
        connect(f"duckdb:///{path}")
    started = time.monotonic()
    warehouse = connect(f"duckdb:///{path}", wait_s=30)
    warehouse.close()
    assert reader.wait() == 0
    assert time.monotonic() - started < 30


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A DuckDB file that another process keeps open, as a notebook's kernel would."""
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(path), "60"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        yield path, holder
    finally:
        holder.kill()
        holder.wait()


def test_a_file_held_by_another_process_is_one_line_naming_it(held):
    path, holder = held
    with pytest.raises(WarehouseBusy) as caught:
        connect(f"duckdb://{path}")
    assert str(caught.value) == (
        f"cannot open {path}: process {holder.pid} ({PYTHON}) has it open; "
        "close the warehouse there (a notebook's or a dashboard's connection) or wait for "
        "the run that holds it, then try again"
    )


def test_a_wait_for_a_held_file_says_so_and_then_gives_up(held, caplog):
    path, holder = held
    started = time.monotonic()
    with pytest.raises(WarehouseBusy, match=r"has it open and did not let go within 1\.5 s; "):
        connect(f"duckdb://{path}", wait_s=1.5)
    assert 1.0 < time.monotonic() - started < 5
    assert caplog.messages == [
        f"waiting up to 1.5 s for {path}: process {holder.pid} ({PYTHON}) has it open"
    ]


def test_an_unreachable_server_is_not_retried():
    started = time.monotonic()
    with pytest.raises(ConnectionFailed):
        connect("postgres://root@127.0.0.1:1/test", wait_s=30)
    assert time.monotonic() - started < 10


def test_duckdb_runs_at_least_three_threads_and_a_plain_connection_still_opens(tmp_path):
    path = tmp_path / "w.duckdb"
    warehouse = connect(f"duckdb:///{path}")
    try:
        (threads,) = warehouse.con.raw_sql("SELECT current_setting('threads')").fetchone()
        assert threads >= MIN_DUCKDB_THREADS
        with duckdb.connect(str(path)) as plain:  # a notebook's own connection, same process
            assert plain.execute("SELECT 1").fetchone() == (1,)
    finally:
        warehouse.close()


def test_duckdb_settings_come_from_the_url(tmp_path):
    warehouse = connect(f"duckdb:///{tmp_path}/w.duckdb?memory_limit=300MB&threads=1")
    try:
        setting = warehouse.con.raw_sql(
            "SELECT current_setting('threads'), current_setting('memory_limit')"
        ).fetchone()
        assert setting[0] == 1
        assert setting[1].startswith("286")  # 300 MB in MiB
    finally:
        warehouse.close()
    with pytest.raises(ConnectionFailed, match="memory_limt"):
        connect(f"duckdb:///{tmp_path}/w.duckdb?memory_limt=300MB")
