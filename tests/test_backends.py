"""The Warehouse connection: transactions and names, on every backend."""

from __future__ import annotations

import pytest
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.backends import ConnectionFailed, connect, redact, table_ref


def create_table(name: str, schema: str) -> sge.Create:
    column = sge.ColumnDef(this=sg.to_identifier("a"), kind=sge.DataType.build("int"))
    return sge.Create(
        kind="TABLE", this=sge.Schema(this=table_ref(name, schema), expressions=[column])
    )


def test_a_committed_transaction_is_visible(warehouse):
    warehouse.ensure_schema("silver")
    with warehouse.transaction() as run:
        run(create_table("t", "silver"))
    assert warehouse.exists("t", "silver")


def test_a_failed_transaction_leaves_nothing_behind(warehouse):
    warehouse.ensure_schema("silver")
    with pytest.raises(RuntimeError), warehouse.transaction() as run:
        run(create_table("t", "silver"))
        raise RuntimeError("boom")
    assert not warehouse.exists("t", "silver")


def test_hostile_names_are_quoted_not_executed(warehouse):
    warehouse.ensure_schema("silver")
    hostile = 'x"; DROP TABLE y; --'
    warehouse.execute(create_table(hostile, "silver"))
    assert hostile in warehouse.con.list_tables(database="silver")


def test_redact_hides_the_password():
    assert redact("postgres://u:secret@h:5432/db") == "postgres://u:***@h:5432/db"
    assert redact("duckdb:///x.duckdb") == "duckdb:///x.duckdb"


def test_unreachable_database_is_one_clear_error():
    with pytest.raises(ConnectionFailed, match=r"cannot open postgres://root@127.0.0.1:1/x: "):
        connect("postgres://root@127.0.0.1:1/x")
