"""`materialized: view`: a model that is a view over its inputs, on DuckDB and PostgreSQL."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
import sqlglot as sg

from conftest import TinyProject, model_runs
from warehouse_kit.analytics import ddl
from warehouse_kit.analytics.docs import gather
from warehouse_kit.apps.export import export_table, show_table
from warehouse_kit.apps.lineage import lineage
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.runner import plan

PIPELINE = """
pipeline:
  name: p
  sources: [{name: files, type: files, path: data, tables: [t]}]
  transformations:
    - stage: silver
      models:
        - name: clean
          from: t
          operations: [{op: calculate_metrics, columns: {n: "cast(n AS INT)"}}]
    - stage: gold
      models:
        - name: big
          from: clean
          materialized: BIG
          operations:
            - {op: apply_business_rules, rules: [{name: big, condition: "n > 1"}]}
            - {op: select, columns: [n]}
          quality_checks: [{check: accepted_values, field: n, values: [2, 3, 4, 5], action: reject}]
        - name: doubled
          from: big
          materialized: view
          operations: [{op: calculate_metrics, columns: {twice: "n * 2"}}]
        - name: total
          from: big
          operations: [{op: aggregate_metrics, measures: {total: "sum(n)"}}]
"""


def kinds(target: str) -> dict[str, str | None]:
    wh = connect(target)
    try:
        return {name: wh.relation(name, "gold") for name in ("big", "doubled", "total")}
    finally:
        wh.close()


def check_results(target: str, run_id: str) -> dict[str, str]:
    wh = connect(target)
    try:
        found = wh.table("check_results", "_wk")
        rows = found.filter(found.run_id == run_id).to_pyarrow().to_pylist()
        return {f"{row['model']}: {row['check']}": row["status"] for row in rows}
    finally:
        wh.close()


def values(tiny: Any, model: str, column: str = "n") -> list[Any]:
    return [row[column] for row in tiny.rows(model, order_by=column)]


def test_a_view_shows_its_inputs_as_they_are_and_swaps_with_a_table_both_ways(tiny):
    tiny.csv("t", "n\n1\n2\n3\n")
    tiny.pipeline(PIPELINE.replace("BIG", "view"))
    first = tiny.run()
    assert first.ok, first.first_error()
    assert kinds(tiny.target) == {"big": "view", "doubled": "view", "total": "table"}
    steps = model_runs(tiny.target, first.run_id)
    # A view records no row counts: one taken now would be stale when an input changes.
    assert [steps["gold.big"][k] for k in ("materialization", "rows_in", "rows_out")] == [
        "view",
        None,
        None,
    ]
    assert values(tiny, "gold.big") == [2, 3]
    assert values(tiny, "gold.doubled", "twice") == [4, 6]
    assert tiny.rows("gold.total") == [{"total": 5}]

    # Never stale: a row added to its input shows at once, without a run.
    wh = connect(tiny.target)
    try:
        wh.execute(sg.parse_one('INSERT INTO "silver"."clean" (n) VALUES (4)'))
    finally:
        wh.close()
    assert values(tiny, "gold.doubled", "twice") == [4, 6, 8]
    assert check_results(tiny.target, first.run_id) == {"gold.big: accepted_values_n": "pass"}

    # A new file rebuilds silver.clean under the views that read it, directly or through
    # another (PostgreSQL binds them to it: they are kept through the write); the same run
    # makes the view a table, the next one a view again: what stood there is replaced, and
    # the view that reads it still does.
    tiny.csv("t2", "n\n5\n")
    files = PIPELINE.replace("tables: [t]", "tables: [{name: t, path: 't*.csv'}]")
    for kind in ("table", "view"):
        tiny.pipeline(files.replace("BIG", kind))
        result = tiny.run()
        assert result.ok, result.first_error()
        assert kinds(tiny.target)["big"] == kind
        assert values(tiny, "gold.big") == [2, 3, 5]
        assert values(tiny, "gold.doubled", "twice") == [4, 6, 10]
        assert tiny.rows("gold.total") == [{"total": 10}]

    # A definition its checks reject (it lets 1 through) leaves the view as it was.
    tiny.pipeline(files.replace("BIG", "view").replace('"n > 1"', '"n > 0"'))
    rejected = tiny.run()
    assert {m.model: m.status for m in rejected.models if m.stage == "gold"} == {
        "gold.big": "failed",
        "gold.doubled": "skipped",
        "gold.total": "skipped",
    }
    assert "rejected by checks: accepted_values_n (1 rows); the view was left as it was" in (
        rejected.first_error() or ""
    )
    assert check_results(tiny.target, rejected.run_id) == {"gold.big: accepted_values_n": "fail"}
    assert kinds(tiny.target)["big"] == "view"
    assert values(tiny, "gold.big") == [2, 3, 5]


def test_what_reads_the_warehouse_sees_a_view_as_a_view(tiny, tmp_path):
    tiny.csv("t", "n\n1\n2\n3\n")
    tiny.pipeline(PIPELINE.replace("BIG", "view"))
    assert tiny.run().ok
    out = tmp_path / "doubled.csv"
    assert export_table(tiny.root, "gold.doubled", out, target=tiny.target).rows == 2
    lines = out.read_text().splitlines()
    assert (lines[0], sorted(lines[1:])) == ('"n","twice"', ["2,4", "3,6"])
    shown = show_table(tiny.root, "doubled", target=tiny.target).to_pylist()
    assert sorted(row["twice"] for row in shown) == [4, 6]
    wh = connect(tiny.target)
    try:
        docs = gather(tiny.root, wh)
    finally:
        wh.close()
    assert {t.id: (t.view, t.rows) for t in docs.tables if t.schema == "gold"} == {
        "gold.big": (True, 2),
        "gold.doubled": (True, 2),
        "gold.total": (False, 1),
    }
    traced = lineage("gold.doubled.twice", upstream=True, project=tiny.root, target=tiny.target)
    assert traced.views == {"gold.big", "gold.doubled"}
    assert traced.text().splitlines()[:2] == [
        "gold.doubled.twice (view)",
        "  <- gold.big.n (view)",
    ]


def test_wk_ddl_writes_a_view_as_create_view_over_what_it_reads(tmp_path):
    tiny = TinyProject(tmp_path, "duckdb://")
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(PIPELINE.replace("BIG", "table"))
    catalog, planned = plan(tiny.root, target=tiny.target)
    script = ddl.generate_ddl(catalog, planned, "duckdb")
    assert 'CREATE TABLE "gold"."big"' in script
    assert 'CREATE VIEW "gold"."doubled" AS' in script
    for dialect in ddl.DIALECTS:  # every dialect's script reads back in it
        text = ddl.generate_ddl(catalog, planned, dialect)
        kinds = [s.args.get("kind") for s in sg.parse(text, dialect=dialect) if s is not None]
        assert kinds.count("VIEW") == 1, dialect
    # The script runs where what the view reads is, and the view reads it.
    con = duckdb.connect()
    con.execute("CREATE SCHEMA silver; CREATE TABLE silver.clean AS SELECT 2 AS n")
    con.execute(script)
    con.execute("INSERT INTO gold.big SELECT n FROM silver.clean")
    assert con.execute("SELECT n, twice FROM gold.doubled").fetchall() == [(2, 4)]


VIEW_OF_DIMENSION = """
        - name: big
          from: clean
          materialized: view
          operations: [{op: create_dimensions, key: n}]
"""
INCREMENTAL_VIEW = """
        - name: big
          from: clean
          materialized: view
          incremental: {unique_key: n}
"""
QUARANTINING_VIEW = """
        - name: big
          from: clean
          materialized: view
          quality_checks: [{check: not_null, field: n, action: quarantine}]
"""


@pytest.mark.parametrize(
    ("gold", "error"),
    [
        (
            VIEW_OF_DIMENSION,
            "pipelines/p.yml: pipeline.transformations[1].models[0].materialized: a view keeps "
            "no rows, so it cannot be a dimension (its members keep their keys): use "
            "materialized: table",
        ),
        (
            INCREMENTAL_VIEW,
            "pipelines/p.yml: pipeline.transformations[1].models[0].materialized: a view keeps "
            "no rows, so it cannot be incremental: use materialized: table",
        ),
        (
            QUARANTINING_VIEW,
            "pipelines/p.yml: pipeline.transformations[1].models[0]: gold.big is a view, which "
            "holds no rows to set apart: its check not_null_n cannot quarantine (use action: "
            "reject or warn, or materialized: table)",
        ),
    ],
    ids=["dimension", "incremental", "quarantine"],
)
def test_what_a_view_cannot_be_is_refused_naming_the_model_and_key(tmp_path, gold, error):
    tiny = TinyProject(tmp_path, "duckdb://")
    tiny.csv("t", "n\n1\n")
    head = PIPELINE[: PIPELINE.index("        - name: big")]
    tiny.pipeline(head + gold.lstrip("\n"))
    with pytest.raises(ConfigError) as raised:
        plan(tiny.root, target=tiny.target)
    assert str(raised.value) == error


def test_a_python_view_is_refused_with_incremental(tmp_path):
    tiny = TinyProject(tmp_path, "duckdb://")
    path = tiny.python_models(
        """
        import warehouse_kit as wk

        @wk.model(materialized="view", incremental={"unique_key": "n"})
        def big(clean):
            return clean
        """
    )
    with pytest.raises(ConfigError) as raised:
        plan(tiny.root, target=tiny.target)
    assert str(raised.value) == (
        f"{path}:4: materialized: a view keeps no rows, so it cannot be incremental: use "
        "materialized: table"
    )
