"""`wk lab`: JupyterLab on the project's notebooks with this venv's kernel, as a user meets it.

The server is `wk lab` itself, started on a copy of the example project whose warehouse is
built where warehouse.yml says: a notebook finds it by walking up from its folder, as after
`wk run`. The browser test opens the tour through Lab's UI in Debian's chromium and runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from conftest import REPO_ROOT, ExampleCopies, chromium_page
from servers import free_port, served, stop, wk_command
from warehouse_kit.apps.lab import ROOT_NOTE, launch
from warehouse_kit.core.project import Project

TOKEN = "wk-lab-test"
TOUR = "warehouse_tour.ipynb"


@pytest.mark.parametrize("as_root", [False, True])
def test_lab_serves_notebooks_with_this_python(tmp_path: Path, as_root: bool) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "warehouse.yml").write_text("name: lab\n")
    project = Project.load(tmp_path)
    how = launch(project, port=8899, open_browser=False, as_root=as_root, environ={})
    assert how.command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path / 'notebooks'}" in how.command
    assert how.command[4:6] == ["--port=8899", "--no-browser"]
    assert ("--allow-root" in how.command) is as_root
    assert how.note == (ROOT_NOTE if as_root else None)
    assert how.environment["PATH"] == str(Path(sys.executable).parent)
    assert how.environment["JUPYTER_PREFER_ENV_PATH"] == "1"
    assert how.cwd == tmp_path


@dataclass
class Lab:
    """A `wk lab` server on a copy of the example project."""

    url: str
    root: Path  # the project
    log: Path  # what it printed on stderr
    runtime: Path  # Jupyter's runtime folder: a running kernel's connection file is there
    server: subprocess.Popen[bytes]

    def get(self, path: str) -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"token {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, example_copies: ExampleCopies) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    for name in ("warehouse.yml", "pipelines", "analytics", "notebooks"):
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    built = example_copies.template("duckdb").removeprefix("duckdb:///")
    shutil.copyfile(built, root / "warehouse.duckdb")  # where warehouse.yml's target points
    jupyter = tmp_path_factory.mktemp("jupyter")  # Jupyter's files, not the user's settings
    environment = {key: value for key, value in os.environ.items() if key != "WK_TARGET"}
    environment |= {
        "JUPYTER_TOKEN": TOKEN,
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = wk_command("lab", f"--port={port}", "--no-browser")
    log = jupyter / "lab.log"
    with served(command, f"{url}/api", cwd=root, env=environment, log=log) as server:
        yield Lab(url, root, log, jupyter / "runtime", server)


def test_wk_lab_serves_the_notebooks_folder_with_the_python3_kernel(lab: Lab) -> None:
    contents = lab.get("/api/contents")["content"]
    assert {TOUR, "kpi_report.ipynb"} <= {item["name"] for item in contents}
    assert lab.get("/api/kernelspecs")["default"] == "python3"
    first = lab.log.read_text().splitlines()[0]
    assert (first == ROOT_NOTE) is (os.geteuid() == 0)  # as root, it says it passed --allow-root


def code_cells(notebook: Path) -> list[str]:
    """The source of each code cell of `notebook`."""
    cells = nbformat.read(notebook, as_version=4).cells
    return [cell.source for cell in cells if cell.cell_type == "code"]


def chart_cells(notebook: Path) -> int:
    """The code cells of `notebook` that draw a chart (a line calling a `charts.` builder)."""
    return sum(
        any(
            line.startswith("charts.") and line != "charts.enable()" for line in source.splitlines()
        )
        for source in code_cells(notebook)
    )


def wait_for_a_kernel(lab: Lab, timeout_s: float = 30) -> None:
    """Until the server has one kernel, idle, with Lab connected to it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kernels = lab.get("/api/kernels")
        if [(k["execution_state"], k["connections"] > 0) for k in kernels] == [("idle", True)]:
            return
        time.sleep(0.3)
    pytest.fail(f"no kernel ready in {timeout_s} s: {kernels}")


@pytest.mark.slow
def test_the_tour_runs_in_jupyterlab_and_draws_its_charts(lab: Lab) -> None:
    """Last in this module: it stops the server, and sees the kernel stop with it."""
    from playwright.sync_api import expect

    tour = lab.root / "notebooks" / TOUR
    with chromium_page(f"{lab.url}/lab/tree/{TOUR}?token={TOKEN}") as (page, elsewhere):
        notebook = page.locator(".jp-NotebookPanel")
        prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
        expect(prompts).to_have_count(len(code_cells(tour)), timeout=30_000)
        wait_for_a_kernel(lab)  # its python3 kernel, started on opening it, and connected
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
        expect(idle).to_be_visible(timeout=30_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()  # the menu bar's
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        errors = notebook.locator(".jp-OutputArea-output[data-mime-type*='stderr']")
        wait_for_the_run(prompts, errors, idle)
        assert errors.count() == 0, "\n".join(errors.all_inner_texts())
        charts = notebook.locator(".jp-OutputArea-output[data-mime-type='image/svg+xml'] img")
        assert charts.count() == chart_cells(tour) == 2
        for chart in charts.all():
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            assert box is not None
            assert box["width"] > 300
            assert box["height"] > 150
        page.screenshot(path=str(REPO_ROOT / "reports" / "test-artifacts" / "lab.png"))
        (kernel,) = lab.get("/api/kernels")
        assert (kernel["name"], kernel["execution_state"]) == ("python3", "idle")
    assert elsewhere == []  # Lab and the charts come from the server, not the network

    connection = lab.runtime / f"kernel-{kernel['id']}.json"
    assert connection.exists()
    assert kernel_processes(connection)
    stop(lab.server)
    assert lab.server.returncode == 0, lab.log.read_text()
    assert not connection.exists()  # the server shut the kernel down and cleaned up after it
    assert not kernel_processes(connection)


def wait_for_the_run(prompts: Any, errors: Any, idle: Any, timeout_s: float = 60) -> None:
    """Until every code cell has run (its prompt has a count: ``[ ]`` is not run, ``[*]``
    queued or running) and the kernel is idle, or a cell printed an error."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if errors.count():
            return
        waiting = prompts.filter(has_text="[ ]").count() + prompts.filter(has_text="[*]").count()
        if not waiting and idle.count():
            return
        time.sleep(0.5)
    pytest.fail(f"the cells did not all run in {timeout_s} s: {prompts.all_inner_texts()}")


def kernel_processes(connection: Path) -> list[int]:
    """The processes started with `connection` as their kernel connection file."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # not a process, or gone
        if str(connection).encode() in command:
            found.append(int(proc.name))
    return found
