"""Screenshots of every report and dashboard of the example, to compare before and after.

    PYTHONPATH=src python benchmarks/screenshots.py screenshots/after

Builds the example warehouse once, renders each report notebook with `wk report`'s code and
serves each dashboard with `wk dashboard --headless`, and saves a full-page picture of each
through Playwright driving Debian's chromium (nothing is downloaded). A picture is PNG unless
it would pass 400 kB, then JPEG at quality 70.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from warehouse_kit.apps import reports
from warehouse_kit.apps.notebooks_refresh import example_warehouse
from warehouse_kit.core.project import Project

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import chromium  # noqa: E402  (the tests' helpers: Debian's headless Chromium,
from servers import dashboard  # noqa: E402  and `wk dashboard` on a free port)

REPORTS = ["pipeline_report", "kpi_report", "ab_test_analysis", "warehouse_tour"]
DASHBOARDS = ["kpi_dashboard", "pipeline_health", "experiments"]
MAX_BYTES = 400_000


TALLEST = """() => Math.max(...Array.from(document.querySelectorAll("*"), e => e.scrollHeight))"""
"""The height of everything on the page, also where it scrolls inside an element (a marimo
app scrolls in its ``#App``, where a full-page screenshot stops at the window's edge)."""


def save(page: Any, path: Path) -> Path:
    """A picture of all of `page` at `path` (PNG), or beside it as JPEG if too big."""
    window = page.viewport_size
    page.set_viewport_size({"width": window["width"], "height": page.evaluate(TALLEST)})
    try:
        png = page.screenshot(full_page=True, type="png")
        if len(png) <= MAX_BYTES:
            saved, picture = path.with_suffix(".png"), png
        else:
            saved = path.with_suffix(".jpg")
            picture = page.screenshot(full_page=True, type="jpeg", quality=70)
        for stale in (path.with_suffix(".png"), path.with_suffix(".jpg")):
            stale.unlink(missing_ok=True)  # a picture from before, in the other format
        saved.write_bytes(picture)
        return saved
    finally:
        page.set_viewport_size(window)


def settle(page: Any) -> None:
    """Wait for a marimo app to finish drawing: its first chart, then no cell running or
    stale and as many charts as a second before (charts are inline SVG images)."""
    page.wait_for_load_state("networkidle")
    charts = page.locator("img[src^='data:image/svg+xml']")
    charts.first.wait_for(state="visible", timeout=90_000)
    seen, deadline = -1, time.monotonic() + 90
    while time.monotonic() < deadline:
        busy = page.locator(".marimo-output-stale, .marimo-cell-running").count()
        if not busy and charts.count() == seen:
            break
        seen = charts.count()
        time.sleep(1)
    time.sleep(1)  # the last chart paints


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # The reports' kernels and the dashboards run this checkout's code too, whatever the
    # folder they start in (a relative PYTHONPATH=src would not reach them from there).
    paths = [str(ROOT / "src"), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    os.environ["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    project = Project.load(ROOT)
    with (
        example_warehouse(project) as target,
        tempfile.TemporaryDirectory() as folder,
        chromium(width=1280, height=900) as browser,
    ):
        page = browser.new_page()
        for name in REPORTS:
            began = time.monotonic()
            made = reports.report(
                ROOT / "notebooks" / f"{name}.ipynb", target=target, project=project,
                out_dir=Path(folder),
            )  # fmt: skip
            page.goto(made.html.as_uri())
            page.wait_for_load_state("load")
            print(f"{save(page, out / name)}  ({time.monotonic() - began:.1f} s)")
        for name in DASHBOARDS:
            began = time.monotonic()
            with dashboard(name, target) as url:
                page.goto(url)
                settle(page)
                print(f"{save(page, out / name)}  ({time.monotonic() - began:.1f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots" / "after")
