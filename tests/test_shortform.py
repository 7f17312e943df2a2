"""The short form users already write (issue 21), and `wk init` on a folder of CSV files."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import ibis
import pytest
import yaml

from conftest import wk
from warehouse_kit.apps.scaffold import init_project
from warehouse_kit.core.errors import ConfigError, ConfigErrors, WarehouseKitError
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import run
from warehouse_kit.core.spec import load_pipeline_spec
from warehouse_kit.core.spec_monitoring import WebhookAlert
from warehouse_kit.core.type_inference import infer_types

FIXTURES = Path(__file__).parent / "fixtures" / "shortform"


def test_the_issue_file_fails_once_per_piece_only_its_author_knows():
    with pytest.raises(ConfigErrors) as raised:
        load_pipeline_spec(
            FIXTURES / "issue21.yml", display="p.yml", environ={"POSTGRES_CONN": "x"}
        )
    tables = "the tables here are customers, transactions, items, user_events, purchase_events"
    ops = "p.yml: pipeline.transformations"
    assert str(raised.value).splitlines() == [
        "p.yml: pipeline.sources[1]: kafka needs brokers:; e.g. {name: api_events, type: kafka, "
        'topics: [user_events, purchase_events], brokers: "${KAFKA_BROKERS}"}',
        f"{ops}[1].operations[0]: join_tables needs with: and on:; {tables}; "
        "e.g. {op: join_tables, with: customers, on: customer_id}",
        f"{ops}[1].operations[1]: apply_business_rules needs rules:; e.g. "
        '{op: apply_business_rules, rules: [{name: positive_amount, condition: "amount > 0"}]}',
        f"{ops}[1].operations[2]: calculate_metrics needs columns:; e.g. "
        '{op: calculate_metrics, columns: {amount_rounded: "round(amount, 2)"}}',
        f"{ops}[2].operations[0]: aggregate_metrics needs measures:; e.g. {{op: aggregate_metrics, "
        'group_by: [customer_id], measures: {rows: "count(*)", total_amount: "sum(amount)"}}',
        f"{ops}[2].operations[1]: create_dimensions needs key: in a model of its own; {tables}; "
        "e.g. models: [{name: dim_customer, from: customers, "
        "operations: [{op: create_dimensions, key: customer_id}]}]",
        f"{ops}[2].operations[2]: build_facts needs dimensions: in a model of its own; {tables}; "
        "e.g. models: [{name: fact_orders, from: transactions, operations: [{op: build_facts, "
        "dimensions: [{dimension: dim_customer, key: customer_id}]}]}]",
    ]


def test_snippets_name_the_columns_of_csv_headers(tmp_path):
    shutil.copytree(FIXTURES / "csv" / "data", tmp_path / "data")
    (tmp_path / "p.yml").write_text(
        "pipeline:\n  name: p\n  sources: [{name: f, type: files, path: data, "
        "tables: [customers, transactions]}]\n"
        "  transformations: [{stage: silver, operations: [join_tables, aggregate_metrics]}]\n"
    )
    with pytest.raises(ConfigErrors) as raised:
        load_pipeline_spec(tmp_path / "p.yml", display="p.yml", root=tmp_path)
    join, aggregate = str(raised.value).splitlines()
    assert join.endswith("e.g. {op: join_tables, with: customers, on: customer_id}")
    assert 'measures: {rows: "count(*)", total_amount: "sum(amount)"}' in aggregate


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The issue's file with CSV sources, built on DuckDB once (--target wins over
    destination.type: snowflake)."""
    root = tmp_path_factory.mktemp("files")
    shutil.copytree(FIXTURES / "csv", root, dirs_exist_ok=True)
    (root / "warehouse.yml").write_text("name: shortform\n")
    result = run(Project.load(root), target="duckdb://warehouse.duckdb")
    assert result.ok, result.first_error()
    return root / "warehouse.duckdb"


def test_the_files_variant_builds_with_inferred_types(built):
    con = duckdb.connect(str(built), read_only=True)
    types = dict(
        con.sql(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE schema_name = 'production' AND table_name = 'customers'"
        ).fetchall()
    )
    assert {k: v for k, v in types.items() if not k.startswith("_")} == {
        "customer_id": "BIGINT", "name": "VARCHAR", "signup_date": "DATE",
        "vip": "BOOLEAN", "zip": "VARCHAR", "score": "DOUBLE",
    }  # fmt: skip
    assert con.sql("SELECT count(*), count(name) FROM production.customers").fetchone() == (3, 2)
    notes = dict(con.sql("SELECT model, notes FROM _wk.model_runs").fetchall())
    assert notes["bronze.transactions"] == (
        "type_casting inferred transaction_id int64, customer_id int64, paid_at timestamp "
        "(1 other text)"
    )


def test_an_engine_that_is_not_here_needs_a_target(built):
    with pytest.raises(ConfigError, match=r"does not run on snowflake .* with --target"):
        run(Project.load(built.parent), dry_run=True)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", " 2 ", "", None], "int64"),
        (["1", "1.5", "-2e3"], "float64"),
        (["007", "12"], "string"),
        (["2024-02-29", "2024-01-01"], "date"),
        (["2024-01-01", "2024-01-01 10:00"], "timestamp"),
        (["2024-02-30"], "string"),
        (["true", "FALSE"], "boolean"),
        (["1", "0"], "int64"),
        (["", None], "string"),
    ],
)
def test_the_narrowest_type_every_value_parses_as(values, expected):
    table = ibis.duckdb.connect().create_table(
        "t", ibis.memtable({"c": values}, schema={"c": "string"})
    )
    assert infer_types(table, ["c"]) == {"c": expected}


def test_slack_takes_its_url_from_the_environment(monkeypatch):
    alert = WebhookAlert.model_validate({"type": "pipeline_failure", "channel": "slack"})
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    assert alert.webhook_url() is None
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/x")
    assert alert.webhook_url() == "https://hooks.slack.com/services/T/B/x"


def test_init_from_a_folder_of_csv_files_then_run(tmp_path):
    csvs = tmp_path / "exports"
    shutil.copytree(FIXTURES / "csv" / "data", csvs)
    (csvs / "Order Lines.csv").write_text("id,sku,qty\n1,A-1,2\n2,B-7,\n")
    init_project(tmp_path / "shop", csv_folder=csvs)
    ran = wk("run", cwd=tmp_path / "shop")
    assert ran.returncode == 0, ran.stderr
    con = duckdb.connect(str(tmp_path / "shop" / "warehouse.duckdb"), read_only=True)
    columns = con.sql(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'silver' ORDER BY table_name, column_index"
    ).fetchall()
    assert [c for c in columns if c[0] == "order_lines"] == [
        ("order_lines", "id", "BIGINT"), ("order_lines", "sku", "VARCHAR"),
        ("order_lines", "qty", "BIGINT"),
    ]  # fmt: skip
    assert ("transactions", "paid_at", "TIMESTAMP") in columns
    assert not [c for c in columns if c[1].startswith("_")]  # load metadata stays in bronze
    counts = con.sql(
        "SELECT (SELECT count(*) FROM silver.customers), (SELECT count(*) FROM silver.transactions)"
    ).fetchone()
    assert counts == (3, 3)  # the duplicated customer row removed
    analytics = yaml.safe_load((tmp_path / "shop" / "analytics" / "shop.yml").read_text())
    assert analytics["models"]["transactions"]["time"] == ["paid_at"]
    assert "time" not in analytics["models"]["order_lines"]
    by_month = wk(
        "metrics", "query", "transactions_rows", "--grain", "month", "-f", "csv",
        cwd=tmp_path / "shop",
    )  # fmt: skip
    assert by_month.stdout.splitlines() == [
        "month,transactions_rows", "2024-03-01T00:00:00,2", ",1",  # one paid_at is blank
    ]  # fmt: skip
    with pytest.raises(WarehouseKitError, match=r"shop is not empty: choose a new folder, or"):
        init_project(tmp_path / "shop")
