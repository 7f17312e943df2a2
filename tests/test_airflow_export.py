"""`wk export-airflow`: the DAG file loads in Airflow's own DagBag and matches the pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from warehouse_kit.apps.airflow import export_airflow
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.project import Project

AIRFLOW_VERSION = "3.3"
AIRFLOW_VENV = Path(os.environ.get("WK_AIRFLOW_VENV", f"/tmp/wk-airflow-venv-{AIRFLOW_VERSION}"))
"""Airflow pins conflict with ours: it lives in a virtual environment of its own, made
once per machine and version (``.wk-ready`` says the install finished)."""

REPO_ROOT = Path(__file__).resolve().parent.parent

PIPELINE = """
pipeline:
  name: shop
  schedule: "0 */6 * * *"
  retries: {attempts: 3, backoff: 30s}
  sources: [{name: files, type: files, path: data, tables: [orders, customers]}]
  transformations:
    - stage: bronze
    - stage: silver
      operations: [deduplicate]
    - stage: gold
      models:
        - name: totals
          from: silver.orders
          retries: {attempts: 5, backoff: 1m}
          operations: [{op: aggregate_metrics, measures: {lines: "count(*)"}}]
"""

LOAD = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # before Airflow 3.1
    from airflow.models.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
dags = {}
for dag_id, dag in bag.dags.items():
    dags[dag_id] = {
        "schedule": str(dag.schedule),
        "tasks": {
            t.task_id: {
                "upstream": sorted(t.upstream_task_ids),
                "retries": t.retries,
                "retry_delay": t.retry_delay.total_seconds(),
                "command": t.bash_command,
            }
            for t in dag.tasks
        },
    }
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
"""


def airflow_python() -> Path:
    """The Airflow venv's interpreter, installing Airflow there the first time."""
    python = AIRFLOW_VENV / "bin" / "python"
    if (AIRFLOW_VENV / ".wk-ready").exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(AIRFLOW_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", f"apache-airflow=={AIRFLOW_VERSION}.*"]
        subprocess.run(pip, check=True, capture_output=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"Airflow {AIRFLOW_VERSION} cannot be installed here: {exc}")
    (AIRFLOW_VENV / ".wk-ready").touch()
    return python


def shop(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "shop.yml").write_text(textwrap.dedent(PIPELINE))
    return Project.load(root)


@pytest.mark.slow
def test_the_exported_dag_loads_in_airflow_and_matches_the_pipeline(tmp_path):
    project = shop(tmp_path)
    [written] = export_airflow(project, tmp_path / "dags", workdir="/srv/shop project")
    assert written.name == "shop_dag.py"
    python = airflow_python()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    env.pop("PYTHONPATH", None)  # Airflow's venv only: warehouse-kit is not needed there
    loaded = subprocess.run(
        [str(python), "-c", LOAD, str(written.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    found = json.loads(loaded.stdout.strip().splitlines()[-1])

    assert found["errors"] == {}
    dag = found["dags"]["shop"]
    assert "0 */6 * * *" in dag["schedule"]
    tasks = dag["tasks"]
    assert {name: task["upstream"] for name, task in tasks.items()} == {
        "bronze": [],
        "silver": ["bronze"],
        "gold": ["silver"],
    }
    assert (tasks["bronze"]["retries"], tasks["bronze"]["retry_delay"]) == (2, 30.0)
    assert (tasks["gold"]["retries"], tasks["gold"]["retry_delay"]) == (4, 60.0)
    assert tasks["gold"]["command"] == (
        "cd '/srv/shop project' && wk run pipelines/shop.yml --select gold"
    )


def test_a_schedule_with_seconds_is_refused_by_name(tmp_path):
    project = shop(tmp_path)
    path = project.root / "pipelines" / "shop.yml"
    path.write_text(path.read_text().replace("0 */6 * * *", "*/5 * * * * *"))
    with pytest.raises(ConfigError, match=r"^pipelines/shop.yml: pipeline.schedule: .*seconds"):
        export_airflow(project, tmp_path / "dags")
