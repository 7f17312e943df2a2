"""Schema drift: a source adds, drops, renames or retypes a column, and each table's
schema contract (evolve, freeze, discard) says what happens, on every backend."""

from __future__ import annotations

import json
import re
import sys

import duckdb
import ibis.expr.datatypes as dt
import psycopg
import pytest

from conftest import wk
from warehouse_kit.core import state
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.materialize.schema import widen

WK = [sys.executable, "-m", "warehouse_kit.apps.cli"]


def pipeline(contract: str = "evolve", source_contract: str = "") -> str:
    """Orders from CSV files; silver casts them and quarantines a negative amount; an
    incremental copy and a type-2 dimension of customers read silver."""
    extra = f", schema_contract: {source_contract}" if source_contract else ""
    return f"""
    pipeline:
      name: p
      schema_contract: {contract}
      sources: [{{name: shop, type: files, path: data, tables: [orders]{extra}}}]
      transformations:
        - stage: bronze
        - stage: silver
          models:
            - name: orders
              operations:
                - {{op: type_casting, columns: {{id: int64, amount: int64}}}}
                - {{op: deduplicate, key: id, order_by: _loaded_at, keep: last}}
              quality_checks:
                - {{name: amount_positive, type: range, field: amount, min: 0,
                   action: quarantine}}
            - name: orders_log
              from: bronze.orders
              incremental: {{unique_key: id}}
              operations:
                - {{op: type_casting, columns: {{id: int64}}}}
        - stage: gold
          models:
            - name: dim_order
              from: orders
              operations:
                - {{op: create_dimensions, key: id, scd: 2}}
    """


FIRST = "id,customer,amount\n1,al,10\n2,bo,-5\n"


def versions(target: str, table: str) -> list[tuple[int, str]]:
    wh = connect(target)
    try:
        found = wh.rows(state.schema_versions(wh, table))
        return [(row["version"], row["change"]) for row in found]
    finally:
        wh.close()


def reloaded(tiny, second: str, text: str | None = None):
    """The first file loaded with `text` (default: `pipeline()`), then `second` in its
    place: the second run's result."""
    tiny.csv("orders", FIRST)
    tiny.pipeline(text if text is not None else pipeline())
    assert tiny.run().ok
    tiny.csv("orders", second)
    return tiny.run()


def note(result, model: str) -> str:
    [found] = [m for m in result.models if m.model == model]
    assert found.status == "success", found.error
    return found.note


def test_a_new_column_reaches_every_table_that_keeps_rows(tiny):
    result = reloaded(tiny, "id,customer,amount,channel\n3,cy,7,web\n4,di,-1,shop\n")
    assert result.ok, [m.error for m in result.failures()]
    assert "new columns added: channel" in note(result, "bronze.orders")
    assert "new columns added: channel" in note(result, "silver.orders_log")
    assert "new columns added: channel" in note(result, "gold.dim_order")
    # Older rows get NULL; the new ones carry the value, in every table that keeps rows.
    log = {row["id"]: row["channel"] for row in tiny.rows("silver.orders_log")}
    assert log == {1: None, 2: None, 3: "web", 4: "shop"}
    quarantine = tiny.rows("silver.orders__quarantine", order_by="id")
    assert [(row["id"], row["channel"]) for row in quarantine] == [(2, None), (4, "shop")]
    dimension = tiny.rows("gold.dim_order", order_by="order_key")
    unknown = (None, None)  # the unknown member, key -1
    assert [(row["id"], row["channel"]) for row in dimension] == [unknown, (1, None), (3, "web")]
    assert versions(tiny.target, "gold.dim_order") == [
        (1, "created"),
        (2, "added channel (string)"),
    ]


def test_a_removed_column_is_null_in_new_rows_with_a_warning(tiny, caplog):
    result = reloaded(tiny, "id,amount\n3,7\n")
    assert result.ok, [m.error for m in result.failures()]
    warning = "column customer is missing from shop: data/orders.*: NULL in the new rows"
    assert warning in note(result, "bronze.orders")
    assert f"bronze.orders: {warning}" in caplog.text
    log = {row["id"]: row["customer"] for row in tiny.rows("silver.orders_log")}
    assert log == {1: "al", 2: "bo", 3: None}
    # The table's columns did not change: no new version.
    assert versions(tiny.target, "bronze.orders") == [(1, "created")]


def test_a_renamed_column_is_a_removed_one_and_a_new_one(tiny):
    result = reloaded(tiny, "id,client,amount\n3,cy,7\n")
    assert result.ok, [m.error for m in result.failures()]
    rows = tiny.rows("silver.orders_log", order_by="id")
    assert [(row["customer"], row["client"]) for row in rows] == [
        ("al", None),
        ("bo", None),
        (None, "cy"),
    ]
    assert versions(tiny.target, "silver.orders_log")[-1] == (2, "added client (string)")


def test_a_retyped_column_widens_or_fails_naming_both_types(tiny):
    tiny.csv("orders", FIRST)
    tiny.pipeline(pipeline().replace("{id: int64}}", "{id: int64, amount: int32}}"))
    assert tiny.run().ok
    # The incremental log's amount becomes int64 (a definition change): its column widens.
    tiny.pipeline(pipeline().replace("{id: int64}}", "{id: int64, amount: int64}}"))
    result = tiny.run()
    assert result.ok, [m.error for m in result.failures()]
    assert "widened amount int32 -> int64" in note(result, "silver.orders_log")
    assert versions(tiny.target, "silver.orders_log")[-1] == (2, "amount: int32 -> int64")
    tiny.pipeline(pipeline().replace("{id: int64}}", "{id: int64, amount: date}}"))
    with pytest.raises(ModelError) as refused:
        tiny.run()
    assert "column amount is date in the model's rows but int64 in the table" in str(refused.value)
    assert "--full-refresh" in str(refused.value)
    result = tiny.run(full_refresh=True)  # recovers: the table is rebuilt with the new type
    assert result.ok, [m.error for m in result.failures()]


def test_freeze_fails_the_run_naming_the_file_column_and_contract(tiny):
    tiny.csv("orders", FIRST)
    tiny.pipeline(pipeline(source_contract="freeze"))
    assert tiny.run().ok
    before = tiny.rows("bronze.orders", order_by="id")
    tiny.csv("orders", "id,customer,amount,channel\n3,cy,7,web\n")
    with pytest.raises(ModelError) as refused:
        tiny.run()
    assert str(refused.value) == (
        "model bronze.orders: shop: data/orders.* has a new column channel (string), and "
        "schema_contract: freeze allows no change to the table's columns (use evolve to let "
        "them change, or --full-refresh to rebuild)"
    )
    tiny.csv("orders", "id,amount\n3,7\n")
    with pytest.raises(ModelError, match="has no column customer, and schema_contract: freeze"):
        tiny.run()
    assert tiny.rows("bronze.orders", order_by="id") == before  # nothing was written


def test_discard_leaves_new_columns_out_with_a_warning(tiny):
    result = reloaded(
        tiny, "id,customer,amount,channel\n3,cy,7,web\n", pipeline(source_contract="discard")
    )
    assert result.ok, [m.error for m in result.failures()]
    assert "new columns left out (schema_contract: discard): channel" in note(
        result, "bronze.orders"
    )
    assert all("channel" not in row for row in tiny.rows("bronze.orders"))
    assert [row["id"] for row in tiny.rows("silver.orders_log", order_by="id")] == [1, 2, 3]


def test_a_model_frozen_fails_when_its_definition_changes_its_columns(tiny):
    tiny.csv("orders", FIRST)
    model = "- name: orders_log"
    frozen = pipeline().replace(model, f"{model}\n              schema_contract: freeze")
    tiny.pipeline(frozen)
    assert tiny.run().ok
    metric = "\n                - {op: calculate_metrics, columns: {twice: id * 2}}"
    tiny.pipeline(frozen.replace("{id: int64}}", "{id: int64}}" + metric))
    with pytest.raises(
        ModelError,
        match=re.escape("model silver.orders_log: the model's rows has a new column twice"),
    ):
        tiny.run()


def test_wk_history_lists_a_tables_schema_versions(tiny):
    tiny.csv("orders", FIRST)
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    tiny.csv("orders", "id,customer,amount,channel\n3,cy,7,web\n")
    assert tiny.run().ok
    shown = wk(
        "history", "--target", tiny.target, "--schema", "bronze.orders", cwd=tiny.root,
        env={"COLUMNS": "250"},
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "bronze.orders: 2 schema versions" in shown.stdout
    assert "added channel (string)" in shown.stdout
    wrong = wk("history", "--target", tiny.target, "--schema", "bronze.order", cwd=tiny.root)
    assert wrong.returncode != 0
    assert "no schema versions recorded for bronze.order; did you mean 'bronze.orders'?" in (
        wrong.stderr
    )
    wh = connect(tiny.target)
    try:
        [latest] = wh.rows(
            state.schema_versions(wh, "bronze.orders").filter(lambda t: t.version == 2)
        )
    finally:
        wh.close()
    names = [name for name, _ in json.loads(latest["columns"])]
    assert names == ["id", "customer", "amount", "_loaded_at", "_source", "_batch_id", "channel"]


@pytest.fixture
def crm(postgres_url: str) -> str:
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, score int)")
        con.execute("INSERT INTO customers VALUES (1, 'Al', 10), (2, 'Bo', 20)")
    return postgres_url


CRM = """
pipeline:
  name: p
  sources:
    - {name: crm, type: postgres, connection: '${CRM_URL}',
       tables: [{name: customers, incremental: {cursor: id}}]}
"""


def test_a_postgres_source_adds_widens_and_refuses_columns(tiny, crm, monkeypatch):
    monkeypatch.setenv("CRM_URL", crm)
    tiny.pipeline(CRM)
    assert tiny.run().ok
    with psycopg.connect(crm, autocommit=True) as con:
        con.execute("ALTER TABLE customers ADD COLUMN tier text, ALTER COLUMN score TYPE bigint")
        con.execute("INSERT INTO customers VALUES (3, 'Cy', 30000000000, 'gold')")
    result = tiny.run()
    assert result.ok, [m.error for m in result.failures()]
    assert "new columns added: tier" in note(result, "bronze.customers")
    assert "widened score int32 -> int64" in note(result, "bronze.customers")
    rows = tiny.rows("bronze.customers", order_by="id")
    assert [(row["score"], row["tier"]) for row in rows] == [
        (10, None),
        (20, None),
        (30000000000, "gold"),
    ]
    with psycopg.connect(crm, autocommit=True) as con:
        con.execute("ALTER TABLE customers ALTER COLUMN score TYPE text")
        con.execute("INSERT INTO customers VALUES (4, 'Di', 'high', NULL)")
    with pytest.raises(
        ModelError,
        match=re.escape("column score is string in crm: public.customers but int64 in the table"),
    ):
        tiny.run()
    assert len(tiny.rows("bronze.customers")) == 3


@pytest.mark.parametrize(
    ("old", "new", "wider"),
    [
        ("int32", "int64", "int64"),
        ("int64", "int32", "int64"),
        ("int8", "uint8", "int16"),
        ("int32", "float64", "float64"),
        ("int64", "float64", None),  # a double cannot hold every int64 exactly
        ("decimal(10, 2)", "decimal(10, 4)", "decimal(12, 4)"),
        ("int32", "decimal(5, 2)", "decimal(12, 2)"),
        ("date", "timestamp", "timestamp(6)"),
        ("timestamp", "timestamp('UTC')", None),
        ("int64", "string", None),
        ("string", "int64", None),
    ],
)
def test_a_type_widens_only_where_no_value_is_lost(old, new, wider):
    found = widen(dt.dtype(old), dt.dtype(new))
    assert found == (None if wider is None else dt.dtype(wider))


def test_a_file_whose_column_changes_type_is_refused_or_widened(tiny):
    """Parquet keeps its types: a column that widens (int32 to int64) widens bronze; one
    that turns to text is refused, naming the file, the column and both types."""
    folder = tiny.root / "data" / "sales"
    folder.mkdir()
    duckdb.sql("SELECT 1 AS id, 10::INT AS qty").write_parquet(str(folder / "1.parquet"))
    tiny.pipeline(
        "pipeline:\n  name: p\n"
        "  sources: [{name: shop, type: files, path: data, pattern: '{table}/*.parquet',"
        " tables: [sales]}]\n"
    )
    assert tiny.run().ok
    duckdb.sql("SELECT 2 AS id, 3000000000::BIGINT AS qty").write_parquet(str(folder / "2.parquet"))
    result = tiny.run()
    assert result.ok, [m.error for m in result.failures()]
    assert "widened qty int32 -> int64" in note(result, "bronze.sales")
    assert [row["qty"] for row in tiny.rows("bronze.sales", order_by="id")] == [10, 3000000000]
    duckdb.sql("SELECT 3 AS id, 'many' AS qty").write_parquet(str(folder / "3.parquet"))
    with pytest.raises(ModelError) as refused:
        tiny.run()
    assert "column qty is string in shop: data/sales/*.parquet but int64 in the table" in str(
        refused.value
    )


def test_a_quarantine_table_widens_with_its_model(tiny):
    """The model's amount goes from int32 to int64: the rows it sets aside may not fit
    the quarantine table's int32, which widens too."""
    tiny.csv("orders", FIRST)
    narrow = pipeline().replace("amount: int64}}", "amount: int32}}")
    tiny.pipeline(narrow)
    assert tiny.run().ok
    tiny.pipeline(pipeline())
    tiny.csv("orders", "id,customer,amount\n5,ed,-3000000000\n")
    result = tiny.run()
    assert result.ok, [m.error for m in result.failures()]
    quarantine = tiny.rows("silver.orders__quarantine", order_by="id")
    assert [(row["id"], row["amount"]) for row in quarantine] == [(2, -5), (5, -3000000000)]
    assert versions(tiny.target, "silver.orders__quarantine")[-1] == (2, "amount: int32 -> int64")
    # A type the quarantine cannot hold is refused, and --full-refresh starts it again.
    tiny.pipeline(
        pipeline()
        .replace(
            "{op: type_casting, columns: {id: int64, amount: int64}}",
            "{op: type_casting, columns: {id: int64}}",
        )
        .replace(
            "type: range, field: amount, min: 0", "type: regex, field: amount, pattern: '^[0-9]+$'"
        )
    )
    tiny.csv("orders", "id,customer,amount\n6,fy,x\n")
    [failure] = tiny.run(select=["silver.orders"]).failures()  # (the dimension refuses it)
    assert failure.error == (
        "the rows it sets aside have amount as string, which the quarantine table's int64 "
        "cannot hold: rebuild it with --full-refresh"
    )
    assert tiny.run(select=["silver.orders"], full_refresh=True).ok
