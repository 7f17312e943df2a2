"""`wk export` and `wk show`: types kept, personal data masked unless asked, and every
unmasked read recorded in `_wk.unmasked`."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import wk
from warehouse_kit.apps.export import export_table
from warehouse_kit.apps.notebooks_refresh import example_warehouse
from warehouse_kit.core.project import Project

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def example() -> Iterator[str]:
    with example_warehouse(Project.load(REPO_ROOT)) as target:
        yield target


def query(target: str, sql: str) -> list[tuple]:
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        return con.sql(sql).fetchall()


def test_a_csv_export_masks_personal_columns_and_keeps_the_rest(example, tmp_path):
    out = tmp_path / "customers.csv"
    result = wk("export", "gold.dim_customer", "-o", str(out), "--target", example)
    assert result.returncode == 0, result.stderr
    assert "(email, first_name, last_name masked)" in result.stdout
    rows = list(csv.DictReader(out.open()))
    expected = query(example, "SELECT customer_key, email, city FROM gold.dim_customer")
    assert len(rows) == len(expected)
    by_key = {row["customer_key"]: row for row in rows}
    for key, email, city in expected:
        row = by_key[str(key)]
        _, at, domain = (email or "").partition("@")
        assert row["email"] == (f"***@{domain}" if at else "***" if email else "")
        assert (row["first_name"], row["last_name"], row["city"]) == ("***", "***", city)
    assert not query(example, "SELECT * FROM _wk.unmasked")  # masked: nothing to record


def test_an_unmasked_export_needs_the_flag_and_is_recorded(example, tmp_path):
    out = tmp_path / "customers.json"
    done = export_table(REPO_ROOT, "dim_customer", out, unmask=True, target=example, limit=3)
    assert (done.rows, done.masked) == (3, ())
    emails = {json.loads(line)["email"] for line in out.read_text().splitlines()}
    real = {row[0] for row in query(example, "SELECT email FROM gold.dim_customer")}
    assert emails <= real
    ((user, command, table, columns),) = query(
        example, "SELECT user_name, command, table_name, columns FROM _wk.unmasked"
    )
    assert (command, table, columns) == (
        "wk export dim_customer", "gold.dim_customer", "email,first_name,last_name"
    )  # fmt: skip
    assert user


def test_parquet_keeps_integers_with_nulls_integers(example, tmp_path):
    out = tmp_path / "facts.parquet"
    done = export_table(REPO_ROOT, "gold.fact_orders", out, target=example)
    written = pq.read_table(out)
    assert (
        written.num_rows
        == done.rows
        == query(example, "SELECT count(*) FROM gold.fact_orders")[0][0]
    )
    assert str(written.schema.field("quantity").type).startswith("int")
    assert done.masked == ()


def test_wk_show_prints_the_first_rows_masked(example):
    result = wk("show", "customers__quarantine", "-n", "2", "--target", example)
    assert result.returncode == 0, result.stderr
    assert "***" in result.stdout
    assert not re.search(r"\w@", result.stdout)  # no email with its name part
    assert "2 rows" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["gold.dim_custmer", "-o", "x.csv"],
            "no table 'gold.dim_custmer' in the warehouse; did you mean 'gold.dim_customer'?",
        ),
        (["dim_customer", "-o", "x.txt"], "cannot tell the format of x.txt"),
        (
            ["dim_customer", "-o", "x.csv", "--format", "parqet"],
            "unknown format 'parqet'; did you mean 'parquet'? formats: csv, parquet, json",
        ),
        (["dim_customer", "-o", "no/such/x.csv"], "there is no folder no/such"),
    ],
)
def test_bad_export_arguments_are_one_line(example, args, says):
    result = wk("export", *args, "--target", example)
    assert result.returncode != 0
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_kpi_grouped_by_a_personal_column_is_masked(example):
    result = wk("metrics", "query", "revenue", "--by", "email", "-f", "csv", "--target", example)
    assert result.returncode == 0, result.stderr
    emails = [line.split(",")[0] for line in result.stdout.splitlines()[1:]]
    assert emails
    assert all(e == "***" or e.startswith("***@") for e in emails)
    by_segment = wk(
        "metrics", "query", "revenue", "--by", "segment", "-f", "csv", "--target", example
    )
    assert "Consumer" in by_segment.stdout  # what is not personal stays as it is
