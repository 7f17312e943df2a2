"""`wk ab`: list, analyze, audit and plan, on the example experiments."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import conftest
from warehouse_kit.core.runner import run

REPO_ROOT = Path(__file__).resolve().parent.parent


def wk(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return conftest.wk(*args, cwd=cwd, env={"WK_TARGET": None})


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb:///{tmp_path_factory.mktemp('ab-cli')}/warehouse.duckdb"
    assert run(REPO_ROOT, pipelines=[REPO_ROOT / "pipelines" / "experiments.yml"], target=url).ok
    return url


def test_list_shows_the_example_experiments():
    result = wk("ab", "list")
    assert result.returncode == 0, result.stderr
    assert "checkout_redesign" in result.stdout
    assert "new_onboarding" in result.stdout


def test_analyze_prints_lifts_cuped_and_verdicts(target):
    result = wk("ab", "analyze", "checkout_redesign", "--target", target)
    assert result.returncode == 0, result.stderr
    assert "sample ratio ok" in result.stdout
    assert "conversion (primary)" in result.stdout
    assert "better" in result.stdout
    assert "CUPED interval" in result.stdout


def test_analyze_as_json_with_another_engine(target):
    result = wk("ab", "analyze", "checkout_redesign", "-e", "bayesian", "-f", "json",
                "--target", target)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["engine"] == "bayesian"
    conversion = data["comparisons"][0]
    assert conversion["metric"] == "conversion"
    assert conversion["chance_to_beat"] > 0.95


def test_analyze_flags_a_sample_ratio_mismatch(target):
    result = wk("ab", "analyze", "new_onboarding", "--target", target)
    assert result.returncode == 0, result.stderr
    assert "warning: SAMPLE RATIO MISMATCH" in result.stdout


def test_analyze_peeks_at_an_earlier_day(target):
    result = wk("ab", "analyze", "checkout_redesign", "-e", "sequential", "--as-of",
                "2025-03-08", "-f", "json", "--target", target)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["window"][1] == "2025-03-08T00:00:00"
    assert sum(data["units"].values()) < 20000


def test_audit_recomputes_the_assignment(target):
    result = wk("ab", "audit", "checkout_redesign", "--target", target)
    assert result.returncode == 0, result.stderr
    assert "20,000 units, 0 logged in another variant" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # each arm's own rate (0.105 for the variant) since issue 20, not the control's for both
        (["--baseline", "0.1", "--mde", "0.05"], "115,520 units (57,760 control"),
        (["--baseline", "0.1", "--units", "20000"], "lift of +0.0122 (+12.20%)"),
        (["checkout_redesign", "--baseline", "5.3", "--sd", "25", "--mde", "0.15",
          "--units-per-day", "1500"], "about "),
    ],
)  # fmt: skip
def test_plan_solves_for_units_or_the_mde(args, expected):
    result = wk("ab", "plan", *args)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout


def test_plan_as_json():
    result = wk("ab", "plan", "--baseline", "0.1", "--mde", "0.05", "--format", "json")
    assert json.loads(result.stdout)["units"] == 115520


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ab", "analyze", "checkout_redesing"],
         "error: no experiment 'checkout_redesing' in analytics/experiments; "
         "did you mean 'checkout_redesign'?"),
        (["ab", "plan", "--baseline", "0.1"], "error: give the minimum detectable effect"),
    ],
)  # fmt: skip
def test_errors_are_one_line(args, message):
    result = wk(*args)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(message)


def test_a_bad_engine_is_refused():
    result = wk("ab", "analyze", "checkout_redesign", "--engine", "frequentist")
    assert result.returncode == 2
    assert "choose one of fixed, sequential, bayesian" in result.stderr
