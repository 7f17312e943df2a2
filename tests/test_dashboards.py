"""Dashboards: the marimo apps in notebooks/apps/ and the data behind them (dashboards.py).

The apps show what `metrics.query` and the run history say, read the warehouse
only while they refresh (so `wk run` can write while one is up), and change
their charts when a picker changes.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from conftest import chromium_page, wk
from servers import dashboard
from warehouse_kit.analytics import experiments, metrics
from warehouse_kit.analytics.metrics import display, summary
from warehouse_kit.apps import dashboards, experiments_dashboard, health_dashboard
from warehouse_kit.apps.notebooks_refresh import example_warehouse
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.project import Project
from warehouse_kit.core.runner import run

REPO_ROOT = Path(__file__).resolve().parent.parent
APPS = REPO_ROOT / "notebooks" / "apps"
ARTIFACTS = REPO_ROOT / "reports" / "test-artifacts"


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    """The example warehouse (two runs), built once for the module."""
    with example_warehouse(Project.load(REPO_ROOT)) as url:
        yield url


@pytest.fixture
def wk_target(target: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """WK_TARGET pointing at the example, as `wk dashboard` sets it for an app."""
    monkeypatch.setenv("WK_TARGET", target)
    return target


def kpis_per(grain: str, target: str, **options: Any) -> pd.DataFrame:
    """What `metrics.query` says, per period, for the dashboard's KPIs."""
    expr = metrics.query(
        list(dashboards.KPIS), grain=grain, compare="previous_period",
        project=REPO_ROOT, target=target, **options,
    )  # fmt: skip
    frame = expr.to_pandas()
    return frame[frame[grain].notna()].sort_values(grain, ignore_index=True)


def load_app(name: str) -> Any:
    """The marimo `app` of notebooks/apps/NAME.py."""
    spec = importlib.util.spec_from_file_location(f"wk_app_{name}", APPS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


# --- the data behind the KPI dashboard -------------------------------------------------


def test_each_tile_is_the_latest_period_of_metrics_query_with_its_change(target):
    view = dashboards.kpi_view(grain="month", project=REPO_ROOT, target=target)
    latest = kpis_per("month", target).iloc[-1]
    assert [tile.metric for tile in view.tiles] == list(dashboards.KPIS)
    for tile in view.tiles:
        assert tile.value == pytest.approx(float(latest[tile.metric]))
        assert tile.previous == pytest.approx(float(latest[f"{tile.metric}_previous_period"]))
        assert tile.change == pytest.approx(latest[f"{tile.metric}_previous_period_change"])
        assert tile.period == f"{latest['month']:%b %Y}"
    revenue = view.tiles[0]
    assert revenue.label == "Revenue"
    assert revenue.value_text == f"${revenue.value:,.2f}"
    assert revenue.direction == ("increase" if revenue.change > 0 else "decrease")
    assert f"{revenue.change:+.1%} on the month before" in revenue.caption


def test_the_trend_has_a_row_per_period_of_the_grain_within_the_dates(target):
    dates = (date(2023, 4, 1), date(2023, 12, 31))
    quarters = dashboards.kpi_view(grain="quarter", dates=dates, project=REPO_ROOT, target=target)
    assert list(quarters.trend["quarter"].dt.date) == [
        date(2023, 4, 1), date(2023, 7, 1), date(2023, 10, 1),
    ]  # fmt: skip
    expected = kpis_per("quarter", target, start="2023-04-01", end="2024-01-01")
    assert list(quarters.trend["revenue"]) == pytest.approx(list(expected["revenue"].astype(float)))
    assert quarters.tiles[0].period == "2023-Q4"
    months = dashboards.kpi_view(grain="month", dates=dates, project=REPO_ROOT, target=target)
    assert len(months.trend) == 9


def test_the_breakdown_splits_the_whole_range_by_the_chosen_column(target):
    view = dashboards.kpi_view(by="category", project=REPO_ROOT, target=target)
    total = metrics.query("revenue", project=REPO_ROOT, target=target).to_pandas()
    assert view.by == "category"
    assert list(view.breakdown.columns) == ["category", *dashboards.KPIS]
    assert view.breakdown["revenue"].sum() == pytest.approx(float(total["revenue"][0]))
    assert list(view.breakdown["revenue"]) == sorted(view.breakdown["revenue"], reverse=True)


def test_facts_without_a_value_of_the_breakdown_column_are_one_named_group(target):
    view = dashboards.kpi_view(by="segment", project=REPO_ROOT, target=target)
    assert view.breakdown["segment"].notna().all()
    assert view.breakdown["segment"].is_unique


def test_the_unknown_group_is_explained_with_its_share_where_shares_add_up(target):
    view = dashboards.kpi_view(by="category", project=REPO_ROOT, target=target)
    unknown = view.breakdown[view.breakdown["category"] == "Unknown"]
    assert len(unknown) == 1  # the example's sales of products missing from dim_product
    share = float(unknown["revenue"].iloc[0]) / view.breakdown["revenue"].sum()
    assert view.unknown_note("revenue") == (
        "Unknown: sales whose product was not found in the product dimension when they were "
        f"loaded (the dimension's unknown member, key -1): {share:.1%} of revenue."
    )
    assert view.unknown_note("aov").endswith("key -1).")  # an average's groups do not add up
    segments = dashboards.kpi_view(by="segment", project=REPO_ROOT, target=target)
    assert "whose customer was not found" in segments.unknown_note("orders")


def test_the_sql_shown_is_the_sql_the_warehouse_runs(target):
    view = dashboards.kpi_view(grain="week", by="country", project=REPO_ROOT, target=target)
    assert set(view.sql) == {"trend", "breakdown"}
    assert "DATE_TRUNC('WEEK'" in view.sql["trend"]
    assert '"country"' in view.sql["breakdown"]
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        rows = con.sql(view.sql["trend"]).fetchall()
    assert len(rows) == len(view.trend)


def test_the_date_picker_spans_the_days_with_orders(target):
    first, last = dashboards.date_span(REPO_ROOT, target)
    days = metrics.query("orders", grain="day", project=REPO_ROOT, target=target).to_pandas()
    days = days[days["day"].notna()]
    assert (first, last) == (days["day"].min().date(), days["day"].max().date())


def test_a_period_is_labelled_as_people_name_it():
    day = date(2024, 2, 12)
    labels = [display.period_label(day, grain) for grain in dashboards.GRAINS]
    assert labels == ["2024-02-12", "2024-W07", "Feb 2024", "2024-Q1", "2024"]


def test_one_date_range_for_tiles_trend_and_breakdown_by_whole_periods(target):
    """Dates cutting a quarter in two cover the whole quarter everywhere on the dashboard."""
    dates = (date(2024, 8, 15), date(2024, 12, 31))  # mid Q3 to the end of Q4
    view = dashboards.kpi_view(
        grain="quarter", dates=dates, by="segment", project=REPO_ROOT, target=target
    )
    assert view.window == (date(2024, 7, 1), date(2025, 1, 1))
    assert "whole quarters: 2024-07-01 to 2024-12-31" in view.window_note
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        (finished,) = con.sql("SELECT max(finished_at) FROM _wk.runs").fetchone() or (None,)
    assert view.window_note.endswith(f"rounded out). Data as of {finished:%Y-%m-%d %H:%M} UTC.")
    for name in ("revenue", "orders"):
        assert view.breakdown[name].sum() == pytest.approx(view.trend[name].sum())


def test_dates_without_data_are_one_message_not_empty_tiles(target):
    with pytest.raises(summary.EmptyWindow, match=r"^no revenue data from 2030-01-01 to .*covers"):
        dashboards.kpi_view(
            dates=(date(2030, 1, 1), date(2030, 6, 30)), project=REPO_ROOT, target=target
        )


# --- the data behind the pipeline health dashboard -------------------------------------


def test_pipeline_health_lists_the_last_runs_newest_first(target):
    health = health_dashboard.pipeline_health(project=REPO_ROOT, target=target)
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        ids = [r[0] for r in con.sql("SELECT run_id FROM _wk.runs ORDER BY 1 DESC").fetchall()]
        count = "SELECT count(*) FROM _wk.{} WHERE {}"
        models_in_latest = con.sql(count.format("model_runs", f"run_id = '{ids[0]}'")).fetchall()
        set_aside = con.sql(
            "SELECT run_id, sum(rows_quarantined) FROM _wk.model_runs GROUP BY 1 ORDER BY 1 DESC"
        ).fetchall()
    assert list(health.runs["run_id"]) == ids
    assert list(health.runs.columns) == health_dashboard.RUN_COLUMNS
    assert (health.runs["status"] == "success").all()
    assert (health.runs["duration_s"] > 0).all()
    assert health.runs["models"].iloc[0] == models_in_latest[0][0]
    runs = health.runs[["run_id", "rows_set_aside"]]
    assert list(runs.itertuples(index=False, name=None)) == set_aside
    assert health.latest.run_id == ids[0]
    assert len(health.timings) == models_in_latest[0][0]
    assert set(health.row_counts["run_id"]) == set(ids)
    assert health.alerts.empty  # no monitor has recorded any alert in the example


def test_quarantines_doing_their_job_are_set_aside_not_failures(target):
    """The example's quarantine checks catch bad rows as designed: set aside, not failed."""
    health = health_dashboard.pipeline_health(project=REPO_ROOT, target=target)
    with duckdb.connect(target.removeprefix("duckdb://"), read_only=True) as con:
        not_passed = con.sql(
            "SELECT action, status, count(*) FROM _wk.check_results WHERE status <> 'pass' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert not_passed == [("quarantine", "fail", 4), ("warn", "warn", 2)]
    assert health.failures.empty
    assert list(health.warnings["check"].unique()) == ["order_date_parsed"]
    assert len(health.warnings) == 2
    assert set(health.set_aside["action"]) == {"quarantine"}
    assert len(health.set_aside) == 4
    assert health.set_aside["failing_rows"].sum() == health.runs["rows_set_aside"].sum()


def test_runs_seconds_apart_are_labelled_to_the_second():
    started = pd.Series(
        pd.to_datetime(["2025-03-03 10:00:01.250", "2025-03-03 10:00:04"], format="ISO8601")
    )
    assert list(health_dashboard.run_labels(started)) == ["10:00:01", "10:00:04"]
    same_second = pd.Series(pd.to_datetime(["2025-03-03 10:00:01.250", "2025-03-03 10:00:01.9"]))
    assert list(health_dashboard.run_labels(same_second)) == ["10:00:01.250", "10:00:01.900"]
    days_apart = pd.Series(pd.to_datetime(["2025-03-03 10:00:01", "2025-03-04 09:00:00"]))
    assert list(health_dashboard.run_labels(days_apart)) == ["Mar 03 10:00:01", "Mar 04 09:00:00"]


def test_monitors_and_the_alerts_they_sent_are_shown(target, tmp_path):
    from warehouse_kit.core import state, state_incidents
    from warehouse_kit.core.backends import connect

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(target.removeprefix("duckdb://"), path)
    warehouse = connect(f"duckdb://{path}")
    try:
        state.ensure(warehouse)
        for sent_at, kind in (("2025-03-03 10:00", "firing"), ("2025-03-04 10:00", "resolved")):
            state_incidents.record_alert(
                warehouse,
                {
                    "sent_at": pd.Timestamp(sent_at).to_pydatetime(), "pipeline": "retail_pipeline",
                    "monitor": "volume gold.fact_orders", "incident_id": "i1", "kind": kind,
                    "channel": "webhook", "recipient": "https://hooks.example/***",
                    "message": kind, "status": "delivered", "error": None, "attempts": 1,
                },
            )  # fmt: skip
    finally:
        warehouse.close()
    health = health_dashboard.pipeline_health(project=REPO_ROOT, target=f"duckdb://{path}")
    assert health.alerts["kind"].tolist() == ["resolved", "firing"]  # newest first
    monitors = health.monitors.set_index("monitor")
    # The example's monitors (pipelines/seeds-to-warehouse.yml), as the run store has them.
    assert monitors.loc["quality_threshold silver.order_items", "status"] == "ok"
    reason = monitors.loc["quality_threshold silver.order_items", "reason"]
    assert reason.startswith("silver.order_items quarantined 39 of 3,332 rows (1.2%)")
    assert monitors.loc["volume gold.fact_orders", "status"] == "unknown"  # too few builds


def test_pipeline_health_keeps_only_the_runs_asked_for(target):
    health = health_dashboard.pipeline_health(runs=1, project=REPO_ROOT, target=target)
    assert len(health.runs) == 1
    assert set(health.set_aside["run_id"]) == {health.latest.run_id}


def test_a_warehouse_never_built_says_run_wk_run_first(tmp_path):
    with pytest.raises(WarehouseKitError, match="run `wk run` first"):
        health_dashboard.pipeline_health(
            project=REPO_ROOT, target=f"duckdb:///{tmp_path}/none.duckdb"
        )


# --- the apps, headless ----------------------------------------------------------------


def test_the_kpi_app_runs_headless_and_its_tiles_are_the_metrics(wk_target):
    outputs, defs = load_app("kpi_dashboard").run()
    view = defs["view"]
    assert (view.grain, view.by) == ("month", "segment")  # the pickers' defaults
    latest = kpis_per("month", wk_target).iloc[-1]
    html = "".join(getattr(output, "text", "") for output in outputs)
    for tile in view.tiles:
        assert tile.value == pytest.approx(float(latest[tile.metric]))
        shown = tile.value_text.replace("$", "&#36;")  # marimo escapes the dollar sign
        assert f"data-value='&quot;{shown}&quot;'" in html
        assert f"data-label='&quot;{tile.label}&quot;'" in html
    charts = [output for output in outputs if type(output).__name__ == "Chart"]
    assert [chart.title for chart in charts] == ["Revenue per month", "Revenue by segment"]
    assert "SQL of the trend" in html
    assert view.window_note in html  # one date range for tiles, trend and breakdown, said once
    assert "Unknown: sales whose customer was not found" in html


def test_the_pipeline_health_app_runs_headless(wk_target):
    outputs, defs = load_app("pipeline_health").run()
    health = defs["health"]
    html = "".join(getattr(output, "text", "") for output in outputs)
    assert health.latest.run_id in html
    assert "Quality checks that failed (0)" in html
    assert f"Rows set aside as designed ({len(health.set_aside)})" in html
    assert "Alerts" not in html  # nothing recorded, nothing shown
    rows = next(output for output in outputs if type(output).__name__ == "FacetChart").to_dict()
    assert rows["resolve"] == {"scale": {"y": "independent"}}  # a scale per table
    assert rows["spec"]["encoding"]["x"]["sort"] == health.run_order == sorted(health.run_order)
    assert len(set(health.run_order)) == len(health.runs)  # runs seconds apart stay apart
    started = health.runs["started_at"].iloc[0]  # the table: times to the second, no dtypes
    assert f"{started:%Y-%m-%d %H:%M:%S}&#92;&quot;" in html
    assert "data-show-data-types='false'" in html


def test_the_experiments_app_shows_relative_lifts_as_percentages(wk_target):
    outputs, defs = load_app("experiments").run()
    lifts = defs["view"].lifts.set_index("label")
    html = "".join(getattr(output, "text", "") for output in outputs)
    low, relative = lifts.loc["conversion", ["relative_ci_low", "relative"]]
    assert f"&#92;&quot;relative&#92;&quot;:&#92;&quot;{relative:+.1%}&#92;&quot;" in html
    assert f"{low:+.1%}" in html
    assert f"{lifts.loc['conversion', 'control_value']:.4g}&#92;&quot;" in html


# --- the experiments dashboard ---------------------------------------------------------


def test_the_experiment_picker_lists_the_projects_experiments():
    assert experiments_dashboard.experiment_keys(REPO_ROOT) == [
        "checkout_redesign",
        "new_onboarding",
    ]


def test_an_experiment_shows_its_analysis_and_its_primary_metric_day_by_day(target):
    view = experiments_dashboard.experiment_view(
        "checkout_redesign", project=REPO_ROOT, target=target
    )
    fixed = experiments.analyze("checkout_redesign", project=REPO_ROOT, target=target)
    final = experiments.analyze(
        "checkout_redesign", project=REPO_ROOT, target=target, engine="sequential"
    ).comparison("conversion")
    assert not view.result.sample_ratio_mismatch
    assert list(view.lifts["label"]) == [metric.name for metric in view.experiment.metrics]
    assert list(view.lifts["relative"]) == pytest.approx(list(fixed.to_frame()["relative"]))
    assert view.lifts.set_index("label").loc["conversion", "verdict"] == "better"
    assert view.conclusion == fixed.conclusion()
    assert "ship it" in view.conclusion
    daily = view.daily
    assert daily is not None
    assert set(daily["metric"]) == {"conversion"}
    assert [day.isoformat() for day in daily["day"]] == [f"2025-03-{d:02}" for d in range(3, 17)]
    assert daily["units"].is_monotonic_increasing
    last = daily.iloc[-1]  # the path ends where the sequential analysis of all the data is
    assert (last["relative_ci_low"], last["relative_ci_high"]) == pytest.approx(final.relative_ci)


def test_an_experiment_with_a_sample_ratio_mismatch_says_not_to_use_it(target):
    view = experiments_dashboard.experiment_view("new_onboarding", project=REPO_ROOT, target=target)
    assert view.result.sample_ratio_mismatch
    assert view.conclusion.startswith("Do not use these results: the sample ratio is off")
    assert view.daily is None  # no sequential settings: no always-valid path


# --- a dashboard and a writer ----------------------------------------------------------

DASHBOARD_PROCESS = textwrap.dedent(
    """
    import sys, time
    from warehouse_kit.apps import dashboards, health_dashboard

    for line in sys.stdin:  # one refresh per line, as a browser's picker would ask
        began = time.monotonic()
        health = health_dashboard.pipeline_health(project={root!r})
        view = dashboards.kpi_view(project={root!r})
        print(len(health.runs), len(view.tiles), round(time.monotonic() - began, 2), flush=True)
    """
)


@pytest.fixture
def dashboard_process(target, tmp_path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A process that refreshes dashboards on a copy of the example, per line of stdin."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(target.removeprefix("duckdb://"), path)
    process = subprocess.Popen(
        [sys.executable, "-c", DASHBOARD_PROCESS.format(root=str(REPO_ROOT))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "WK_TARGET": f"duckdb://{path}"},
    )
    try:
        yield process, path
    finally:
        process.kill()
        process.wait(timeout=10)


def refresh(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write("refresh\n")
    process.stdin.flush()
    return process.stdout.readline().split()


def test_a_pipeline_runs_while_a_dashboard_is_up_and_the_next_refresh_shows_it(
    dashboard_process,
):
    process, path = dashboard_process
    assert refresh(process)[:2] == ["2", "4"]  # the dashboard has read, and is still up
    result = run(REPO_ROOT, target=f"duckdb://{path}")  # the writer, in this process
    assert result.ok, [failure.error for failure in result.failures()]
    assert refresh(process)[:2] == ["3", "4"]


def test_a_refresh_while_a_pipeline_writes_waits_for_it(dashboard_process):
    process, path = dashboard_process
    assert refresh(process)[:2] == ["2", "4"]  # up and ready
    with duckdb.connect(str(path)) as writer:  # holds the file as `wk run` does
        writer.execute("SELECT 1")
        assert process.stdin is not None
        process.stdin.write("refresh\n")
        process.stdin.flush()
        time.sleep(1.0)  # the writer's run goes on for a while
    assert process.stdout is not None
    runs, tiles, seconds = process.stdout.readline().split()
    assert (runs, tiles) == ("2", "4")
    assert float(seconds) >= 0.9


# --- wk dashboard ----------------------------------------------------------------------


def test_an_unknown_dashboard_is_one_line_listing_the_apps():
    result = wk("dashboard", "kpi_dashbord")
    assert result.returncode == 1
    assert result.stderr == (
        "error: no dashboard 'kpi_dashbord' in notebooks/apps/; did you mean 'kpi_dashboard'? "
        "the dashboards: experiments, kpi_dashboard, pipeline_health\n"
    )


def test_the_apps_are_the_python_files_of_notebooks_apps():
    assert dashboards.apps(REPO_ROOT) == {
        "experiments": APPS / "experiments.py",
        "kpi_dashboard": APPS / "kpi_dashboard.py",
        "pipeline_health": APPS / "pipeline_health.py",
    }


# --- in a browser ----------------------------------------------------------------------


@pytest.fixture
def served_kpi_dashboard(target) -> Iterator[str]:
    with dashboard("kpi_dashboard", target) as url:
        yield url


def points_of(svg_data_url: str) -> int:
    """How many points a line chart (inline SVG, as vl-convert draws it) has."""
    svg = base64.b64decode(svg_data_url.split(",", 1)[1]).decode()
    symbols = re.search(r'class="mark-symbol role-mark[^"]*"[^>]*>(.*?)</g>', svg, re.S)
    assert symbols is not None, "no points in the chart"
    return symbols.group(1).count("<path")


@pytest.mark.slow
def test_changing_the_grain_in_a_browser_redraws_the_trend(served_kpi_dashboard, target):
    from playwright.sync_api import expect

    months, quarters = len(kpis_per("month", target)), len(kpis_per("quarter", target))
    with chromium_page(served_kpi_dashboard) as (page, elsewhere):
        trend = page.locator("img[src^='data:image/svg+xml']").first
        expect(trend).to_be_visible(timeout=30_000)
        expect(page.locator("marimo-stat")).to_have_count(len(dashboards.KPIS))
        before = trend.get_attribute("src") or ""
        assert points_of(before) == months

        page.locator("select").first.select_option("quarter")
        expect(trend).not_to_have_attribute("src", before, timeout=30_000)
        after = trend.get_attribute("src") or ""
        assert points_of(after) == quarters
        expect(page.get_by_text("on the quarter before").first).to_be_visible()
        # Every cell has redrawn: none shows a stale output any more.
        expect(page.locator(".marimo-output-stale")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "kpi_dashboard.png"), full_page=True)
        print(f"screenshot: {ARTIFACTS / 'kpi_dashboard.png'}")
    assert elsewhere == []  # nothing from the network: the app and its charts are local


@pytest.mark.slow
def test_picking_an_experiment_in_a_browser_shows_its_analysis(target):
    from playwright.sync_api import expect

    with dashboard("experiments", target) as url, chromium_page(url) as (page, elsewhere):
        charts = page.locator("img[src^='data:image/svg+xml']")
        expect(charts).to_have_count(2, timeout=30_000)  # the lifts, and the day-by-day path
        expect(page.get_by_text("Sample ratio OK")).to_be_visible()
        expect(page.get_by_text("ship it", exact=False)).to_be_visible()

        page.locator("select").first.select_option("new_onboarding")
        expect(page.get_by_text("SAMPLE RATIO MISMATCH: do not trust")).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text("has no sequential settings", exact=False)).to_be_visible()
        expect(charts).to_have_count(1)  # its lifts only
        expect(page.locator(".marimo-output-stale")).to_have_count(0)
        # A cell that raised: `marimo run` hides its output and says so in a toast.
        expect(page.get_by_text("An internal error occurred")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "experiments.png"), full_page=True)
    assert elsewhere == []  # nothing from the network
