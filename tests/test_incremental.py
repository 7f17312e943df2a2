"""Incremental loads: cursors and watermarks in bronze, merged facts, late members repaired."""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from warehouse_kit.core.backends import connect


def source_db(tiny, rows: list[tuple[int, str, str]]) -> None:
    """A DuckDB file playing a production database: events(id, updated_at, v)."""
    path = tiny.root / "data" / "app.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE IF NOT EXISTS events (id INT, updated_at TIMESTAMP, v VARCHAR)")
        con.executemany("INSERT INTO events VALUES (?, ?, ?)", rows)


def update_source(tiny, sql: str) -> None:
    with duckdb.connect(str(tiny.root / "data" / "app.duckdb")) as con:
        con.execute(sql)


PIPELINE = """
pipeline:
  name: p
  sources:
    - name: app
      type: duckdb
      path: data/app.duckdb
      tables: [events]
      incremental: {cursor: updated_at, lookback: LOOKBACK, key: [id, updated_at]}
"""


def pipeline(lookback: str = "1 hour") -> str:
    return PIPELINE.replace("LOOKBACK", f"'{lookback}'")


def watermark(target: str, model: str) -> str | None:
    wh = connect(target)
    try:
        marks = wh.table("watermarks", "_wk")
        return wh.scalar(marks.filter(marks.model == model).value.max())
    finally:
        wh.close()


def bronze_ids(tiny) -> list[tuple[int, str]]:
    return sorted((row["id"], row["v"]) for row in tiny.rows("bronze.events"))


@pytest.mark.parity
def test_only_rows_past_the_watermark_are_loaded(tiny):
    source_db(tiny, [(1, "2024-01-01 10:00", "a"), (2, "2024-01-01 11:00", "b")])
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    assert watermark(tiny.target, "bronze.events") == "2024-01-01 11:00:00"
    source_db(tiny, [(3, "2024-01-02 09:00", "c")])
    update_source(tiny, "UPDATE events SET v = 'b2', updated_at = '2024-01-02 10:00' WHERE id = 2")
    result = tiny.run()
    bronze = next(m for m in result.models if m.model == "bronze.events")
    assert bronze.rows_in == 2  # the new row and the updated one; row 1 is not read again
    assert bronze_ids(tiny) == [(1, "a"), (2, "b"), (2, "b2"), (3, "c")]
    assert watermark(tiny.target, "bronze.events") == "2024-01-02 10:00:00"


def test_a_rerun_loads_nothing(tiny):
    source_db(tiny, [(1, "2024-01-01 10:00", "a")])
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    again = tiny.run()
    assert next(m for m in again.models if m.model == "bronze.events").rows_in == 0
    assert bronze_ids(tiny) == [(1, "a")]


def test_a_late_row_within_the_lookback_is_picked_up_exactly_once(tiny):
    source_db(tiny, [(1, "2024-01-01 10:00", "a"), (2, "2024-01-01 12:00", "b")])
    tiny.pipeline(pipeline("1 hour"))
    assert tiny.run().ok
    source_db(tiny, [(3, "2024-01-01 11:30", "late")])  # older than the watermark, inside the hour
    assert tiny.run().ok
    assert tiny.run().ok
    assert bronze_ids(tiny) == [(1, "a"), (2, "b"), (3, "late")]  # row 2, re-read, not twice


def test_full_refresh_starts_over(tiny):
    source_db(tiny, [(1, "2024-01-01 10:00", "a")])
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    update_source(tiny, "DELETE FROM events")
    source_db(tiny, [(5, "2023-06-01 00:00", "old")])
    assert tiny.run(full_refresh=True).ok
    assert bronze_ids(tiny) == [(5, "old")]
    assert watermark(tiny.target, "bronze.events") == "2023-06-01 00:00:00"


def test_a_file_batch_with_rows_older_than_the_lookback_loads_and_reports_them(tiny):
    tiny.csv("events", "id,updated_at,v\n1,2024-01-01 10:00:00,a\n2,2024-01-05 10:00:00,b\n")
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources:
            - name: files
              type: files
              path: data
              tables: [{name: events, path: 'events*.csv'}]
              incremental: {cursor: updated_at, lookback: 2 days, key: [id]}
        """
    )
    assert tiny.run().ok
    # A second extract overlaps the first: row 2 again (inside the lookback), row 3 new,
    # and row 9, stamped long before the watermark.
    tiny.csv(
        "events_2",
        "id,updated_at,v\n"
        "2,2024-01-05 10:00:00,b\n3,2024-01-06 08:00:00,c\n9,2023-12-01 00:00:00,z\n",
    )
    result = tiny.run()
    bronze = next(m for m in result.models if m.model == "bronze.events")
    assert "1 rows older than watermark - lookback" in bronze.note
    assert bronze_ids(tiny) == [("1", "a"), ("2", "b"), ("3", "c"), ("9", "z")]


INCREMENTAL_FACTS = """
pipeline:
  name: p
  sources:
    - {name: crm, type: files, path: data, tables: [customers], load: replace}
    - {name: shop, type: files, path: data, tables: [{name: sales, path: 'sales*.csv'}]}
  transformations:
    - stage: silver
      models:
        - name: sales
          operations:
            - {op: type_casting, columns: {sale_id: int64, customer_id: int64, amount: int64}}
            - {op: deduplicate, key: sale_id}
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {op: type_casting, columns: {id: int64}}
            - {op: create_dimensions, key: id}
        - name: fact_sales
          from: sales
          incremental: {unique_key: sale_id}
          operations:
            - op: build_facts
              dimensions: [{dimension: dim_customer, key: customer_id}]
              columns: [sale_id, amount]
"""


def facts(tiny) -> dict[int, tuple[int, int]]:
    return {
        row["sale_id"]: (row["customer_key"], row["amount"]) for row in tiny.rows("gold.fact_sales")
    }


# On Spark, tests/test_parity.py builds the example's incremental fact over two batches.
def test_an_incremental_fact_builds_only_new_rows_and_merges_them(tiny):
    tiny.csv("customers", "id,name\n1,Al\n2,Bo\n")
    tiny.csv("sales", "sale_id,customer_id,amount\n10,1,5\n11,2,6\n")
    tiny.pipeline(INCREMENTAL_FACTS)
    assert tiny.run().ok
    tiny.csv("sales_2", "sale_id,customer_id,amount\n11,2,60\n12,1,7\n")  # 11 corrected, 12 new
    result = tiny.run()
    fact = next(m for m in result.models if m.model == "gold.fact_sales")
    assert fact.rows_in == 2
    assert "2 rows merged (1 replaced)" in fact.note
    assert facts(tiny) == {10: (1, 5), 11: (2, 60), 12: (1, 7)}
    assert tiny.run().ok
    assert len(tiny.rows("gold.fact_sales")) == 3


def test_a_late_arriving_member_repairs_its_facts_on_a_later_run(tiny):
    tiny.csv("customers", "id,name\n1,Al\n")
    tiny.csv("sales", "sale_id,customer_id,amount\n10,1,5\n11,2,6\n")
    tiny.pipeline(INCREMENTAL_FACTS)
    first = tiny.run()
    fact = next(m for m in first.models if m.model == "gold.fact_sales")
    assert "unknown members: customer_key 1" in fact.note
    assert facts(tiny)[11] == (-1, 6)
    tiny.csv("customers", "id,name\n1,Al\n2,Bo\n")  # Bo arrives; no new sale
    second = tiny.run()
    fact = next(m for m in second.models if m.model == "gold.fact_sales")
    assert fact.rows_in == 1  # only the row waiting for its member is built again
    assert facts(tiny) == {10: (1, 5), 11: (2, 6)}
    assert "unknown members" not in fact.note


def test_a_postgres_source_with_a_cursor(tiny, postgres_url, monkeypatch):
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("CREATE TABLE events (id int, updated_at timestamp, v text)")
        con.execute("INSERT INTO events VALUES (1, '2024-01-01 10:00', 'a')")
    monkeypatch.setenv("APP_URL", postgres_url)
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources:
            - name: app
              type: postgres
              connection: ${APP_URL}
              tables: [events]
              incremental: {cursor: updated_at}
        """
    )
    assert tiny.run().ok
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("INSERT INTO events VALUES (2, '2024-01-02 10:00', 'b')")
    result = tiny.run()
    assert next(m for m in result.models if m.model == "bronze.events").rows_in == 1
    assert bronze_ids(tiny) == [(1, "a"), (2, "b")]


def test_a_postgres_source_whose_columns_are_not_null_loads_again_and_again(
    tiny, postgres_url, monkeypatch
):
    """Bronze does not inherit the source's NOT NULL: the cursor's `!timestamp` must
    union with the lookback rows, and a value the source later allows to be NULL lands."""
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(
            "CREATE TABLE events (id int NOT NULL, updated_at timestamp NOT NULL, v text NOT NULL)"
        )
        con.execute("INSERT INTO events VALUES (1, '2024-01-01 10:00', 'a')")
    monkeypatch.setenv("APP_URL", postgres_url)
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources:
            - name: app
              type: postgres
              connection: ${APP_URL}
              tables: [events]
              incremental: {cursor: updated_at, lookback: 1 day, key: [id]}
        """
    )
    assert tiny.run().ok
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("INSERT INTO events VALUES (2, '2024-01-02 10:00', 'b')")
    second = tiny.run()
    assert second.ok, [m.error for m in second.models]
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute("ALTER TABLE events ALTER COLUMN v DROP NOT NULL")
        con.execute("INSERT INTO events VALUES (3, '2024-01-03 10:00', NULL)")
    third = tiny.run()
    assert third.ok, [m.error for m in third.models]
    assert bronze_ids(tiny) == [(1, "a"), (2, "b"), (3, None)]
    assert watermark(tiny.target, "bronze.events") == "2024-01-03 10:00:00"


def test_a_duckdb_source_whose_cursor_is_not_null_loads_again(tiny):
    path = tiny.root / "data" / "app.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE events (id INT NOT NULL, updated_at TIMESTAMP NOT NULL, v VARCHAR)"
        )
        con.execute("INSERT INTO events VALUES (1, '2024-01-01 10:00', 'a')")
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    source_db(tiny, [(2, "2024-01-01 10:30", "b")])  # within the lookback: checked, then loaded
    second = tiny.run()
    assert second.ok, [m.error for m in second.models]
    assert bronze_ids(tiny) == [(1, "a"), (2, "b")]
