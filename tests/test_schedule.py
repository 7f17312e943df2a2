"""`wk schedule`: pipelines run at their cron times, one at a time, and stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import REPO_ROOT, TinyProject
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError, WarehouseKitError
from warehouse_kit.core.project import Project
from warehouse_kit.core.scheduler import Scheduler, scheduled

PIPELINE = """
pipeline:
  name: NAME
  schedule: "CRON"
  sources: [{name: files, type: files, path: data, tables: [t]}]
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: clean_NAME
          from: t
          operations: [{op: calculate_metrics, columns: {n: "cast(n AS INT)"}}]
"""


def project_with(tmp_path: Path, schedules: dict[str, str]) -> TinyProject:
    target = f"duckdb:///{tmp_path}/w.duckdb"
    tiny = TinyProject(tmp_path / "project", target)
    (tiny.root / "warehouse.yml").write_text(f"target: {target}\n")
    tiny.csv("t", "n\n1\n2\n")
    for name, cron in schedules.items():
        tiny.pipeline(PIPELINE.replace("NAME", name).replace("CRON", cron), name=f"{name}.yml")
    return tiny


def recorded_runs(target: str) -> list[dict]:
    wh = connect(target)
    try:
        return wh.table("runs", "_wk").order_by("run_id").to_pyarrow().to_pylist()
    finally:
        wh.close()


def test_wk_schedule_runs_every_second_and_stops_cleanly_on_sigterm(tmp_path):
    tiny = project_with(tmp_path, {"every_second": "* * * * * *"})
    path = f"{REPO_ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    env = {**os.environ, "PYTHONPATH": path}
    command = [sys.executable, "-m", "warehouse_kit.apps.cli", "schedule", "-p", str(tiny.root)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    logs = tiny.root / "logs"
    deadline = time.monotonic() + 90
    while len(list(logs.glob("every_second-*.log"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=90)

    assert process.returncode == 0, output
    assert "next runs (UTC): every_second at " in output
    assert "SIGTERM: stopping" in output
    runs = recorded_runs(tiny.target)
    assert len(runs) >= 2
    assert {run["status"] for run in runs} == {"success"}  # none left running or aborted
    logged = sorted(path.name for path in logs.glob("every_second-*.log"))
    assert logged == [f"every_second-{run['run_id']}.log" for run in runs]
    first = (logs / logged[0]).read_text()
    assert f"run {runs[0]['run_id']} on " in first
    assert "silver.clean_every_second" in first
    assert not list(logs.glob("*.partial"))


class FakeClock:
    """Time that moves only when the scheduler sleeps: hours of schedule in a moment."""

    def __init__(self, start: datetime):
        self.time = start
        self.slept = 0.0

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.time += timedelta(seconds=seconds)


def test_pipelines_run_one_at_a_time_in_the_order_they_fall_due(tmp_path):
    tiny = project_with(tmp_path, {"hourly": "0 * * * *", "quarterly": "*/15 * * * *"})
    project = Project.load(tiny.root)
    clock = FakeClock(datetime(2026, 3, 1, 9, 50))
    said: list[str] = []
    scheduler = Scheduler(project, scheduled(project), clock=clock, max_runs=4, say=said.append)

    runs = scheduler.serve()

    due = [(run.pipeline, run.due.strftime("%H:%M")) for run in runs]
    # Due together: by name. Each next time counts from the clock after the run.
    assert due == [("hourly", "10:00"), ("quarterly", "10:00"), ("quarterly", "10:15"),
                   ("quarterly", "10:30")]  # fmt: skip
    assert all(run.result is not None and run.result.ok for run in runs)
    assert said[0] == (
        "next runs (UTC): hourly at 2026-03-01 10:00:00, quarterly at 2026-03-01 10:00:00"
    )
    assert [run.log.name for run in runs] == [
        f"{run.pipeline}-{run.result.run_id}.log" for run in runs if run.result
    ]
    assert clock.slept == pytest.approx(40 * 60, abs=60)  # waited, without waiting


def test_a_schedule_is_a_cron_expression_and_some_pipeline_needs_one(tmp_path):
    tiny = project_with(tmp_path, {"bad": "every monday"})
    expected = r"^pipelines/bad.yml: pipeline.schedule: 'every monday' is not a cron expression"
    with pytest.raises(ConfigError, match=expected):
        scheduled(Project.load(tiny.root))
    (tiny.root / "pipelines" / "bad.yml").unlink()
    tiny.pipeline(PIPELINE.replace("NAME", "none").replace('  schedule: "CRON"\n', ""))
    with pytest.raises(WarehouseKitError, match="no pipeline to schedule"):
        scheduled(Project.load(tiny.root))
