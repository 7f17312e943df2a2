"""One run at a time per target, and recovery from a killed run: real `wk run` processes,
a real lock (DuckDB's file lock, PostgreSQL's advisory lock), on every backend."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest

from conftest import TinyProject, fresh_postgres_database, wk
from warehouse_kit.core import runlock, state
from warehouse_kit.core.backends import WarehouseBusy, connect, duckdb_path, redact
from warehouse_kit.core.runner import run

WK = [sys.executable, "-m", "warehouse_kit.apps.cli"]
PIPELINE = """
pipeline:
  name: p
  sources: [{name: files, type: files, path: data, tables: [a_small, b_large]}]
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: b_large
          operations:
            - {op: type_casting, columns: {id: int64, grp: int64}}
            - {op: deduplicate, key: id}
    - stage: gold
      models:
        - name: by_group
          from: b_large
          operations:
            - op: aggregate_metrics
              group_by: [grp]
              measures: {ids: "count(*)", total: "sum(id)"}
"""
LARGE_ROWS = 200_000
"""Enough for loading it to take a moment, so that a kill lands while it loads."""


def a_project(tiny: TinyProject) -> TinyProject:
    tiny.csv("a_small", "n\n1\n2\n")
    large = tiny.root / "data" / "b_large.csv"
    duckdb.sql(
        f"COPY (SELECT i AS id, i % 7 AS grp, 'row ' || i AS label FROM range({LARGE_ROWS}) t(i)) "
        f"TO '{large}' (HEADER)"
    )
    tiny.pipeline(PIPELINE)
    return tiny


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts, killed at its end whatever happened."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait()


def wk_run(
    tiny: TinyProject, processes: list[subprocess.Popen[str]], *args: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*WK, "run", "--target", tiny.target, *args],
        cwd=tiny.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    processes.append(process)
    return process


def read_until(process: subprocess.Popen[str], prefix: str) -> list[str]:
    """Its output lines up to the first that starts with `prefix` (a model's line is
    printed once the model is committed)."""
    assert process.stdout is not None
    lines = []
    while not (lines and lines[-1].startswith(prefix)):
        line = process.stdout.readline()
        assert line, f"the run ended before printing {prefix!r}: {lines}"
        lines.append(line)
    return lines


def runs(target: str) -> dict[str, dict]:
    wh = connect(target)
    try:
        return {row["run_id"]: row for row in wh.rows(state.table(wh, "runs"))}
    finally:
        wh.close()


def rows(target: str, schema: str, name: str) -> list[tuple]:
    wh = connect(target)
    try:
        table = wh.table(name, schema)
        return sorted(tuple(row.values()) for row in wh.rows(table))
    finally:
        wh.close()


def bronze_rows(target: str) -> int:
    wh = connect(target)
    try:
        return int(wh.scalar(wh.table("b_large", "bronze").count()))
    finally:
        wh.close()


def test_a_second_run_waits_for_the_first_names_it_and_loads_nothing_twice(tiny, processes):
    project = a_project(tiny)
    first = wk_run(project, processes)
    run_id = read_until(first, "run ")[-1].split()[1]
    read_until(first, "[1/")  # it holds the target and has recorded its run
    os.kill(first.pid, signal.SIGSTOP)  # mid-run, for as long as the test needs
    place = duckdb_path(tiny.target) if tiny.target.startswith("duckdb") else redact(tiny.target)
    started = runs_started_at(first, run_id)
    holder = f"run {run_id} (started {started} UTC, host {socket.gethostname()}, pid {first.pid})"

    impatient = wk_run(project, processes, "--wait", "1")
    assert impatient.wait(timeout=60) == 1
    assert impatient.stderr is not None
    assert impatient.stderr.read().splitlines() == [
        f"waiting up to 1 s for {place}: {holder} has it open",
        f"error: cannot open {place}: {holder} has it open and did not let go within 1 s; "
        "wait for that run to finish (or longer: --wait SECONDS), then try again",
    ]

    second = wk_run(project, processes, "--wait", "120")
    assert second.stderr is not None
    assert second.stderr.readline() == f"waiting up to 120 s for {place}: {holder} has it open\n"
    os.kill(first.pid, signal.SIGCONT)
    assert first.wait(timeout=120) == 0
    assert second.wait(timeout=120) == 0, second.stderr.read()
    assert second.stdout is not None
    assert "bronze.b_large up_to_date" in second.stdout.read()
    assert bronze_rows(tiny.target) == LARGE_ROWS  # loaded once
    assert [r["status"] for r in runs(tiny.target).values()] == ["success", "success"]


def runs_started_at(process: subprocess.Popen[str], run_id: str) -> str:
    """When the run started, as a waiter shows it: its id says so (``%Y%m%dT%H%M%S``)."""
    day, clock = run_id[:8], run_id[9:15]
    return f"{day[:4]}-{day[4:6]}-{day[6:]} {clock[:2]}:{clock[2:4]}:{clock[4:]}"


def test_two_runs_started_together_load_each_file_once(tiny, processes):
    project = a_project(tiny)
    both = [wk_run(project, processes, "--wait", "120") for _ in range(2)]
    assert [process.wait(timeout=120) for process in both] == [0, 0]
    assert bronze_rows(tiny.target) == LARGE_ROWS
    wh = connect(tiny.target)
    try:
        batches = wh.rows(state.table(wh, "batches").select("model", "rows"))
    finally:
        wh.close()
    assert sorted((b["model"], b["rows"]) for b in batches) == [
        ("bronze.a_small", 2),
        ("bronze.b_large", LARGE_ROWS),
    ]


def test_a_killed_run_is_aborted_and_the_next_run_completes_its_work(tiny, processes, tmp_path):
    project = a_project(tiny)
    killed = wk_run(project, processes)
    run_id = read_until(killed, "run ")[-1].split()[1]
    read_until(killed, "[1/")
    killed.kill()  # SIGKILL, while it loads b_large
    killed.wait()

    again = subprocess.run(
        [*WK, "run", "--target", tiny.target], cwd=tiny.root, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert again.stderr == f"run {run_id} ended before it finished: marked aborted\n"
    history = runs(tiny.target)
    dead, (new_id, new) = history.pop(run_id), history.popitem()
    assert dead["status"] == "aborted"
    assert dead["finished_at"] is not None
    assert dead["error"] == (f"its process ended before the run finished (found by run {new_id})")
    assert new["status"] == "success"
    assert bronze_rows(tiny.target) == LARGE_ROWS
    assert rows(tiny.target, "gold", "by_group") == clean_build(project, tmp_path)


def clean_build(project: TinyProject, tmp_path: Path) -> list[tuple]:
    """The gold table a run on an empty warehouse of the same engine builds."""
    if project.target.startswith("duckdb"):
        target = f"duckdb:///{tmp_path}/clean.duckdb"
        assert run(project.root, target=target).ok
        return rows(target, "gold", "by_group")
    with fresh_postgres_database() as target:
        assert run(project.root, target=target).ok
        return rows(target, "gold", "by_group")


HOLD = textwrap.dedent(
    """
    import sys, time
    from warehouse_kit.core import runlock
    with runlock.hold(sys.argv[1], wait_s=0):
        print("holding", flush=True)
        time.sleep(60)
    """
)


def hold(target: str, processes: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    """Another process holding the target (through the lock alone: it records no run)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, target], stdout=subprocess.PIPE, text=True
    )
    processes.append(holder)
    assert holder.stdout is not None
    assert holder.stdout.readline() == "holding\n"
    return holder


@pytest.mark.postgres
def test_a_run_whose_lock_connection_dropped_still_keeps_the_next_out(postgres_url, processes):
    holder = hold(postgres_url, processes)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
            "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.granted "
            # Only this test's database: tests running beside it hold the same key in theirs.
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (runlock.NAMESPACE, runlock.RUN),
        ).fetchall()
    assert ended == [(True,)]
    # Its working session still holds the barrier: the next run may not start.
    name = f"a run starting (host {socket.gethostname()}, pid {holder.pid})"
    busy = pytest.raises(WarehouseBusy, match=re.escape(f": {name} has it open and did"))
    with busy, runlock.hold(postgres_url, wait_s=0.5):
        pass
    holder.kill()
    holder.wait()
    with runlock.hold(postgres_url, wait_s=30):
        pass


STEP = {"model": "bronze.t", "status": "success", "rows_in": 2, "rows_out": 2, "duration_s": 0.1}


def dead_run(target: str, run_id: str, step: dict | None = STEP) -> None:
    """A run recorded as running by a process that is gone (as `wk run` leaves one when
    it is killed: see the test above)."""
    wh = connect(target)
    try:
        state.ensure(wh)
        started = state.now()
        wh.execute(
            state.insert("runs", {"run_id": run_id, "status": "running", "started_at": started})
        )
        if step is not None:  # else killed before its first model committed
            row = {**step, "run_id": run_id, "started_at": started}
            wh.execute(state.insert("model_runs", row))
    finally:
        wh.close()


def wk_history(target: str, cwd: Path, run_id: str) -> subprocess.CompletedProcess[str]:
    return wk("history", "--target", target, "--run", run_id, cwd=cwd)


@pytest.mark.parametrize("step", [STEP, None], ids=["mid-run", "before-any-model"])
def test_wk_history_marks_a_dead_run_aborted_when_the_target_is_free(target_url, tmp_path, step):
    dead_run(target_url, "20200101T000000.000000Z", step)
    shown = wk_history(target_url, tmp_path, "20200101T000000.000000Z")
    assert shown.returncode == 0, shown.stderr
    assert "run 20200101T000000.000000Z: aborted" in shown.stdout
    assert ("bronze.t" in shown.stdout) == (step is not None)
    assert shown.stdout.splitlines()[-1] == (
        "aborted: its process ended before the run finished (found by wk history)"
    )
    assert shown.stderr == ""
    assert runs(target_url)["20200101T000000.000000Z"]["status"] == "aborted"


@pytest.mark.postgres
def test_wk_history_leaves_a_run_alone_while_the_target_is_held(postgres_url, tmp_path, processes):
    dead_run(postgres_url, "20200101T000000.000000Z")
    hold(postgres_url, processes)
    shown = wk_history(postgres_url, tmp_path, "20200101T000000.000000Z")
    assert shown.returncode == 0, shown.stderr
    assert "run 20200101T000000.000000Z: running" in shown.stdout
    assert shown.stderr == ""
    assert runs(postgres_url)["20200101T000000.000000Z"]["status"] == "running"
