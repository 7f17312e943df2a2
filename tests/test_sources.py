"""Sources: files of every format, PostgreSQL and DuckDB databases, landed on every backend."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import SourceError


def files_pipeline(tables: str, **options: str) -> str:
    extra = "".join(f", {key}: {value}" for key, value in options.items())
    return f"""
    pipeline:
      name: p
      sources: [{{name: files, type: files, path: data, tables: {tables}{extra}}}]
    """


def test_parquet_keeps_its_types(tiny):
    path = tiny.root / "data" / "t.parquet"
    duckdb.sql("SELECT 1::BIGINT AS id, 2.5::DOUBLE AS x").write_parquet(str(path))
    tiny.pipeline(files_pipeline("[t]"))
    assert tiny.run().ok
    [row] = tiny.rows("bronze.t")
    assert (row["id"], row["x"], row["_source"]) == (1, 2.5, "files: data/t.*")
    assert row["_batch_id"]
    assert row["_loaded_at"] is not None


def test_newline_delimited_json(tiny):
    (tiny.root / "data" / "events.ndjson").write_text(
        '{"id": 1, "kind": "a"}\n{"id": 2, "kind": "b"}\n'
    )
    tiny.pipeline(files_pipeline("[events]"))
    assert tiny.run().ok
    assert [row["kind"] for row in tiny.rows("bronze.events", order_by="id")] == ["a", "b"]


def test_a_folder_of_files_is_one_table(tiny):
    folder = tiny.root / "data" / "orders"
    folder.mkdir()
    (folder / "2024-01.csv").write_text("id\n1\n2\n")
    (folder / "2024-02.csv").write_text("id\n3\n")
    tiny.pipeline(files_pipeline("[orders]", pattern="'{table}'"))
    assert tiny.run().ok
    assert [row["id"] for row in tiny.rows("bronze.orders", order_by="id")] == ["1", "2", "3"]


def test_a_glob_per_table(tiny):
    tiny.csv("sales_east", "id\n1\n")
    tiny.csv("sales_west", "id\n2\n")
    tiny.csv("other", "id\n9\n")
    tiny.pipeline(files_pipeline("[{name: sales, path: 'sales_*.csv'}]"))
    assert tiny.run().ok
    assert [row["id"] for row in tiny.rows("bronze.sales", order_by="id")] == ["1", "2"]


def test_an_unknown_extension_asks_for_a_format(tiny):
    (tiny.root / "data" / "t.txt").write_text("id\n1\n")
    tiny.pipeline(files_pipeline("[t]"))
    with pytest.raises(
        SourceError, match=r"cannot tell the format from the extensions \['\.txt'\]"
    ):
        tiny.run()


def test_a_file_that_is_not_what_it_claims_is_named(tiny):
    (tiny.root / "data" / "t.parquet").write_text("id\n1\n")
    tiny.pipeline(files_pipeline("[t]"))
    with pytest.raises(
        SourceError, match=r"source files, table t: cannot read data/t\.\* as parquet"
    ):
        tiny.run()


def crm_pipeline(table: str) -> str:
    source = f"{{name: crm, type: postgres, connection: '${{CRM_URL}}', tables: [{table}]}}"
    return f"pipeline:\n  name: p\n  sources: [{source}]\n"


@pytest.fixture
def crm(postgres_url: str) -> str:
    """A PostgreSQL database playing a production system, with a customers table."""
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE customers (id int PRIMARY KEY, name text, spend numeric(10,2))")
        con.execute("INSERT INTO customers VALUES (1, 'Al', 10.50), (2, 'Bo', NULL), (3, 'Cy', 7)")
    return postgres_url


def test_a_postgres_table_and_query_land_in_bronze(tiny, crm, monkeypatch):
    monkeypatch.setenv("CRM_URL", crm)
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources:
            - name: crm
              type: postgres
              connection: ${CRM_URL}
              tables:
                - customers
                - {name: big_spenders, query: "SELECT id, spend FROM customers WHERE spend > 8"}
        """
    )
    assert tiny.run().ok
    customers = tiny.rows("bronze.customers", order_by="id")
    assert [(row["id"], row["name"]) for row in customers] == [(1, "Al"), (2, "Bo"), (3, "Cy")]
    assert customers[0]["_source"] == "crm: public.customers"
    assert [row["id"] for row in tiny.rows("bronze.big_spenders")] == [1]


def test_a_database_source_is_mirrored_not_duplicated_on_rerun(tiny, crm, monkeypatch):
    monkeypatch.setenv("CRM_URL", crm)
    tiny.pipeline(crm_pipeline("customers"))
    assert tiny.run().ok
    assert tiny.run().ok
    assert len(tiny.rows("bronze.customers")) == 3


def test_an_unreachable_source_names_the_source_not_the_password(tiny, monkeypatch):
    monkeypatch.setenv("CRM_URL", "postgres://root:hunter2@127.0.0.1:1/crm")
    tiny.pipeline(crm_pipeline("customers"))
    with pytest.raises(SourceError, match="source crm, table customers: cannot connect") as caught:
        tiny.run()
    assert "hunter2" not in str(caught.value)


def test_a_duckdb_file_source(tiny):
    path = tiny.root / "data" / "legacy.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE accounts AS SELECT 7 AS id, 'x' AS label")
    source = "{name: legacy, type: duckdb, path: data/legacy.duckdb, tables: [accounts]}"
    tiny.pipeline(f"pipeline:\n  name: p\n  sources: [{source}]\n")
    assert tiny.run().ok
    [row] = tiny.rows("bronze.accounts")
    assert (row["id"], row["label"]) == (7, "x")


def test_a_missing_table_is_named(tiny, crm, monkeypatch):
    monkeypatch.setenv("CRM_URL", crm)
    tiny.pipeline(crm_pipeline("nope"))
    with pytest.raises(SourceError, match="source crm, table nope: "):
        tiny.run()


def schemas(target: str) -> list[str]:
    wh = connect(target)
    try:
        return list(wh.con.list_databases())
    finally:
        wh.close()


def tables(target: str, schema: str) -> list[str]:
    wh = connect(target)
    try:
        return list(wh.con.list_tables(database=schema))
    finally:
        wh.close()


MALFORMED = {
    "more fields than the header": (
        "id,name\n1,a\n2,b,extra\n3,c\n",
        "data/t.csv, line 3: 3 fields where the header has 2: '2,b,extra'",
    ),
    "more fields on the last of two lines": (
        "id,name\n1,a\n2,b,extra\n",
        "data/t.csv, line 3: 3 fields where the header has 2: '2,b,extra'",
    ),
    "fewer fields than the header": (
        "id,name\n1,a\n2\n3,c\n",
        "data/t.csv, line 3: 1 field where the header has 2: '2'",
    ),
    "an unterminated quote": (
        'id,name\n1,a\n2,"b\n3,c\n',
        "data/t.csv, line 3: a quoted value is never closed: '2,\"b'",
    ),
    "no header row": (
        "1,10.5\n2,11.0\n",
        "data/t.csv: no header row: line 1 reads as data ('1,10.5'); "
        "the first line must name the columns",
    ),
    "an empty file": ("", "data/t.csv: the file is empty; the first line must name the columns"),
}


@pytest.mark.parametrize("problem", MALFORMED)
def test_a_malformed_csv_is_named_with_its_line_and_nothing_is_written(tiny, problem):
    text, message = MALFORMED[problem]
    tiny.csv("good", "id\n1\n")  # loads fine on its own: the run must not get that far
    (tiny.root / "data" / "t.csv").write_text(text)
    tiny.pipeline(files_pipeline("[good, t]"))
    with pytest.raises(SourceError) as caught:
        tiny.run()
    assert str(caught.value) == f"source files, table t: {message}"
    assert "_wk" not in schemas(tiny.target)
    assert "bronze" not in schemas(tiny.target)


def test_a_malformed_line_past_what_is_checked_up_front_fails_the_load_and_names_it(tiny):
    rows = "".join(f"{i},n{i}\n" for i in range(30_000))
    (tiny.root / "data" / "t.csv").write_text(f"id,name\n{rows}30000,x,y\n")
    tiny.pipeline(files_pipeline("[t]"))
    result = tiny.run()
    [bronze] = result.models
    assert bronze.status == "failed"
    assert bronze.error == (
        "source files, table t: data/t.csv, line 30002: 3 fields where the header has 2: "
        "'30000,x,y'"
    )
    assert "t" not in tables(tiny.target, "bronze")  # the load was rolled back


def test_well_formed_csvs_keep_loading_as_before(tiny):
    """Quoted values with delimiters and doubled quotes, a quote inside a value, a
    `;` file and a later file with a new column, in one folder."""
    folder = tiny.root / "data" / "t"
    folder.mkdir()
    (folder / "1.csv").write_text('id,note\n1,"a, b"\n2,"say ""hi"""\n3,5" screen\n')
    (folder / "2.csv").write_text("id;note;extra\n4;d;x\n")
    tiny.pipeline(files_pipeline("[t]", pattern="'{table}'"))
    assert tiny.run().ok
    out = [(r["id"], r["note"], r["extra"]) for r in tiny.rows("bronze.t", order_by="id")]
    assert out == [
        ("1", "a, b", None),
        ("2", 'say "hi"', None),
        ("3", '5" screen', None),
        ("4", "d", "x"),
    ]


def recorded_batches(target: str, model: str) -> dict[str, int]:
    wh = connect(target)
    try:
        batches = wh.table("batches", "_wk")
        mine = batches.filter(batches.model == model)
        return {row["batch_id"]: row["rows"] for row in wh.rows(mine)}
    finally:
        wh.close()


def bronze_batches(tiny, table: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in tiny.rows(f"bronze.{table}"):
        counts[row["_batch_id"]] = counts.get(row["_batch_id"], 0) + 1
    return counts


def test_each_file_is_recorded_with_its_own_rows_and_the_id_its_bronze_rows_carry(tiny):
    folder = tiny.root / "data" / "orders"
    folder.mkdir()
    (folder / "1.csv").write_text("id\n1\n2\n")
    (folder / "2.csv").write_text("id\n3\n")
    tiny.pipeline(files_pipeline("[orders]", pattern="'{table}'"))
    assert tiny.run().ok
    first = recorded_batches(tiny.target, "bronze.orders")
    assert sorted(first.values()) == [1, 2]
    assert bronze_batches(tiny, "orders") == first
    (folder / "3.csv").write_text("id\n4\n5\n6\n")
    assert tiny.run().ok
    second = recorded_batches(tiny.target, "bronze.orders")
    assert sorted(second.values()) == [1, 2, 3]
    assert bronze_batches(tiny, "orders") == second
    by_id = {row["id"]: row["_batch_id"] for row in tiny.rows("bronze.orders")}
    assert by_id["1"] == by_id["2"] != by_id["3"]


def test_a_database_load_is_recorded_with_the_id_its_bronze_rows_carry(tiny, crm, monkeypatch):
    monkeypatch.setenv("CRM_URL", crm)
    tiny.pipeline(crm_pipeline("customers"))
    result = tiny.run()
    assert result.ok
    assert recorded_batches(tiny.target, "bronze.customers") == {result.run_id: 3}
    assert bronze_batches(tiny, "customers") == {result.run_id: 3}
