"""`wk ddl`: CREATE TABLE scripts for the gold layer, and its ER diagram.

The DuckDB and PostgreSQL scripts run against real, empty databases, which
then take every gold row of the example warehouse; the Snowflake, BigQuery
and Spark scripts are parsed back with sqlglot in their own dialect.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import sqlglot
import sqlglot.expressions as sge

from conftest import wk
from warehouse_kit.analytics import ddl
from warehouse_kit.core.backends import Warehouse, connect, table_ref
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.runner import plan, run

REPO_ROOT = Path(__file__).resolve().parent.parent

GOLD = [
    "gold.exposures",  # pipelines/experiments.yml
    "gold.events",
    "gold.dim_customer",
    "gold.dim_product",
    "gold.dim_date",
    "gold.fact_orders",
    "gold.mart_monthly_sales",
]
FACT_KEYS = {
    "customer_key": "dim_customer",
    "product_key": "dim_product",
    "date_key": "dim_date",
}
PARSED_ONLY = ["snowflake", "bigquery", "spark"]
TRICKY = 'It\'s a \\ "tricky"\ntext; -- not SQL'


@pytest.fixture(scope="module")
def example() -> tuple[Any, Any]:
    """The example project's catalog and plan (nothing is built)."""
    return plan(REPO_ROOT, target="duckdb://")


@pytest.fixture(scope="module")
def built_example(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example warehouse, built on DuckDB: the rows the DDL's tables must take."""
    target = f"duckdb:///{tmp_path_factory.mktemp('built')}/warehouse.duckdb"
    assert run(REPO_ROOT, target=target).ok
    return target


def described_project(root: Path) -> Path:
    """A small star with descriptions that need escaping, and a Python model in gold."""
    (root / "data").mkdir(parents=True)
    (root / "data" / "people.csv").write_text("person_id,name\n1,Ann\n2,Bob\n")
    (root / "data" / "visits.csv").write_text("visit_id,person_id,minutes\n10,1,5\n11,3,7\n")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "p.yml").write_text(
        textwrap.dedent(
            """
            pipeline:
              name: p
              sources:
                - {name: files, type: files, path: data, tables: [people, visits]}
              transformations:
                - stage: silver
                  models:
                    - name: people
                      operations:
                        - {op: type_casting, columns: {person_id: int64, name: string}}
                    - name: visits
                      operations:
                        - op: type_casting
                          columns: {visit_id: int64, person_id: int64, minutes: int32}
                - stage: gold
                  models:
                    - name: dim_person
                      from: people
                      description: 'People; a person''s row'
                      columns: {name: "It's a \\\\ \\"tricky\\"\\ntext; -- not SQL"}
                      operations:
                        - {op: create_dimensions, key: person_id, columns: [name]}
                    - name: fact_visit
                      from: visits
                      operations:
                        - op: build_facts
                          dimensions: [{dimension: dim_person, key: person_id}]
              destination: {type: duckdb, database: data/clinic, schema: mart}
            """
        )
    )
    (root / "models").mkdir()
    (root / "models" / "m.py").write_text(
        textwrap.dedent(
            '''
            import warehouse_kit as wk

            @wk.model(stage="gold")
            def long_visits(fact_visit):
                """Visits of more than five minutes."""
                return fact_visit.filter(fact_visit.minutes > 5)
            '''
        )
    )
    (root / "warehouse.yml").write_text("name: clinic-project\n")
    return root


@pytest.fixture
def described(tmp_path: Path) -> tuple[Any, Any]:
    return plan(described_project(tmp_path / "clinic"), target="duckdb://")


def create_tables(warehouse: Warehouse, script: str) -> None:
    """Run a script exactly as written, in one transaction."""
    raw = warehouse.con.con
    if warehouse.kind == "duckdb":
        raw.execute("BEGIN")
        raw.execute(script)
        raw.execute("COMMIT")
    else:
        with raw.transaction():
            raw.execute(script)


def copy_gold_rows(source: str, warehouse: Warehouse, tables: list[str]) -> dict[str, int]:
    """Insert the source warehouse's gold rows into `warehouse`, table by table, in order."""
    counts = {}
    reader = connect(source, read_only=True)
    try:
        for name in tables:
            table = reader.table(name, "gold")
            with warehouse.transaction() as tx:
                counts[name] = tx.load(
                    table_ref(name, "gold"), list(table.columns), table.to_pyarrow_batches()
                )
    finally:
        reader.close()
    return counts


def insert(warehouse: Warehouse, name: str, row: dict[str, Any]) -> None:
    values = sge.Tuple(expressions=[sge.convert(value) for value in row.values()])
    columns = [sge.to_identifier(column, quoted=True) for column in row]
    statement = sge.insert(sge.Values(expressions=[values]), table_ref(name, "gold"), columns)
    warehouse.execute(statement)


def comments(warehouse: Warehouse, schema: str) -> dict[str, str]:
    """Table and column comments as the engine stores them: ``table`` or ``table.column``."""
    raw = warehouse.con.con
    if warehouse.kind == "duckdb":
        tables = raw.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = ?", [schema]
        ).fetchall()
        columns = raw.execute(
            "SELECT table_name || '.' || column_name, comment FROM duckdb_columns()"
            " WHERE schema_name = ?",
            [schema],
        ).fetchall()
    else:
        tables = raw.execute(
            "SELECT relname, obj_description(oid, 'pg_class') FROM pg_class"
            " WHERE relnamespace = %s::regnamespace AND relkind = 'r'",
            [schema],
        ).fetchall()
        columns = raw.execute(
            "SELECT c.relname || '.' || a.attname, col_description(c.oid, a.attnum)"
            " FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE c.relnamespace = %s::regnamespace AND a.attnum > 0",
            [schema],
        ).fetchall()
    return {name: text for name, text in [*tables, *columns] if text}


def creates(script: str, dialect: str) -> dict[str, sge.Create]:
    """The CREATE TABLE statements of a script parsed back in its dialect, by table name."""
    statements = sqlglot.parse(script, read=dialect)
    tables = [s for s in statements if isinstance(s, sge.Create) and s.kind == "TABLE"]
    return {create.this.this.name: create for create in tables}


def columns_of(create: sge.Create) -> list[str]:
    return [c.name for c in create.this.expressions if isinstance(c, sge.ColumnDef)]


# --- what the gold layer is ----------------------------------------------------------------


def test_gold_is_the_last_stage_of_each_pipeline_dimensions_first(example):
    catalog, planned = example
    assert ddl.gold_models(catalog, planned) == GOLD


def test_dimensions_have_their_surrogate_key_as_primary_key(example):
    _, planned = example
    keys = {node: ddl.primary_key(planned[node]) for node in GOLD}
    assert keys == {
        "gold.exposures": None,
        "gold.events": None,
        "gold.dim_customer": "customer_key",
        "gold.dim_product": "product_key",
        "gold.dim_date": "date_key",
        "gold.fact_orders": None,
        "gold.mart_monthly_sales": None,
    }


def test_a_fact_references_the_dimensions_it_holds_keys_of(example):
    catalog, planned = example
    references = ddl.foreign_keys(catalog, planned, "gold.fact_orders", GOLD)
    assert {(ref.column, ref.target) for ref in references} == {
        (column, f"gold.{dimension}") for column, dimension in FACT_KEYS.items()
    }


def test_python_models_of_the_last_stage_are_gold_too(described):
    catalog, planned = described
    assert ddl.gold_models(catalog, planned) == [
        "gold.dim_person",
        "gold.fact_visit",
        "gold.long_visits",
    ]


def test_the_files_are_named_after_the_destination_database(described, example):
    assert ddl.database_name(described[0]) == "clinic"
    assert ddl.database_name(example[0]) == "warehouse"


# --- DuckDB and PostgreSQL: run the script, then load the example's rows ------------------


def test_the_script_creates_tables_that_take_every_gold_row(example, built_example, warehouse):
    catalog, planned = example
    create_tables(warehouse, ddl.generate_ddl(catalog, planned, warehouse.kind))
    names = [node.split(".")[1] for node in GOLD]
    for name in names:
        created = warehouse.table(name, "gold").schema()
        assert list(created) == list(planned[f"gold.{name}"].output)
    counts = copy_gold_rows(built_example, warehouse, names)
    source = connect(built_example, read_only=True)
    try:
        assert counts == {name: source.table(name, "gold").count().execute() for name in names}
    finally:
        source.close()
    assert counts["fact_orders"] > 1000


def test_primary_and_foreign_keys_are_enforced(example, warehouse):
    catalog, planned = example
    create_tables(warehouse, ddl.generate_ddl(catalog, planned, warehouse.kind))
    insert(warehouse, "dim_customer", {"customer_key": -1, "first_name": "Unknown"})
    with pytest.raises((duckdb.ConstraintException, psycopg.errors.UniqueViolation)):
        insert(warehouse, "dim_customer", {"customer_key": -1, "first_name": "Again"})
    with pytest.raises((duckdb.ConstraintException, psycopg.errors.NotNullViolation)):
        insert(warehouse, "dim_customer", {"customer_key": None, "first_name": "Nobody"})
    with pytest.raises((duckdb.ConstraintException, psycopg.errors.ForeignKeyViolation)):
        insert(warehouse, "fact_orders", {"customer_key": 42, "order_id": 1})
    insert(warehouse, "fact_orders", {"customer_key": -1, "order_id": 1})


def test_descriptions_become_table_and_column_comments(described, warehouse):
    catalog, planned = described
    create_tables(warehouse, ddl.generate_ddl(catalog, planned, warehouse.kind))
    assert comments(warehouse, "mart") == {
        "dim_person": "People; a person's row",
        "dim_person.name": TRICKY,
        "long_visits": "Visits of more than five minutes.",
    }


# --- Snowflake, BigQuery, Spark: parse the script back -------------------------------------


@pytest.mark.parametrize("dialect", PARSED_ONLY)
def test_the_script_parses_back_to_the_same_tables_and_columns(example, dialect):
    catalog, planned = example
    script = ddl.generate_ddl(catalog, planned, dialect)
    tables = creates(script, dialect)
    assert list(tables) == [node.split(".")[1] for node in GOLD]
    for node in GOLD:
        create = tables[node.split(".")[1]]
        assert create.this.this.args["db"].name == "gold"
        assert columns_of(create) == list(planned[node].output)
    statements = ddl.ddl_statements(catalog, planned, ddl.DIALECTS[dialect])
    reparsed = [clustered_by_columns(s) for s in sqlglot.parse(script, read=dialect)]
    rendered = [s.sql(dialect, comments=False) for s in statements]
    assert [s.sql(dialect, comments=False) for s in reparsed] == rendered


def clustered_by_columns(statement: sge.Expression) -> sge.Expression:
    """sqlglot reads Snowflake's ``CLUSTER BY (a, b)`` as one tuple (and writes it back
    with a second pair of parentheses): its columns, as the script was generated."""
    for cluster in statement.find_all(sge.Cluster):
        inner = [e.this if isinstance(e, sge.Ordered) else e for e in cluster.expressions]
        if len(inner) == 1 and isinstance(inner[0], sge.Tuple | sge.Paren):
            found = inner[0].expressions if isinstance(inner[0], sge.Tuple) else [inner[0].this]
            cluster.set("expressions", list(found))
    return statement


@pytest.mark.parametrize(
    ("dialect", "options"), [("snowflake", []), ("bigquery", ["NOT ENFORCED"])]
)
def test_keys_are_declared_where_the_dialect_has_them(example, dialect, options):
    catalog, planned = example
    tables = creates(ddl.generate_ddl(catalog, planned, dialect), dialect)
    (key,) = tables["dim_customer"].find_all(sge.PrimaryKey)
    assert [e.name for e in key.expressions] == ["customer_key"]
    assert (key.args.get("options") or []) == options
    fact = tables["fact_orders"]
    found = {
        fk.expressions[0].name: fk.args["reference"].this.this.name
        for fk in fact.find_all(sge.ForeignKey)
    }
    assert found == FACT_KEYS
    for fk in fact.find_all(sge.ForeignKey):
        assert (fk.args["reference"].args.get("options") or []) == options


def test_spark_declares_no_keys_but_keeps_the_key_not_null(example):
    catalog, planned = example
    tables = creates(ddl.generate_ddl(catalog, planned, "spark"), "spark")
    assert not [c for t in tables.values() for c in t.find_all(sge.PrimaryKey, sge.ForeignKey)]
    key = next(c for c in tables["dim_customer"].this.expressions if c.name == "customer_key")
    assert key.find(sge.NotNullColumnConstraint)


@pytest.mark.parametrize("dialect", PARSED_ONLY)
def test_comments_survive_the_round_trip(described, dialect):
    catalog, planned = described
    tables = creates(ddl.generate_ddl(catalog, planned, dialect), dialect)
    person = tables["dim_person"]
    name = next(c for c in person.this.expressions if c.name == "name")
    assert [literal.this for literal in name.find_all(sge.Literal)] == [TRICKY]
    table_texts = [lit.this for lit in person.args["properties"].find_all(sge.Literal)]
    assert table_texts == ["People; a person's row"]


@pytest.mark.parametrize("dialect", list(ddl.DIALECTS))
def test_names_are_quoted_identifiers(example, dialect):
    catalog, planned = example
    for statement in ddl.ddl_statements(catalog, planned, ddl.DIALECTS[dialect]):
        assert all(identifier.quoted for identifier in statement.find_all(sge.Identifier))


def test_an_unknown_dialect_names_the_known_ones(example):
    with pytest.raises(WarehouseKitError, match="use one of duckdb, postgres, snowflake"):
        ddl.generate_ddl(*example, "oracle")


# --- the ER diagram ------------------------------------------------------------------------


def entity(diagram: str, name: str) -> list[str]:
    block = re.search(rf"^    {name} \{{\n(.*?)^    \}}", diagram, re.S | re.M)
    assert block, f"no entity {name}"
    return [line.strip() for line in block.group(1).splitlines()]


def test_the_er_diagram_shows_types_keys_and_relationships(example):
    diagram = ddl.generate_er(*example)
    assert diagram.startswith("erDiagram\n")
    assert entity(diagram, "dim_customer")[:2] == [
        "int64 customer_key PK",
        'int64 customer_id "The customer\'s id in the shop."',  # its description
    ]
    assert 'decimal(10_2) unit_price "List price of one unit in this version."' in entity(
        diagram, "dim_product"
    )
    assert entity(diagram, "fact_orders")[:3] == [
        "int64 customer_key FK",
        "int64 product_key FK",
        "int32 date_key FK",
    ]
    assert entity(diagram, "mart_monthly_sales")  # a mart: an entity without keys
    relationships = re.findall(r'^    (\w+) \|\|--o\{ (\w+) : "(\w+)"$', diagram, re.M)
    assert relationships == [(d, "fact_orders", key) for key, d in FACT_KEYS.items()]


def test_the_er_diagram_keeps_descriptions_on_one_line_without_quotes(described):
    diagram = ddl.generate_er(*described)
    assert "    %% People; a person's row" in diagram
    assert entity(diagram, "dim_person")[-1] == (
        "string name \"It's a \\ 'tricky' text; -- not SQL\""
    )
    assert 'dim_person ||--o{ fact_visit : "person_key"' in diagram


# --- files and the command -----------------------------------------------------------------


def test_write_puts_one_script_per_dialect_and_the_diagram_in_schemas(tmp_path):
    root = described_project(tmp_path / "clinic")
    paths = ddl.write(root, "all")
    assert [p.relative_to(root).as_posix() for p in paths] == [
        *(f"schemas/clinic-{dialect}-schema.sql" for dialect in ddl.DIALECTS),
        "schemas/clinic-er.mmd",
        "schemas/clinic-er.md",
    ]
    assert paths[-1].read_text().count("```mermaid\nerDiagram\n") == 1


def test_the_default_dialect_is_the_targets_engine(tmp_path):
    root = described_project(tmp_path / "clinic")
    paths = ddl.write(root, target="duckdb://w.duckdb", out=tmp_path / "out")
    assert [p.name for p in paths] == ["clinic-duckdb-schema.sql", "clinic-er.mmd", "clinic-er.md"]


@pytest.mark.parametrize("dialect", list(ddl.DIALECTS))
def test_the_committed_example_files_are_up_to_date(example, dialect):
    committed = REPO_ROOT / "schemas" / f"warehouse-{dialect}-schema.sql"
    assert committed.read_text() == ddl.generate_ddl(*example, dialect), (
        "schemas/ is stale: run `wk ddl --dialect all` at the repository root"
    )


def test_the_committed_er_diagram_is_up_to_date(example):
    committed = REPO_ROOT / "schemas" / "warehouse-er.mmd"
    assert committed.read_text() == ddl.generate_er(*example), (
        "schemas/ is stale: run `wk ddl --dialect all` at the repository root"
    )


def test_the_command_prints_the_paths_it_wrote(tmp_path):
    root = described_project(tmp_path / "clinic")
    result = wk("ddl", "--dialect", "postgres", cwd=root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "schemas/clinic-postgres-schema.sql",
        "schemas/clinic-er.mmd",
        "schemas/clinic-er.md",
    ]


def test_an_unknown_dialect_fails_before_anything_is_written(tmp_path):
    root = described_project(tmp_path / "clinic")
    with pytest.raises(WarehouseKitError, match="unknown dialect 'oracle'"):
        ddl.write(root, "oracle")
    assert not (root / "schemas").exists()
