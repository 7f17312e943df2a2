"""The `wk` command: help everywhere, a version, and one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import conftest
from conftest import REPO_ROOT

WK = [sys.executable, "-m", "warehouse_kit.apps.cli"]


def wk(
    *args: str, cwd: Path = REPO_ROOT, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    return conftest.wk(*args, cwd=cwd, env={"COLUMNS": "120", **(env or {})})


@pytest.mark.parametrize(
    "command", [[], ["run"], ["models"], ["history"], ["schema"], ["demo"], ["demo", "generate"]]
)
def test_every_command_describes_itself(command):
    result = wk(*command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


def test_version():
    result = wk("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("warehouse-kit ")


def project_with_error(tmp_path: Path) -> Path:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "x.yml").write_text(
        "pipeline:\n  name: p\n  transformations:\n"
        "    - stage: silver\n      operations: [dedupe]\n"
    )
    (tmp_path / "warehouse.yml").write_text("target: duckdb://w.duckdb\n")
    return tmp_path


def test_an_error_is_one_line_and_a_non_zero_exit(tmp_path):
    result = wk("run", cwd=project_with_error(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: pipelines/x.yml: pipeline.transformations[0].operations[0]: "
        "unknown operation 'dedupe'; did you mean 'deduplicate'?"
    ]
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = wk("--debug", "run", cwd=project_with_error(tmp_path))
    assert result.returncode == 1
    assert "Traceback" in result.stderr


def a_project(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "data").mkdir()
    (root / "data" / "t.csv").write_text("n\n1\n")
    (root / "pipelines").mkdir()
    (root / "pipelines" / "p.yml").write_text(
        "pipeline:\n  name: p\n  sources: [{name: files, type: files, path: data, tables: [t]}]\n"
        "  transformations: [{stage: bronze}]\n"
    )
    return root


def test_a_log_has_one_line_per_model_however_long(tmp_path):
    project = a_project(tmp_path)
    name = "a_table_whose_name_takes_up_most_of_an_eighty_column_line"[:55]
    (project / "data" / f"{name}.csv").write_text("n\n1\n1\n2\n")
    (project / "pipelines" / "p.yml").write_text(
        "pipeline:\n  name: p\n"
        f"  sources: [{{name: files, type: files, path: data, tables: [{name}]}}]\n"
        "  transformations:\n    - {stage: bronze, operations: [deduplicate]}\n"
    )
    result = wk("run", "--target", "duckdb://w.duckdb", cwd=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3, lines  # the run, its one model, the summary
    assert re.fullmatch(rf"\[1/1\] bronze\.{name} success: \d rows in, \d out.*, [\d.]+s", lines[1])
    assert len(lines[1]) > 80


def test_an_unreachable_database_is_one_line(tmp_path):
    result = wk("run", "--target", "postgres://root@127.0.0.1:1/nowhere", cwd=a_project(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: cannot open postgres://root@127.0.0.1:1/nowhere: connection failed: "
        'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    ]


def test_the_target_comes_from_the_flag_then_the_environment_then_warehouse_yml(tmp_path):
    from warehouse_kit.core.project import Project

    (tmp_path / "warehouse.yml").write_text("target: duckdb://from_file.duckdb\n")
    project = Project.load(tmp_path)
    assert project.target(environ={}) == "duckdb://from_file.duckdb"
    assert project.target(environ={"WK_TARGET": "duckdb://env.duckdb"}) == "duckdb://env.duckdb"
    assert (
        project.target("duckdb://flag.duckdb", environ={"WK_TARGET": "x"}) == "duckdb://flag.duckdb"
    )


def test_the_project_is_found_from_a_subfolder(tmp_path):
    from warehouse_kit.core.project import Project

    (tmp_path / "warehouse.yml").write_text("name: x\n")
    (tmp_path / "notebooks").mkdir()
    assert Project.load(tmp_path / "notebooks").root == tmp_path.resolve()


def test_without_warehouse_yml_the_default_is_a_duckdb_file_in_the_project(tmp_path):
    from warehouse_kit.core.project import Project

    assert Project(tmp_path).target(environ={}) == "duckdb://warehouse.duckdb"


@pytest.mark.parametrize(
    "command",
    [["run"], ["run", "--dry-run"], ["check"], ["models"], ["ddl"], ["notebooks", "refresh"]],
)
def test_outside_a_project_a_command_says_so_and_leaves_nothing(tmp_path, command):
    folder = tmp_path / "not-a-project"
    folder.mkdir()
    result = wk(*command, cwd=folder)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    if command[0] == "notebooks":
        assert line == f"error: no notebooks to refresh in {folder / 'notebooks'}"
    else:
        assert line == (
            f"error: no warehouse-kit project in {folder}: no warehouse.yml there or above it, "
            "and no pipelines/*.yml or models/*.py; run wk in a project folder or pass --project"
        )
    assert list(folder.iterdir()) == []  # no warehouse.duckdb, no schemas/, no reports/


def test_a_target_outside_a_project_is_not_created(tmp_path):
    result = wk("run", "--target", f"duckdb:///{tmp_path}/w.duckdb", cwd=tmp_path)
    assert result.returncode == 1
    assert "no warehouse-kit project" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_project_with_nothing_to_build_says_so(tmp_path):
    (tmp_path / "warehouse.yml").write_text("name: empty\n")
    result = wk("run", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: nothing to build in {tmp_path}: no pipeline files in pipelines/ "
        "and no Python models in models/\n"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["warehouse.yml"]


def test_the_python_api_refuses_a_folder_that_is_not_a_project(tmp_path):
    from warehouse_kit import run
    from warehouse_kit.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no warehouse-kit project in"):
        run(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_target_in_a_missing_folder_is_one_line_and_creates_nothing(tmp_path):
    project = a_project(tmp_path / "project")
    missing = tmp_path / "typo" / "dir"
    result = wk("run", "--target", f"duckdb://{missing}/x.duckdb", cwd=project)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot create the warehouse {missing}/x.duckdb: there is no folder {missing} "
        "(create it, or correct the target)\n"
    )
    assert not (tmp_path / "typo").exists()


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)  # as a notebook reads the warehouse
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A project and its built DuckDB warehouse."""
    project, path = a_project(tmp_path / "project"), tmp_path / "w.duckdb"
    assert wk("run", "--target", f"duckdb://{path}", cwd=project).returncode == 0
    return project, path


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "holding\n"
    return holder


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for holder in started:
        holder.kill()
        holder.wait()


def test_wk_run_says_it_waits_for_the_process_holding_the_file(built, holders):
    project, path = built
    holder = hold(path, 60)  # until the run has said it waits (a busy machine is slow to start)
    holders.append(holder)
    started = time.monotonic()
    run = subprocess.Popen(
        [*WK, "run", "--target", f"duckdb://{path}"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stderr is not None
    line = run.stderr.readline()
    assert holder.poll() is None  # said while the holder still has the file
    python = Path(sys.executable).resolve()
    assert line == f"waiting up to 300 s for {path}: process {holder.pid} ({python}) has it open\n"
    holder.terminate()  # lets go of the file: the run goes on
    assert run.wait(timeout=60) == 0
    assert run.stderr.read() == ""
    assert time.monotonic() - started > 1


def test_wk_run_gives_up_on_a_held_file_with_one_line_saying_what_to_do(built, holders):
    project, path = built
    holder = hold(path, 60)
    holders.append(holder)
    result = wk("run", "--target", f"duckdb://{path}", "--wait", "2", cwd=project)
    assert result.returncode == 1
    python = Path(sys.executable).resolve()
    assert result.stderr.splitlines() == [
        f"waiting up to 2 s for {path}: process {holder.pid} ({python}) has it open",
        f"error: cannot open {path}: process {holder.pid} ({python}) has it open and did not "
        "let go within 2 s; close the warehouse there (a notebook's or a dashboard's "
        "connection) or wait for the run that holds it, then try again",
    ]


def test_the_default_wait_is_the_librarys():
    from warehouse_kit.apps import cli
    from warehouse_kit.core import runlock

    assert cli.WAIT_S == runlock.DEFAULT_WAIT_S
