"""The runner: history, reruns, atomicity, selection, dry runs, Python models; on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import model_runs
from warehouse_kit.core.backends import connect, duckdb_path
from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.errors import ConfigError, ModelError, SourceError
from warehouse_kit.core.project import Project

PIPELINE = """
pipeline:
  name: p
  sources: [{name: files, type: files, path: data, tables: [t], load: LOAD}]
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: clean
          from: t
          operations:
            - {op: calculate_metrics, columns: {n: "cast(n AS INT)"}}
    - stage: gold
      models:
        - name: total
          from: clean
          operations: [{op: aggregate_metrics, measures: {total: "sum(n)", lines: "count(*)"}}]
"""


def pipeline(load: str = "append") -> str:
    return PIPELINE.replace("LOAD", load)


def tables(target: str, schema: str) -> list[str]:
    wh = connect(target)
    try:
        return (
            sorted(wh.con.list_tables(database=schema)) if schema in wh.con.list_databases() else []
        )
    finally:
        wh.close()


def test_the_history_records_rows_in_and_out_of_every_model(tiny):
    tiny.csv("t", "n\n1\n2\n3\n")
    tiny.pipeline(pipeline())
    result = tiny.run()
    assert result.ok
    steps = model_runs(tiny.target, result.run_id)
    assert {
        model: (row["rows_in"], row["rows_out"], row["status"]) for model, row in steps.items()
    } == {
        "bronze.t": (3, 3, "success"),
        "silver.clean": (3, 3, "success"),
        "gold.total": (3, 1, "success"),
    }
    assert tiny.rows("gold.total") == [{"total": 6, "lines": 3}]


def test_a_rerun_loads_no_batch_twice_and_changes_nothing(tiny):
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    first = tiny.rows("bronze.t", order_by="n")
    again = tiny.run()
    assert again.ok
    assert tiny.rows("bronze.t", order_by="n") == first
    bronze = next(m for m in again.models if m.model == "bronze.t")
    assert (bronze.rows_in, bronze.rows_out, bronze.note) == (0, 2, "no new files")


def test_only_new_files_are_appended(tiny):
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(pipeline().replace("tables: [t]", "tables: [{name: t, path: 't*.csv'}]"))
    assert tiny.run().ok
    tiny.csv("t2", "n\n10\n")
    assert tiny.run().ok
    bronze = tiny.rows("bronze.t", order_by="n")
    assert [row["n"] for row in bronze] == ["1", "10"]
    assert len({row["_batch_id"] for row in bronze}) == 2
    assert tiny.rows("gold.total") == [{"total": 11, "lines": 2}]


def test_full_refresh_reloads_instead_of_appending(tiny):
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    assert tiny.run(full_refresh=True).ok
    assert len(tiny.rows("bronze.t")) == 2


def test_a_failed_model_leaves_its_previous_table_and_skips_what_depends_on_it(tiny):
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(pipeline(load="replace"))
    assert tiny.run().ok
    tiny.csv("t", "n\n1\nnot a number\n")  # the cast fails inside the engine, mid-write
    result = tiny.run()
    assert result.status == "failed"
    assert [(m.model, m.status) for m in result.models] == [
        ("bronze.t", "success"),
        ("silver.clean", "failed"),
        ("gold.total", "skipped"),
    ]
    assert [row["n"] for row in tiny.rows("silver.clean", order_by="n")] == [1, 2]
    assert tiny.rows("gold.total") == [{"total": 3, "lines": 2}]
    assert tables(tiny.target, "silver") == ["clean"]  # no staging table left behind
    steps = model_runs(tiny.target, result.run_id)
    assert steps["silver.clean"]["status"] == "failed"
    assert (
        "not a number" in steps["silver.clean"]["error"]
        or "convert" in steps["silver.clean"]["error"].lower()
    )
    assert steps["gold.total"]["status"] == "skipped"


def test_select_builds_only_the_chosen_models(tiny):
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(pipeline())
    result = tiny.run(select=["+silver.clean"])
    assert [m.model for m in result.models] == ["bronze.t", "silver.clean"]
    assert tables(tiny.target, "gold") == []
    assert [m.model for m in tiny.run(select=["total"]).models] == ["gold.total"]


def test_selecting_a_model_whose_input_was_never_built_fails_before_writing(tiny):
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(pipeline())
    with pytest.raises(
        ModelError,
        match=r"its input silver.clean is not built yet; select it too \(--select \+gold.total\)",
    ):
        tiny.run(select=["total"])
    assert tables(tiny.target, "_wk") == []


def test_a_missing_source_file_is_one_clear_error_and_nothing_is_written(tiny):
    tiny.pipeline(pipeline())
    with pytest.raises(SourceError, match=r"source files, table t: no file matches data/t\.\*"):
        tiny.run()
    assert tables(tiny.target, "_wk") == []


def test_a_dry_run_shows_sql_and_writes_nothing(tiny):
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(pipeline())
    result = tiny.run(dry_run=True)
    assert [m.status for m in result.models] == ["planned"] * 3
    total = result.models[-1]
    quote = "`" if tiny.target.startswith("spark") else '"'  # each engine's own quoting
    assert f"{quote}silver{quote}.{quote}clean{quote}" in total.sql
    assert "SUM" in total.sql.upper()
    assert total.note == "table -> gold.total"
    if tiny.target.startswith("duckdb"):
        assert not Path(duckdb_path(tiny.target)).exists()
    assert tables(tiny.target, "_wk") == []


def test_python_models_join_the_pipeline_dag(tiny):
    tiny.csv("t", "n\n1\n5\n")
    tiny.pipeline(pipeline())
    tiny.python_models(
        '''
        import warehouse_kit as wk

        @wk.model(stage="gold")
        def big(clean):
            """Rows with n above 2."""
            return clean.filter(clean.n > 2).select("n")
        '''
    )
    result = tiny.run()
    assert result.ok
    assert "gold.big" in [m.model for m in result.models]
    assert tiny.rows("gold.big") == [{"n": 5}]


def test_destination_tables_may_name_a_python_model_which_the_pipeline_then_checks(tiny):
    tiny.csv("t", "n\n1\n5\n")
    tiny.python_models(
        """
        import warehouse_kit as wk

        @wk.model(stage="gold", materialized="view")
        def big(clean):
            return clean.filter(clean.n > 2).select("n")
        """
    )
    published = "  quality_checks: [{check: row_count, min: 1}]\n  destination: {tables: TABLES}\n"
    tiny.pipeline(pipeline() + published.replace("TABLES", "[total, bigg]"))
    with pytest.raises(ConfigError) as unknown:
        load_catalog(Project.load(tiny.root))
    assert str(unknown.value) == (
        "pipelines/p.yml: pipeline.destination.tables[1]: 'bigg' is no model of the last "
        "stage, gold, in this file or in models/*.py; did you mean 'big'? (gold has big, total)"
    )
    tiny.pipeline(pipeline() + published.replace("TABLES", "[total, big]"))
    result = tiny.run()
    assert result.ok, result.first_error()
    checked = {m.model: [c.check for c in m.checks or ()] for m in result.models}
    assert checked["gold.big"] == checked["gold.total"] == ["row_count"]
    assert model_runs(tiny.target, result.run_id)["gold.big"]["materialization"] == "view"
    assert tiny.rows("gold.big") == [{"n": 5}]


@pytest.mark.parity
def test_hostile_column_names_are_data_not_sql(tiny):
    hostile = 'x"; DROP TABLE y; --'
    tiny.csv("t", f'"{hostile.replace(chr(34), chr(34) * 2)}"\n1\n')
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources: [{name: files, type: files, path: data, tables: [t]}]
          transformations:
            - stage: silver
              models: [{name: clean, from: t, operations: [deduplicate]}]
        """
    )
    assert tiny.run().ok
    assert tiny.rows("silver.clean")[0][hostile] == "1"


def test_pipeline_files_may_be_given_as_text_relative_to_the_current_folder(tiny, monkeypatch):
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(pipeline(), name="first.yml")
    tiny.pipeline(pipeline().replace("name: p", "name: q").replace("total", "other"), "q.yml")
    monkeypatch.chdir(tiny.root)
    result = tiny.run(pipelines=["pipelines/first.yml"])
    assert result.ok
    assert [m.model for m in result.models] == ["bronze.t", "silver.clean", "gold.total"]


def test_a_reader_holds_the_warehouse_for_its_block_only(tiny):
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(pipeline())
    assert tiny.run().ok
    project = Project.of(tiny.root)
    with project.reading(tiny.target) as warehouse:
        assert warehouse.table("total", "gold").to_pyarrow().to_pylist() == [
            {"total": 3, "lines": 2}
        ]
    assert tiny.run(wait=0).ok  # on DuckDB, a file still open would keep the run out
