"""wk report: papermill into reports/, HTML that opens offline, and errors that name the cell."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import nbformat
import pytest

from conftest import chromium_page, wk
from warehouse_kit.apps.notebooks_refresh import example_warehouse
from warehouse_kit.apps.reports import ReportError, parse_parameters, report
from warehouse_kit.core.project import Project

REPO_ROOT = Path(__file__).resolve().parent.parent
REPORT = REPO_ROOT / "notebooks" / "pipeline_report.ipynb"
ARTIFACTS = REPO_ROOT / "reports" / "test-artifacts"
REPORT_METADATA = nbformat.read(REPORT, as_version=4).metadata  # its kernelspec
# Whatever a page loads from elsewhere: scripts, styles, frames, images, fonts.
REMOTE_SOURCE = re.compile(
    r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", re.I
)


@pytest.fixture(scope="module")
def example() -> Iterator[tuple[str, list[str]]]:
    """The example warehouse (two runs) and its run ids, oldest first."""
    import duckdb

    with example_warehouse(Project.load(REPO_ROOT)) as target:
        path = target.removeprefix("duckdb://")
        with duckdb.connect(path, read_only=True) as con:
            ids = [row[0] for row in con.sql("SELECT run_id FROM _wk.runs ORDER BY 1").fetchall()]
        yield target, ids


@pytest.fixture(scope="module")
def first_run_report(example, tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`wk report notebooks/pipeline_report.ipynb -p run_id <the first run>`."""
    target, ids = example
    project = tmp_path_factory.mktemp("project")  # its reports/ receives the files
    result = wk(
        "report", str(REPORT), "-p", "run_id", ids[0], "--target", target, "--project", str(project)
    )
    return result, project


def test_a_report_is_a_notebook_and_an_html_page_in_reports(first_run_report, example):
    result, project = first_run_report
    assert result.returncode == 0, result.stderr
    notebook, html = (Path(line) for line in result.stdout.split())
    assert notebook.parent == project / "reports"
    assert html == notebook.with_suffix(".html")
    assert re.fullmatch(r"pipeline_report-\d{8}T\d{6}\.ipynb", notebook.name)
    executed = nbformat.read(notebook, as_version=4)
    injected = next(
        c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert f'run_id = "{example[1][0]}"' in injected.source
    assert "target" not in injected.source  # it may hold a password: it goes as WK_TARGET
    text = html.read_text()
    assert f"run {example[1][0]} of experiments_pipeline and retail_pipeline: success" in text
    assert "open_warehouse(" not in text  # code cells are hidden by default


def test_a_report_masks_personal_data_unless_asked_and_recorded(first_run_report, example):
    import duckdb

    # Customer 4's quarantined email is jonas..rossi@@example: the report shows its domain.
    _, project = first_run_report
    masked = next((project / "reports").glob("*.html")).read_text()
    assert "***@@example" in masked
    assert "rossi" not in masked.lower()
    target, ids = example
    made = report(
        REPORT,
        parameters={"run_id": ids[0]},
        target=target,
        project=Project.load(REPO_ROOT),
        out_dir=project / "unmasked",
        unmask=True,
    )
    assert "jonas..rossi@@example" in made.html.read_text()
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        recorded = con.sql("SELECT user_name, command, table_name FROM _wk.unmasked").fetchall()
    assert len(recorded) == 1
    assert recorded[0][1:] == (f"wk report {REPORT}", "*")


def test_the_html_loads_nothing_from_the_network(first_run_report):
    html = Path(first_run_report[0].stdout.split()[1]).read_text()
    assert not REMOTE_SOURCE.search(html), REMOTE_SOURCE.search(html)
    assert "<script" not in html  # no require.js, MathJax, Mermaid or widget loader
    assert html.count('src="data:image/svg+xml;base64,') == 2  # the two charts, inline


def test_the_html_shows_its_charts_in_chromium_without_a_network(first_run_report):
    html = Path(first_run_report[0].stdout.split()[1])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(html.as_uri(), width=1200, height=900, offline=True) as (page, elsewhere):
        charts = page.locator("img[src^='data:image/svg+xml']")
        assert charts.count() == 2
        for index in range(charts.count()):
            chart = charts.nth(index)
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 150
            shot = ARTIFACTS / f"pipeline_report-chart-{index + 1}.png"
            chart.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
            stats = pixel_stats(page, shot.read_bytes())
            # A blank or broken image is one colour; a chart has axes, bars, lines, text.
            assert stats["colours"] > 20, (shot, stats)
            assert stats["inked"] > 0.02, (shot, stats)
        page.screenshot(path=str(ARTIFACTS / "pipeline_report.png"), full_page=True)
        print(f"screenshot: {ARTIFACTS / 'pipeline_report.png'}")
    assert elsewhere == []  # nothing but the report file itself


PIXEL_STATS = """async (png) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const colours = new Set();
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (data[i] + data[i + 1] + data[i + 2] < 600) inked++;
  }
  return {colours: colours.size, inked: inked / (data.length / 4)};
}"""


def pixel_stats(page, png: bytes) -> dict[str, float]:
    """How many colours a PNG has and the share of its pixels that are not near-white,
    decoded by the browser itself (no imaging library needed)."""
    stats: dict[str, float] = page.evaluate(PIXEL_STATS, base64.b64encode(png).decode())
    return stats


def test_show_code_keeps_the_code_cells(example, tmp_path):
    target, _ = example
    made = report(REPORT, target=target, show_code=True, project=tmp_path)
    html = made.html.read_text()
    assert "open_warehouse" in html
    assert "NBVAL_CHECK_OUTPUT" in html
    assert not REMOTE_SOURCE.search(html)


def test_an_unknown_parameter_lists_the_notebooks_parameters(tmp_path):
    result = wk("report", str(REPORT), "-p", "runid", "x", "--project", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {REPORT}: unknown parameter 'runid'; did you mean 'run_id'? "
        "its parameters are: target, pipeline, run_id, unmask"
    ]
    assert not (tmp_path / "reports").exists()  # nothing ran


def test_a_failing_cell_exits_non_zero_naming_it_and_keeps_the_partial_notebook(tmp_path):
    missing = f"duckdb://{tmp_path}/nothing-here.duckdb"
    result = wk("report", str(REPORT), "--target", missing, "--project", str(tmp_path))
    assert result.returncode == 1
    *progress, line = result.stderr.strip().splitlines()
    assert all(step.startswith("running ") for step in progress), result.stderr
    assert line.startswith(
        f"error: {REPORT}: cell In [2] (line 15: with open_warehouse(target) as warehouse:) "
        f"failed: WarehouseKitError: no warehouse at {tmp_path}/nothing-here.duckdb: "
        "run `wk run` first; the partial notebook is "
    )
    partial = Path(line.rsplit(" ", 1)[1])
    assert partial.parent == tmp_path / "reports"
    assert partial.exists()
    errors = [
        output
        for cell in nbformat.read(partial, as_version=4).cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert [e.ename for e in errors] == ["WarehouseKitError"]
    assert not partial.with_suffix(".html").exists()
    assert not (tmp_path / "nothing-here.duckdb").exists()  # reading never creates a warehouse


def test_a_kernel_that_dies_is_one_line_and_keeps_the_partial_notebook(tmp_path):
    notebook = tmp_path / "dies.ipynb"
    cell = nbformat.v4.new_code_cell("import os\nos._exit(3)  # as a crash would")
    nbformat.write(nbformat.v4.new_notebook(cells=[cell], metadata=REPORT_METADATA), notebook)
    result = wk("report", str(notebook), "--project", str(tmp_path))
    assert result.returncode == 1
    *progress, line = result.stderr.strip().splitlines()
    assert all(step.startswith("running ") for step in progress), result.stderr
    assert line.startswith(
        f"error: {notebook}: the kernel died while running it; the partial notebook is "
    )
    assert Path(line.rsplit(" ", 1)[1]).exists()


KPI_REPORT = REPO_ROOT / "notebooks" / "kpi_report.ipynb"


def test_the_kpi_report_reads_as_a_report(example, tmp_path):
    target, _ = example
    made = report(
        KPI_REPORT, parameters={"start": "2024-07-01", "grain": "quarter"}, target=target,
        project=Project.load(REPO_ROOT), out_dir=tmp_path,
    )  # fmt: skip
    html = made.html.read_text()
    assert "2024-Q3" in html
    assert "Jul 07" not in html  # a quarter is named as one, not by its first day
    assert re.search(r">\$\d{1,3}(,\d{3})*\.\d\d<", html)  # money with separators and cents
    assert re.search(r">[+-]\d+\.\d%<", html)  # changes as percentages
    assert re.search(r"data as of \d{4}-\d\d-\d\d \d\d:\d\d UTC", html)
    assert "row_heading" not in html  # no index column in any table
    assert "wk report" not in html
    assert "the dimension's unknown member, key -1" in html


def test_an_empty_window_is_one_line_naming_it_and_the_data(example, tmp_path):
    from warehouse_kit.analytics.metrics import load
    from warehouse_kit.analytics.metrics.summary import data_span

    target, _ = example
    span = data_span("revenue", load(REPO_ROOT), target=target)
    assert span is not None
    result = wk(
        "report", str(KPI_REPORT), "-p", "start", "2030-01-01", "-p", "end", "2031-01-01",
        "--target", target, "--project", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1
    last = date.fromordinal(span[1].toordinal() - 1)
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {KPI_REPORT}: no revenue data from 2030-01-01 to 2030-12-31: the data covers "
        f"{span[0]:%Y-%m-%d} to {last:%Y-%m-%d}; pick start and end within it"
    )
    assert "altair" not in result.stderr.lower()


def test_parameters_take_the_type_of_their_default(tmp_path):
    notebook = tmp_path / "n.ipynb"
    source = "limit = 10\nshare = 0.5\nverbose = False\nname = 'x'\nrun_id = None"
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[cell], metadata=kernel), notebook)
    pairs = [("limit", "3"), ("share", "0.25"), ("verbose", "true"), ("name", "7"), ("run_id", "a")]
    assert parse_parameters(notebook, pairs) == {
        "limit": 3,
        "share": 0.25,
        "verbose": True,
        "name": "7",
        "run_id": "a",
    }
    assert parse_parameters(notebook, [("name", "None")]) == {"name": None}
    with pytest.raises(ReportError, match="parameter limit: 'many' is not a int"):
        parse_parameters(notebook, [("limit", "many")])


def test_a_missing_notebook_is_one_line(tmp_path):
    result = wk("report", "notebooks/nope.ipynb", "--project", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no notebook notebooks/nope.ipynb"


def test_report_and_notebooks_refresh_describe_themselves():
    for command in (["report"], ["notebooks"], ["notebooks", "refresh"]):
        result = wk(*command, "--help")
        assert result.returncode == 0
        assert "Usage" in result.stdout
