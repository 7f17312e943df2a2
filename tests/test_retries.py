"""Retries: a transient fault (the connection lost) is tried again; a SQL error is not."""

from __future__ import annotations

import threading
import time

import duckdb
import psycopg
import pytest

from conftest import TinyProject
from warehouse_kit.core.backends import connect
from warehouse_kit.core.config import parse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.retries import Retries, is_transient
from warehouse_kit.core.spec import PipelineFile

PIPELINE = """
pipeline:
  name: p
  retries: {attempts: 3, backoff: 0.2s}
  sources: [{name: files, type: files, path: data, tables: [t]}]
  transformations:
    - stage: bronze
    - stage: silver
      models:
        - name: clean
          from: t
          operations: [{op: calculate_metrics, columns: {n: "cast(n AS INT)"}}]
"""

MODELS = '''
import ibis
import warehouse_kit as wk

@ibis.udf.scalar.builtin
def wk_pause(x: int) -> int:
    """A function of the test database: sleeps 30 s on its first call only."""

@ibis.udf.scalar.builtin
def wk_no_such_function(x: int) -> int:
    """No function of this name exists: the SQL is wrong, whatever the attempt."""

@wk.model(stage="gold", retries={"attempts": 3, "backoff": "0.2s"})
def slow(clean):
    return clean.mutate(paused=wk_pause(clean.n))

@wk.model(stage="gold", retries={"attempts": 3, "backoff": "30s"})
def broken(clean):
    return clean.mutate(wrong=wk_no_such_function(clean.n))
'''

# The first call sleeps on the server, where the test terminates its session; a sequence
# counts the calls, since a rolled-back attempt cannot undo nextval.
PAUSE = """
CREATE SEQUENCE wk_pause_calls;
CREATE FUNCTION wk_pause(x bigint) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF nextval('wk_pause_calls') = 1 THEN PERFORM pg_sleep(30); END IF;
  RETURN x;
END $$;
"""

SLEEPING = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND wait_event = 'PgSleep' AND query ILIKE '%wk_pause%'
"""


def terminate_the_sleeping_query(url: str, terminated: list[int]) -> None:
    """From a connection of its own: end the session running the sleeping query, once."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            found = admin.execute(SLEEPING).fetchall()
            if found:
                pid = found[0][0]
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                terminated.append(pid)
                return
            time.sleep(0.05)


@pytest.mark.postgres
def test_a_lost_connection_is_retried_and_a_sql_error_is_not(tmp_path, postgres_url):
    with psycopg.connect(postgres_url, autocommit=True) as setup:
        setup.execute(PAUSE)
    tiny = TinyProject(tmp_path / "project", postgres_url)
    tiny.csv("t", "n\n1\n2\n")
    tiny.pipeline(PIPELINE)
    tiny.python_models(MODELS)
    terminated: list[int] = []
    killer = threading.Thread(target=terminate_the_sleeping_query, args=(postgres_url, terminated))
    killer.start()
    started = time.monotonic()
    result = tiny.run()
    killer.join()

    assert len(terminated) == 1  # the run's own connection was ended mid-write
    outcome = {m.model: m for m in result.models}
    assert outcome["gold.slow"].status == "success"
    assert [(row["n"], row["paused"]) for row in tiny.rows("gold.slow", order_by="n")] == [
        (1, 1),
        (2, 2),
    ]
    assert outcome["gold.broken"].status == "failed"
    assert "wk_no_such_function" in (outcome["gold.broken"].error or "")
    assert time.monotonic() - started < 25  # the SQL error waited no 30 s backoff

    wh = connect(postgres_url)
    try:
        steps = wh.table("model_runs", "_wk")
        rows = steps.filter(steps.run_id == result.run_id).to_pyarrow().to_pylist()
        runs = wh.table("runs", "_wk").to_pyarrow().to_pylist()
    finally:
        wh.close()
    recorded = {row["model"]: row for row in rows}
    slow, broken = recorded["gold.slow"], recorded["gold.broken"]
    assert (slow["status"], slow["attempt"], slow["attempts"]) == ("success", 2, 3)
    assert slow["notes"].startswith("attempt 2 of 3 (attempt 1: ")
    assert (broken["status"], broken["attempt"], broken["attempts"]) == ("failed", 1, 3)
    assert "attempt" not in (broken["notes"] or "")
    assert recorded["silver.clean"]["attempt"] == 1  # the others ran once, as ever
    assert [run["status"] for run in runs] == ["failed"]  # broken failed; the run ended


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.UndefinedFunction("function f(integer) does not exist"), False),
        (psycopg.errors.DivisionByZero("division by zero"), False),
        (psycopg.errors.NotNullViolation("null value in column"), False),
        (duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock'), True),
        (duckdb.IOException("No files found that match the pattern"), False),
        (duckdb.BinderException("Referenced column not found"), False),
    ],
)
def test_only_transient_faults_are_worth_another_attempt(error, transient):
    wrapped = RuntimeError("the write failed")
    wrapped.__cause__ = error  # as a library re-raises it
    assert is_transient(error) is transient
    assert is_transient(wrapped) is transient


def test_retries_are_validated_and_back_off():
    retries = Retries.model_validate({"attempts": 4, "backoff": "2s"})
    assert [retries.wait_before(n) for n in (2, 3, 4)] == [2.0, 4.0, 8.0]
    bad = {"pipeline": {"name": "p", "retries": {"attempts": 3, "backof": "2s"}}}
    with pytest.raises(ConfigError, match=r"^p.yml: pipeline.retries.backof: .*'backoff'"):
        parse(PipelineFile, bad, file="p.yml")
