"""The notebooks: all tested by nbval, committed clean, and the helpers they call."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from conftest import wk
from warehouse_kit.apps.notebook import (
    find_run,
    gold_tables,
    open_warehouse,
    quality_results,
    quarantined,
    row_count_trend,
    run_summary,
)
from warehouse_kit.apps.notebooks_refresh import (
    DEFAULT_SANITIZE,
    differs,
    example_warehouse,
    is_checked,
    sanitizer,
    strip,
)
from warehouse_kit.apps.reports import parameters_of
from warehouse_kit.core.backends import ConnectionFailed
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
ALL_NOTEBOOKS = sorted(NOTEBOOKS.glob("*.ipynb"))


def pytest_run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    return result.stdout + result.stderr


def test_pytest_collects_every_notebook():
    """The project's pytest configuration runs nbval on every notebook in notebooks/."""
    output = pytest_run("--collect-only", "-q", "notebooks", cwd=REPO_ROOT)
    collected = {line.split("::")[0] for line in output.splitlines() if ".ipynb::" in line}
    assert collected == {f"notebooks/{path.name}" for path in ALL_NOTEBOOKS}
    assert len(ALL_NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda path: path.name)
def test_notebooks_are_committed_with_the_checked_outputs_only(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata == {"kernelspec": KERNELSPEC}
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    checked = [cell for cell in code if is_checked(cell)]
    assert checked, "a notebook checks at least one key figure"
    for cell in checked:  # nbval compares only cells that have a count and outputs
        assert cell.execution_count is not None, cell.source
        assert cell.outputs, cell.source
    for cell in code:
        if not is_checked(cell):
            assert cell.execution_count is None, cell.source
            assert not cell.outputs, cell.source
    assert all(set(cell.metadata) <= {"tags"} for cell in notebook.cells)
    assert path.stat().st_size < 100_000


def test_the_report_takes_target_pipeline_run_id_and_unmask():
    parameters = parameters_of(NOTEBOOKS / "pipeline_report.ipynb")
    assert list(parameters) == ["target", "pipeline", "run_id", "unmask"]
    assert parameters["unmask"]["default"] == "False"
    assert parameters["run_id"]["default"] == "None"


KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def test_a_refresh_leaves_a_notebook_whose_outputs_differ_only_by_run_ids_and_urls():
    committed = nbformat.read(NOTEBOOKS / "pipeline_report.ipynb", as_version=4)
    sanitize = sanitizer(DEFAULT_SANITIZE)
    assert not differs(committed, committed, sanitize)
    text = nbformat.writes(committed)
    run_id = re.search(r"\d{8}T\d{6}\.\d{6}Z", text)
    assert run_id is not None
    other_run = nbformat.reads(text.replace(run_id.group(), "20991231T235959.000000Z"), 4)
    assert not differs(other_run, committed, sanitize)
    other_figure = nbformat.reads(text.replace("success", "failed", 1), 4)
    assert differs(other_figure, committed, sanitize)


def test_strip_keeps_what_nbval_compares_and_nothing_else():
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": KERNELSPEC, "papermill": {"duration": 1.5}},
        cells=[
            nbformat.v4.new_code_cell(
                "x = 1", execution_count=7, metadata={"tags": ["parameters"]}
            ),
            nbformat.v4.new_code_cell("x = 2", metadata={"tags": ["injected-parameters"]}),
            nbformat.v4.new_code_cell(
                "chart", execution_count=8, outputs=[nbformat.v4.new_output("stream", text="big")]
            ),
            nbformat.v4.new_code_cell(
                "# NBVAL_CHECK_OUTPUT\nx",
                execution_count=9,
                metadata={"execution": {"iopub.status.busy": "2026-01-01"}},
                outputs=[
                    nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=9)
                ],
            ),
        ],
    )
    stripped = strip(notebook)
    assert stripped.metadata == {"kernelspec": KERNELSPEC}
    assert [cell.source for cell in stripped.cells] == ["x = 1", "chart", "# NBVAL_CHECK_OUTPUT\nx"]
    parameters, chart, checked = stripped.cells
    assert parameters.metadata == {"tags": ["parameters"]}
    assert parameters.execution_count is None
    assert chart.execution_count is None
    assert chart.outputs == []
    assert checked.metadata == {}
    assert checked.execution_count == 3  # its place among the code cells: stable
    assert checked.outputs[0]["data"] == {"text/plain": "1"}


@pytest.fixture(scope="module")
def example() -> Iterator[str]:
    with example_warehouse(Project.load(REPO_ROOT)) as target:
        yield target


def test_nbval_fails_when_a_checked_figure_changes(example, tmp_path):
    tour = nbformat.read(NOTEBOOKS / "warehouse_tour.ipynb", as_version=4)
    figure = next(cell for cell in tour.cells if "gold_tables(warehouse)" in cell.source)
    table = figure.outputs[-1]["data"]  # the gold tables' row counts, as text and HTML
    facts = next(line for line in table["text/plain"].splitlines() if "fact_orders" in line)
    rows = facts.split()[2]
    for kind in ("text/plain", "text/html"):
        assert f"{rows}" in table[kind]
        table[kind] = table[kind].replace(rows, str(int(rows) + 1))
    nbformat.write(tour, tmp_path / "altered.ipynb")
    (tmp_path / "unaltered.ipynb").write_text((NOTEBOOKS / "warehouse_tour.ipynb").read_text())
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's configuration
    for folder in ("analytics", "pipelines"):  # the tour's KPIs, and the joins of their facts
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    (tmp_path / "warehouse.yml").write_text("name: tour\n")
    output = pytest_run(
        "--nbval-lax",
        "--nbval-kernel-name=python3",
        f"--nbval-sanitize-with={DEFAULT_SANITIZE}",
        cwd=tmp_path,
        env={"WK_TARGET": example},
    )
    summary = output.split("short test summary info")[-1]
    assert "FAILED altered.ipynb::Cell 2" in summary, output
    assert "1 failed" in summary
    assert "unaltered.ipynb" not in summary
    difference = output.split("Cell outputs differ")[1]
    assert str(int(rows) + 1) in difference  # the diff shows the altered figure


def test_wk_notebooks_refresh_reruns_a_notebook_and_keeps_the_checked_output(tmp_path):
    for name in ("warehouse.yml", "pipelines", "seeds"):
        copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
        copy(REPO_ROOT / name, tmp_path / name)
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "facts.ipynb"
    cells = [
        nbformat.v4.new_code_cell(
            "import sys\n"
            "from warehouse_kit.apps.notebook import open_warehouse\n"
            "print(1)\n"
            "sys.__stderr__.write('the kernel process logs this\\n')  # to its log, not ours"
        ),
        nbformat.v4.new_code_cell(
            "# NBVAL_CHECK_OUTPUT\n"
            "with open_warehouse() as warehouse:\n"
            '    facts = warehouse.table("fact_orders", "gold").count().execute()\n'
            "    print(warehouse)  # its URL: a new folder each time\n"
            "facts"
        ),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    result = wk("notebooks", "refresh", "--project", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refreshed notebooks/facts.ipynb"
    assert result.stderr.splitlines() == [  # the steps, as they happen
        "building the example warehouse (seeds, then each later batch)",
        "[1/1] running notebooks/facts.ipynb",
    ]
    imports, checked = nbformat.read(path, as_version=4).cells
    assert imports.outputs == []  # ran (printed 1), and was stripped
    assert imports.execution_count is None
    assert checked.execution_count == 2
    printed, count = checked.outputs
    assert "duckdb://" in printed["text"]
    assert int(count["data"]["text/plain"]) > 3000  # both batches of the example's order lines
    assert not (tmp_path / "warehouse.duckdb").exists()  # a warehouse of its own, deleted after


# --- the helpers notebooks call --------------------------------------------------------------

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
               action: quarantine}
    - stage: gold
      models:
        - name: people_by_city
          from: people
          operations: [{op: aggregate_metrics, group_by: [city], measures: {people: "count(*)"}}]
"""


def test_the_helpers_summarise_runs_on_every_backend(tiny):
    tiny.csv("people", PEOPLE)
    tiny.pipeline(PIPELINE)
    first = tiny.run()
    tiny.csv("people", PEOPLE + "4,d@x.com,Nice\n")
    second = tiny.run()
    assert first.ok
    assert second.ok
    with open_warehouse(tiny.target, project=tiny.root) as warehouse:
        run = find_run(warehouse, "people_pipeline")
        assert run.run_id == second.run_id
        assert run.status == "success"
        assert find_run(warehouse, run_id=first.run_id).run_id == first.run_id
        summary = run_summary(warehouse, run.run_id)
        checks = quality_results(warehouse, run.run_id)
        held = quarantined(warehouse, run.run_id)
        trend = row_count_trend(warehouse, "people_pipeline")
        tables = gold_tables(warehouse)
    assert list(summary.model) == ["bronze.people", "silver.people", "gold.people_by_city"]
    people = summary.set_index("model").loc["silver.people"]
    assert (people.rows_in, people.rows_out, people.rows_quarantined) == (4, 3, 1)
    assert checks.to_dict("records") == [
        {
            "model": "silver.people",
            "check": "email_valid",
            "type": "regex",
            "action": "quarantine",
            "status": "fail",
            "failing_rows": 1,
            "total_rows": 4,
        }
    ]
    assert held.to_dict("records") == [
        {
            "model": "silver.people",
            "rows_quarantined": 1,
            "quarantine_table": "silver.people__quarantine",
        }
    ]
    assert trend[["run_id", "rows_out"]].values.tolist() == [[first.run_id, 2], [second.run_id, 3]]
    assert tables.to_dict("records") == [{"table": "people_by_city", "rows": 3, "columns": 2}]


def test_a_table_up_to_date_keeps_its_rows_in_the_trend(tiny):
    tiny.csv("people", PEOPLE)
    tiny.pipeline(PIPELINE)
    built, again = tiny.run(), tiny.run()  # again: nothing new, every model up to date
    assert {model.status for model in again.models} == {"up_to_date"}
    with open_warehouse(tiny.target, project=tiny.root) as warehouse:
        trend = row_count_trend(warehouse, "people_pipeline")
    assert trend[["run_id", "rows_out"]].values.tolist() == [[built.run_id, 2], [again.run_id, 2]]


def test_an_unknown_run_or_pipeline_lists_what_there_is(tiny):
    tiny.csv("people", PEOPLE)
    tiny.pipeline(PIPELINE)
    run_id = tiny.run().run_id
    with open_warehouse(tiny.target, project=tiny.root) as warehouse:
        with pytest.raises(WarehouseKitError, match=f"no run 'nope' in the history; .*{run_id}"):
            find_run(warehouse, run_id="nope")
        with pytest.raises(
            WarehouseKitError,
            match=r"no run of pipeline 'people_pipelin' yet; did you mean 'people_pipeline'\?",
        ):
            find_run(warehouse, "people_pipelin")


def test_a_target_with_nothing_built_says_run_wk_run_first(target_url, tmp_path):
    with pytest.raises(WarehouseKitError, match="run `wk run` first") as caught:
        open_warehouse(target_url, project=tmp_path)
    assert "\n" not in str(caught.value)


def test_an_empty_database_file_is_not_a_warehouse_yet(tmp_path):
    import duckdb

    duckdb.connect(str(tmp_path / "empty.duckdb")).close()
    nothing_built = r"no warehouse built at .* yet: run `wk run` first"
    with pytest.raises(WarehouseKitError, match=nothing_built):
        open_warehouse(f"duckdb://{tmp_path}/empty.duckdb", project=tmp_path)


def test_the_warehouse_is_closed_after_the_block(tmp_path):
    """A pipeline can write again as soon as a notebook cell is done reading."""
    target = f"duckdb://{tmp_path}/w.duckdb"
    tiny_project(tmp_path)
    from warehouse_kit.core.runner import run

    assert run(tmp_path, target=target).ok
    with open_warehouse(target, project=tmp_path) as warehouse:
        assert find_run(warehouse).status == "success"
    assert run(tmp_path, target=target).ok  # would fail on DuckDB's lock if still open


def tiny_project(root: Path) -> None:
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "people.csv").write_text(textwrap.dedent(PEOPLE).lstrip())
    (root / "pipelines").mkdir(exist_ok=True)
    (root / "pipelines" / "p.yml").write_text(textwrap.dedent(PIPELINE))


WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_reader_waits_for_a_pipeline_holding_the_file(tmp_path):
    """Two processes: while one holds the DuckDB file for writing, a notebook waits, then reads."""
    target = f"duckdb://{tmp_path}/w.duckdb"
    tiny_project(tmp_path)
    from warehouse_kit.core.runner import run

    assert run(tmp_path, target=target).ok
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path / "w.duckdb"), "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "holding"
        with pytest.raises(ConnectionFailed, match="cannot open"):
            open_warehouse(target, project=tmp_path, wait_s=0)
        started = time.monotonic()
        with open_warehouse(target, project=tmp_path, wait_s=30) as warehouse:
            assert find_run(warehouse).status == "success"
        assert time.monotonic() - started > 0.5  # it did wait for the writer
    finally:
        writer.wait(timeout=30)
