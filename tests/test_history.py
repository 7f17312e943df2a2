"""The run history as its readers see it: `wk check` runs are not pipeline runs."""

from __future__ import annotations

import pytest
import sqlglot as sg
import sqlglot.expressions as sge

from conftest import wk
from warehouse_kit.apps import health_dashboard
from warehouse_kit.apps.notebook import find_run, open_warehouse, row_count_trend
from warehouse_kit.core import state
from warehouse_kit.core.backends import connect, table_ref
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.history import model_runs
from warehouse_kit.core.runner import check

PEOPLE = """
id,email,city
1,a@x.com,Paris
2,not-an-email,Lyon
3,c@x.com,Lyon
"""
PIPELINE = """
pipeline:
  name: people_pipeline
  sources: [{name: files, type: files, path: data, tables: [people], load: replace}]
  transformations:
    - stage: silver
      models:
        - name: people
          operations: [{op: type_casting, columns: {id: int64}}]
          quality_checks:
            - {name: email_valid, type: regex, field: email, pattern: '^[^@]+@[^@]+$',
               action: ACTION}
    - stage: gold
      models:
        - name: people_by_city
          from: people
          operations: [{op: aggregate_metrics, group_by: [city], measures: {people: "count(*)"}}]
"""


def people_project(tiny, action: str = "warn"):
    tiny.csv("people", PEOPLE)
    tiny.pipeline(PIPELINE.replace("ACTION", action))
    return tiny


def test_a_check_run_is_not_the_latest_pipeline_run(tiny):
    built = people_project(tiny).run()
    assert built.ok
    checked = check(tiny.root, target=tiny.target)
    assert [r.check for r in checked] == ["email_valid"]
    assert checked.run_id > built.run_id
    with open_warehouse(tiny.target, project=tiny.root) as warehouse:
        assert state.latest_run_id(warehouse) == built.run_id
        steps = warehouse.rows(model_runs(warehouse).select("run_id", "model"))
        assert find_run(warehouse).run_id == built.run_id
        assert find_run(warehouse, "people_pipeline").run_id == built.run_id
        trend = row_count_trend(warehouse)
        results = state.table(warehouse, "check_results")
        recorded = warehouse.rows(results.filter(results.run_id == checked.run_id))
    assert {row["run_id"] for row in steps} == {built.run_id}
    assert steps[0]["model"] == "bronze.people"
    assert set(trend["run_id"]) == {built.run_id}
    assert [row["check"] for row in recorded] == ["email_valid"]  # still recorded
    health = health_dashboard.pipeline_health(project=tiny.root, target=tiny.target)
    assert health.latest.run_id == built.run_id
    assert list(health.runs["run_id"]) == [built.run_id]


def test_check_runs_are_recorded_apart_from_pipeline_runs(tiny):
    people_project(tiny).run()
    checked = check(tiny.root, target=tiny.target)
    with open_warehouse(tiny.target, project=tiny.root) as warehouse:
        runs = state.table(warehouse, "runs")
        row = warehouse.rows(runs.filter(runs.run_id == checked.run_id))[0]
    assert row["pipeline"] == state.CHECK_RUN
    assert row["status"] == "success"


def test_a_check_run_recorded_before_check_runs_had_their_own_name_is_skipped_too(tiny):
    built = people_project(tiny).run()
    warehouse = connect(tiny.target)
    try:  # as `wk check` wrote it: pipeline 'check' and no selection
        old = {"run_id": "99990101T000000.000000Z", "pipeline": "check", "status": "success"}
        warehouse.execute(state.insert("runs", old))
        assert state.latest_run_id(warehouse) == built.run_id
        assert find_run(warehouse).run_id == built.run_id
    finally:
        warehouse.close()


def test_the_health_dashboard_counts_the_models_that_failed(tiny):
    result = people_project(tiny, action="reject").run()
    assert [m.status for m in result.models] == ["success", "failed", "skipped"]
    health = health_dashboard.pipeline_health(project=tiny.root, target=tiny.target)
    assert health.runs[["status", "models", "failed"]].values.tolist() == [["failed", 3, 1]]


@pytest.mark.duckdb
def test_wk_history_after_wk_check_shows_the_latest_pipeline_run(tmp_path):
    from conftest import TinyProject

    tiny = people_project(TinyProject(tmp_path, f"duckdb:///{tmp_path}/w.duckdb"))
    built = tiny.run()

    assert wk("check", "--target", tiny.target, cwd=tmp_path).returncode == 0
    shown = wk("history", "--target", tiny.target, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert f"run {built.run_id}" in shown.stdout
    assert "gold.people_by_city" in shown.stdout


def test_an_older_run_history_is_upgraded_in_place_and_a_newer_one_refused(warehouse):
    """Layout 1 had no schema versions and no row accounting: ensure adds them, keeps what
    was recorded, and records layout 2; a layout newer than the code is refused."""
    state.ensure(warehouse)
    old_runs = state.TABLES["model_runs"].items()
    warehouse.execute(sge.Drop(kind="TABLE", this=table_ref("schema_versions", "_wk")))
    for column in ("rows_dropped", "dropped", "fingerprint"):
        warehouse.execute(
            sge.Alter(
                this=table_ref("model_runs", "_wk"),
                kind="TABLE",
                actions=[sge.Drop(kind="COLUMN", this=sg.to_identifier(column, quoted=True))],
            )
        )
    warehouse.execute(state.update("meta", {"key": "state_version"}, {"value": "1"}))
    row = {"run_id": "r1", "model": "bronze.t", "status": "success", "rows_in": 3}
    warehouse.execute(state.insert("model_runs", row))
    state.ensure(warehouse)
    assert state.layout_version(warehouse) == state.VERSION == 2
    assert warehouse.exists("schema_versions", "_wk")
    upgraded = warehouse.table("model_runs", "_wk").columns
    assert set(upgraded) == {name for name, _ in old_runs}
    [kept] = warehouse.rows(state.table(warehouse, "model_runs"))
    assert (kept["run_id"], kept["rows_in"], kept["rows_dropped"]) == ("r1", 3, None)
    warehouse.execute(state.update("meta", {"key": "state_version"}, {"value": "3"}))
    with pytest.raises(WarehouseKitError, match="has layout 3, newer than the 2 this"):
        state.ensure(warehouse)
