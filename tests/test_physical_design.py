"""Physical design: the indexes PostgreSQL gets when a model is published (DuckDB checks
them and creates none); what `wk ddl` writes of it is in test_physical_ddl."""

from __future__ import annotations

import textwrap
from typing import Any

import psycopg
import pytest

from conftest import TinyProject
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.materialize.indexes import MAX_NAME, index_name
from warehouse_kit.core.physical import Index, Physical
from warehouse_kit.core.runner import plan

CUSTOMERS = """
customer_id,segment,updated_at
1,Retail,2024-01-01 00:00:00
2,SMB,2024-01-01 00:00:00
"""
ORDERS = """
order_id,customer_id,ordered_at,amount
10,1,2024-02-01 10:00:00,5.00
11,2,2024-02-02 11:00:00,7.50
12,3,2024-02-03 12:00:00,1.25
"""
PIPELINE = """
pipeline:
  name: shop
  sources:
    - {name: crm, type: files, path: data, tables: [customers], load: replace}
    - {name: shop, type: files, path: data, tables: [{name: orders, path: "orders*.csv"}]}
  transformations:
    - stage: silver
      models:
        - name: customers
          operations:
            - {op: type_casting, columns: {customer_id: int64, segment: string,
                                           updated_at: timestamp}}
        - name: orders
          operations:
            - op: type_casting
              columns: {order_id: int64, customer_id: int64, ordered_at: timestamp,
                        amount: "decimal(10,2)"}
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {op: create_dimensions, key: customer_id, columns: [segment, updated_at],
               scd: 2, strategy: updated_at, updated_at: updated_at}
          DIMENSION
        - name: fact_orders
          from: orders
          incremental: {unique_key: order_id}
          operations:
            - op: build_facts
              event_time: ordered_at
              dimensions: [{dimension: dim_customer, key: customer_id}]
          FACT
"""
DIMENSION_DEFAULTS = {
    "ix_dim_customer_customer_id_effective_from": (("customer_id", "effective_from"), False),
    "ix_dim_customer_customer_key": (("customer_key",), False),
}
FACT_DEFAULTS = {
    "ix_fact_orders_customer_key": (("customer_key",), False),
}
INDEXES = """
    SELECT i.relname, x.indisunique, array_agg(a.attname::text ORDER BY k.n)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace s ON s.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE s.nspname = %s AND t.relname = %s
    GROUP BY i.relname, x.indisunique
"""


def shop(tiny, dimension: str = "", fact: str = "") -> None:
    tiny.csv("customers", CUSTOMERS)
    tiny.csv("orders", ORDERS)
    text = textwrap.dedent(PIPELINE)
    tiny.pipeline(text.replace("DIMENSION", dimension).replace("FACT", fact))


def indexes(tiny, model: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """The table's indexes as the engine keeps them: name -> (columns, unique)."""
    schema, table = model.split(".")
    wh = connect(tiny.target)
    try:
        raw = wh.con.con
        if wh.kind == "duckdb":
            found = raw.execute(
                "SELECT index_name, is_unique, expressions FROM duckdb_indexes()"
                " WHERE schema_name = ? AND table_name = ?",
                [schema, table],
            ).fetchall()
            return {name: (tuple(columns), unique) for name, unique, columns in found}
        rows = raw.execute(INDEXES, [schema, table]).fetchall()
        return {name: (tuple(columns), unique) for name, unique, columns in rows}
    finally:
        wh.close()


def expected(tiny, on_postgres: dict[str, Any]) -> dict[str, Any]:
    """What the table has: the indexes on PostgreSQL; none on DuckDB."""
    return on_postgres if tiny.target.startswith("postgres") else {}


def pg_oid(tiny, name: str) -> int:
    with psycopg.connect(tiny.target) as con:
        row = con.execute("SELECT %s::regclass::oid", [name]).fetchone()
        assert row is not None
        return int(row[0])


# --- defaults, declared indexes, none -----------------------------------------------------


def test_dimensions_and_facts_get_their_keys_indexed(tiny):
    shop(tiny)
    assert tiny.run().ok
    assert indexes(tiny, "gold.dim_customer") == expected(tiny, DIMENSION_DEFAULTS)
    assert indexes(tiny, "gold.fact_orders") == expected(tiny, FACT_DEFAULTS)
    assert indexes(tiny, "silver.orders") == {}  # neither a dimension nor a fact


def test_every_engine_plans_the_default_indexes(tiny):
    shop(tiny)
    _, planned = plan(tiny.root, target=tiny.target)
    designed = {
        node: {index_name(planned[node].model.name, i): (tuple(i.columns), i.unique)
               for i in planned[node].indexes}
        for node in ("gold.dim_customer", "gold.fact_orders", "silver.orders")
    }  # fmt: skip
    assert designed == {
        "gold.dim_customer": DIMENSION_DEFAULTS,
        "gold.fact_orders": FACT_DEFAULTS,
        "silver.orders": {},
    }


def test_declared_indexes_replace_the_defaults(tiny):
    declared = (
        "indexes: [segment, [customer_id, effective_from], {columns: customer_key, unique: true}]"
    )
    shop(tiny, dimension=declared, fact="indexes: []")
    assert tiny.run().ok
    assert indexes(tiny, "gold.dim_customer") == expected(
        tiny,
        {
            "ix_dim_customer_segment": (("segment",), False),
            "ix_dim_customer_customer_id_effective_from": (
                ("customer_id", "effective_from"),
                False,
            ),
            "ux_dim_customer_customer_key": (("customer_key",), True),
        },
    )
    assert indexes(tiny, "gold.fact_orders") == {}  # indexes: [] turns the defaults off


# --- publishing: reruns, new batches, full refreshes, changed declarations ----------------


def test_reruns_and_new_batches_keep_the_same_indexes(tiny):
    shop(tiny)
    assert tiny.run().ok
    assert {m.status for m in tiny.run().models} == {"up_to_date"}
    tiny.csv("customers", CUSTOMERS + "3,Retail,2024-03-01 00:00:00\n")  # a new member
    tiny.csv("orders_2", "order_id,customer_id,ordered_at,amount\n13,3,2024-03-02 10:00:00,2\n")
    result = tiny.run()
    assert result.ok
    written = {m.model: (m.status, m.rows_out) for m in result.models}
    assert written["gold.dim_customer"] == ("success", 4)  # three members and the unknown
    assert written["gold.fact_orders"] == ("success", 4)  # merged into the same table
    assert indexes(tiny, "gold.dim_customer") == expected(tiny, DIMENSION_DEFAULTS)
    assert indexes(tiny, "gold.fact_orders") == expected(tiny, FACT_DEFAULTS)


def test_a_full_refresh_rebuilds_the_table_with_its_indexes(tiny):
    shop(tiny)
    assert tiny.run().ok
    if tiny.target.startswith("postgres"):
        before = pg_oid(tiny, "gold.fact_orders")
    assert tiny.run(full_refresh=True).ok
    if tiny.target.startswith("postgres"):
        assert pg_oid(tiny, "gold.fact_orders") != before  # a new table, swapped in
    assert indexes(tiny, "gold.fact_orders") == expected(tiny, FACT_DEFAULTS)
    assert indexes(tiny, "gold.dim_customer") == expected(tiny, DIMENSION_DEFAULTS)


def test_a_changed_declaration_drops_what_wk_made_and_keeps_an_index_made_by_hand(tiny):
    shop(tiny)
    assert tiny.run().ok
    hand = {}
    if tiny.target.startswith("postgres"):
        with psycopg.connect(tiny.target) as con:
            con.execute('CREATE INDEX by_hand ON gold.fact_orders ("ordered_at")')
        hand = {"by_hand": (("ordered_at",), False)}
    shop(tiny, fact="indexes: [amount]")  # nothing new to merge: only the indexes changed
    result = tiny.run()
    assert result.ok
    fact = next(m for m in result.models if m.model == "gold.fact_orders")
    assert fact.status == ("success" if hand else "up_to_date")
    assert indexes(tiny, "gold.fact_orders") == expected(
        tiny, {"ix_fact_orders_amount": (("amount",), False), **hand}
    )


def test_postgres_holds_the_rows_to_a_unique_index_and_keeps_the_table_as_it_was(tiny):
    shop(tiny, fact="indexes: [{columns: customer_key, unique: true}]")
    assert tiny.run().ok  # one order per customer so far
    tiny.csv("orders_2", "order_id,customer_id,ordered_at,amount\n13,1,2024-03-02 10:00:00,2\n")
    result = tiny.run()
    fact = next(m for m in result.models if m.model == "gold.fact_orders")
    if tiny.target.startswith("postgres"):
        assert fact.status == "failed"
        assert 'duplicate key value violates unique constraint "ux_fact_orders_customer_key"' in (
            fact.error or ""
        )
        assert len(tiny.rows("gold.fact_orders")) == 3  # the merge rolled back
    else:  # DuckDB creates no index: nothing holds the rows to it
        assert fact.status == "success"
        assert len(tiny.rows("gold.fact_orders")) == 4


def test_postgres_has_the_statistics_of_the_tables_a_run_just_wrote(tmp_path, postgres_url):
    pg = TinyProject(tmp_path / "project", postgres_url)
    shop(pg)
    assert pg.run().ok
    with psycopg.connect(postgres_url) as con:
        analysed = con.execute(
            "SELECT c.relname, c.reltuples, c.relnatts,"
            " (SELECT count(*) FROM pg_stats s"
            "  WHERE s.schemaname = n.nspname AND s.tablename = c.relname)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'gold' AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
    # Rows counted and every column sampled, before autovacuum could have come round.
    assert [(name, rows, sampled == columns) for name, rows, columns, sampled in analysed] == [
        ("dim_customer", 3, True),
        ("fact_orders", 3, True),
    ]


# --- what is refused, in one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "key"),
    [
        ("indexes: [customer_key, [order_id, amout]]", "indexes[1]"),
        ("partition_by: ordered_on", "partition_by"),
        ("cluster_by: [customer_id]", "cluster_by"),
    ],
)
def test_a_column_the_model_does_not_have_is_one_line_naming_file_model_and_column(
    tiny, option, key
):
    shop(tiny, fact=option)
    with pytest.raises(ConfigError) as raised:
        tiny.run()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("pipelines/p.yml: pipeline.transformations[1].models[1]: ")
    assert f"model gold.fact_orders: {key}: it has no column" in message


def test_a_malformed_index_is_refused_when_the_file_is_read(tiny):
    shop(tiny, fact="indexes: [{columns: [], unique: true}]")
    with pytest.raises(ConfigError, match=r"models\[1\]\.indexes\[0\]\.columns"):
        tiny.run()


# --- Python models ------------------------------------------------------------------------


def test_python_models_declare_the_same_options(tiny):
    shop(tiny)
    tiny.python_models(
        """
        import warehouse_kit as wk

        @wk.model(stage="gold", indexes=[["n"], {"columns": ["customer_id"], "unique": True}],
                  partition_by="segment", cluster_by=["customer_id"])
        def orders_per_customer(customers, orders):
            counts = orders.group_by("customer_id").aggregate(n=orders.count())
            return customers.join(counts, "customer_id").select("customer_id", "segment", "n")
        """
    )
    catalog, _ = plan(tiny.root, target=tiny.target)
    model = catalog.graph.models["gold.orders_per_customer"]
    assert model.physical == Physical(
        (Index(columns=["n"]), Index(columns=["customer_id"], unique=True)),
        ("segment",),
        ("customer_id",),
    )
    assert tiny.run().ok
    assert indexes(tiny, "gold.orders_per_customer") == expected(
        tiny,
        {
            "ix_orders_per_customer_n": (("n",), False),
            "ux_orders_per_customer_customer_id": (("customer_id",), True),
        },
    )


def test_a_python_models_bad_option_names_its_file(tiny):
    shop(tiny)
    path = tiny.python_models(
        """
        import warehouse_kit as wk

        @wk.model(stage="gold", indexes=[{"column": "customer_id"}])
        def customers_again(customers):
            return customers
        """
    )
    with pytest.raises(
        ConfigError, match=r"unknown key 'column'; did you mean 'columns'"
    ) as raised:
        plan(tiny.root, target=tiny.target)
    assert str(raised.value).startswith(f"{path}:")


# --- names ----------------------------------------------------------------------------------


def test_index_names_are_deterministic_and_fit_postgres():
    assert index_name("fact", Index(columns=["a", "b"])) == "ix_fact_a_b"
    assert index_name("fact", Index(columns=["a"], unique=True)) == "ux_fact_a"
    long = Index(columns=["a_rather_long_column_name", "another_rather_long_column_name"])
    name = index_name("fact_orders_by_customer", long)
    assert len(name) == MAX_NAME
    # A hash of the whole name, the same in every process (not Python's salted hash()).
    assert name == "ix_fact_orders_by_customer_a_rather_long_column_name_a_888d45e9"
    assert name != index_name("fact_orders_by_customer", long.model_copy(update={"unique": True}))
    odd = index_name("fact", Index(columns=["Amount (EUR)"]))
    assert odd == "ix_fact_Amount__EUR__16a2eca9"  # plain characters, and told apart:
    assert odd != index_name("fact", Index(columns=["Amount _EUR_"]))


def test_postgres_keeps_a_long_name_as_given(tiny):
    long = "a_column_whose_name_is_long_enough_to_overflow_an_index_name"
    tiny.csv("things", f"id,{long}\n1,2\n")
    tiny.pipeline(
        f"""
        pipeline:
          name: p
          sources: [{{name: files, type: files, path: data, tables: [things]}}]
          transformations:
            - stage: gold
              models:
                - name: things
                  operations: [{{op: type_casting, columns: {{id: int64, {long}: int64}}}}]
                  indexes: [[id, {long}]]
        """
    )
    assert tiny.run().ok
    name = index_name("things", Index(columns=["id", long]))
    assert indexes(tiny, "gold.things") == expected(tiny, {name: (("id", long), False)})
    assert tiny.run(full_refresh=True).ok  # the same name again: found, not created twice
    assert list(indexes(tiny, "gold.things")) == list(expected(tiny, {name: 0}))
