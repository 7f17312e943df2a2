"""`wk ddl`: the physical design each dialect's script states (PostgreSQL indexes,
Snowflake CLUSTER BY, BigQuery PARTITION BY/CLUSTER BY, Spark PARTITIONED BY)."""

from __future__ import annotations

import textwrap
import uuid
from typing import Any

import pytest
import sqlglot
import sqlglot.expressions as sge

from test_physical_design import CUSTOMERS, ORDERS, PIPELINE
from warehouse_kit.analytics import ddl
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.runner import plan


def ddl_project(tmp_path, fact: str, schema: str = "gold") -> tuple[Any, Any]:
    """The shop, planned (nothing built), its fact laid out as `fact` says."""
    root = tmp_path / "shop"
    (root / "data").mkdir(parents=True)
    (root / "data" / "customers.csv").write_text(textwrap.dedent(CUSTOMERS).lstrip())
    (root / "data" / "orders.csv").write_text(textwrap.dedent(ORDERS).lstrip())
    (root / "pipelines").mkdir()
    text = textwrap.dedent(PIPELINE).replace("DIMENSION", "").replace("FACT", fact)
    text += f"  destination: {{schema: {schema}}}\n"
    (root / "pipelines" / "p.yml").write_text(text)
    (root / "warehouse.yml").write_text("name: shop\n")
    return plan(root, target="duckdb://")


LAYOUT = "partition_by: ordered_at\n          cluster_by: customer_key"


def fact_create(script: str, dialect: str) -> sge.Create:
    """The fact's CREATE TABLE, parsed back in the script's dialect."""
    for statement in sqlglot.parse(script, read=dialect):
        if isinstance(statement, sge.Create) and statement.kind == "TABLE":
            if statement.this.this.name != "fact_orders":
                continue
            return statement
    raise AssertionError("no CREATE TABLE fact_orders")


def names(expression: sge.Expression | None) -> list[str]:
    assert expression is not None
    return [identifier.name for identifier in expression.find_all(sge.Identifier)]


def test_postgres_scripts_create_the_indexes_wk_creates(tmp_path):
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT), "postgres")
    created = [
        (s.this.name, s.this.args["table"].name, names(s.this.args["params"]))
        for s in sqlglot.parse(script, read="postgres")
        if isinstance(s, sge.Create) and s.kind == "INDEX"
    ]
    dimension = ["customer_id", "effective_from"]
    assert created == [  # the dimension's surrogate key is its primary key: indexed already
        ("ix_dim_customer_customer_id_effective_from", "dim_customer", dimension),
        ("ix_fact_orders_customer_key", "fact_orders", ["customer_key"]),
    ]  # fmt: skip
    assert "PARTITION" not in script
    assert "CLUSTER" not in script


def test_duckdb_scripts_state_no_physical_design(tmp_path):
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT), "duckdb")
    assert not [word for word in ("INDEX", "PARTITION", "CLUSTER") if word in script]


def test_snowflake_clusters_by_the_partition_then_the_cluster_columns(tmp_path):
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT), "snowflake")
    assert 'CLUSTER BY ("ordered_at", "customer_key")' in script
    assert names(fact_create(script, "snowflake").find(sge.Cluster)) == [
        "ordered_at",
        "customer_key",
    ]


def test_bigquery_partitions_by_the_day_and_clusters(tmp_path):
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT), "bigquery")
    assert "PARTITION BY DATE(`ordered_at`)\nCLUSTER BY `customer_key`" in script
    create = fact_create(script, "bigquery")
    partition = create.find(sge.PartitionedByProperty)
    assert partition is not None
    assert isinstance(partition.this, sge.Date)
    assert names(partition) == ["ordered_at"]
    assert names(create.find(sge.Cluster)) == ["customer_key"]


def test_spark_writes_parquet_partitioned_by_the_columns(tmp_path):
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT), "spark")
    create = fact_create(script, "spark")
    assert str(create.find(sge.FileFormatProperty).this).upper() == "PARQUET"
    assert names(create.find(sge.PartitionedByProperty)) == ["ordered_at"]
    assert create.find(sge.Cluster) is None  # the Spark target reads cluster_by itself


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        ("partition_by: order_id", "one DATE or TIMESTAMP column, and order_id is int64"),
        ("partition_by: [ordered_at, order_id]", "one DATE or TIMESTAMP column, not 2"),
        (
            "cluster_by: [customer_key, order_id, ordered_at, amount, _loaded_at]",
            "bigquery clusters by 4 columns at most, not 5",
        ),
    ],
)
def test_what_bigquery_cannot_partition_or_cluster_by_is_one_line(tmp_path, layout, problem):
    with pytest.raises(ConfigError) as raised:
        ddl.generate_ddl(*ddl_project(tmp_path, layout), "bigquery")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("pipelines/p.yml: pipeline.transformations[1].models[1]: ")
    assert "model gold.fact_orders: " in message
    assert problem in message


@pytest.mark.spark
def test_spark_creates_the_partitioned_table_from_the_script(tmp_path, spark_session):
    schema = f"physical_{uuid.uuid4().hex[:8]}"
    script = ddl.generate_ddl(*ddl_project(tmp_path, LAYOUT, schema), "spark")
    try:
        for statement in sqlglot.parse(script, read="spark"):
            spark_session.sql(statement.sql("spark"))
        table = f"{schema}.fact_orders"
        spark_session.sql(
            f"INSERT INTO {table} (customer_key, order_id, ordered_at, amount)"
            " VALUES (1, 10, TIMESTAMP'2024-02-01 10:00:00', 5.00)"
        )
        partitions = [row[0] for row in spark_session.sql(f"SHOW PARTITIONS {table}").collect()]
        assert partitions == ["ordered_at=2024-02-01 10%3A00%3A00"]
        details = dict(
            (row[0], row[1]) for row in spark_session.sql(f"DESCRIBE EXTENDED {table}").collect()
        )
        assert details["Provider"].lower() == "parquet"
    finally:
        spark_session.sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
