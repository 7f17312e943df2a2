"""What the A/B test notebook shows: the analysis as of each day, and its conclusion in words.

The example experiments (seeds/experiments) are built by their pipeline, on DuckDB and
PostgreSQL, and every day of `cumulative` is checked against `analyze` itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from conftest import BACKENDS, REPO_ROOT, fresh_postgres_database
from warehouse_kit.analytics.experiments import analyze, cumulative, load_experiment
from warehouse_kit.analytics.experiments.cumulative import daily_windows
from warehouse_kit.analytics.experiments.stats import Estimate, absolute_lift
from warehouse_kit.core.runner import run

CHECKOUT = load_experiment(REPO_ROOT / "analytics" / "experiments" / "checkout_redesign.yml")
COMPARED = ["absolute", "absolute_ci_low", "absolute_ci_high", "relative", "relative_ci_low",
            "relative_ci_high", "p_adjusted", "chance_to_beat"]  # fmt: skip


@pytest.fixture(scope="module", params=BACKENDS)
def example(request, tmp_path_factory) -> Iterator[str]:
    """The example experiments' tables, built by their pipeline."""
    pipeline = REPO_ROOT / "pipelines" / "experiments.yml"
    if request.param == "duckdb":
        url = f"duckdb:///{tmp_path_factory.mktemp('ab')}/warehouse.duckdb"
        assert run(REPO_ROOT, pipelines=[pipeline], target=url).ok
        yield url
        return
    with fresh_postgres_database() as url:
        assert run(REPO_ROOT, pipelines=[pipeline], target=url).ok
        yield url


def same_rows(daily_rows, result) -> None:
    """A day's rows of `cumulative` are the comparisons of `result`, value for value."""
    expected = result.to_frame()
    assert list(daily_rows.metric) == list(expected.metric)
    assert list(daily_rows.verdict) == list(expected.verdict)
    assert list(daily_rows.variant_units) == list(expected.variant_units)
    for column in COMPARED:
        for got, want in zip(daily_rows[column], expected[column], strict=True):
            assert (_missing(got) and _missing(want)) or math.isclose(got, want, rel_tol=1e-9)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --- cumulative ---------------------------------------------------------------------------


def test_a_window_of_14_days_is_cut_at_the_end_of_each_day():
    windows = daily_windows(CHECKOUT)
    assert len(windows) == 14
    assert {start for start, _ in windows} == {datetime(2025, 3, 3)}
    assert windows[0][1] == datetime(2025, 3, 4)
    assert windows[-1][1] == datetime(2025, 3, 17)  # the end day is included


def test_as_of_cuts_the_days_and_the_last_one_short():
    windows = daily_windows(CHECKOUT, as_of=datetime(2025, 3, 5, 12))
    assert [end for _, end in windows] == [
        datetime(2025, 3, 4), datetime(2025, 3, 5), datetime(2025, 3, 5, 12),
    ]  # fmt: skip


@pytest.mark.parametrize("engine", ["sequential", "fixed", "bayesian"])
def test_the_last_day_is_the_analysis_of_the_whole_window(example, engine):
    daily = cumulative("checkout_redesign", project=REPO_ROOT, target=example, engine=engine)
    whole = analyze("checkout_redesign", project=REPO_ROOT, target=example, engine=engine)
    last = daily[daily.day == date(2025, 3, 16)]
    same_rows(last, whole)
    assert set(last.units) == {20000}


def test_each_day_is_a_peek_at_the_end_of_that_day(example):
    daily = cumulative("checkout_redesign", project=REPO_ROOT, target=example)
    for day in (date(2025, 3, 5), date(2025, 3, 10)):
        peek = analyze(
            "checkout_redesign", project=REPO_ROOT, target=example, engine="sequential",
            as_of=datetime.combine(day + timedelta(days=1), datetime.min.time()),
        )  # fmt: skip
        same_rows(daily[daily.day == day], peek)


def test_every_day_is_there_and_the_sample_grows(example):
    daily = cumulative("checkout_redesign", project=REPO_ROOT, target=example)
    days = sorted(set(daily.day))
    assert days == [date(2025, 3, 3) + timedelta(days=k) for k in range(14)]
    units = daily.groupby("day").units.first().tolist()
    assert units == sorted(units)
    assert units[0] > 0
    assert len(daily) == 14 * 4  # a row per day and metric (one treatment)


def test_the_first_day_without_any_ticket_says_so_instead_of_failing(example):
    daily = cumulative("checkout_redesign", project=REPO_ROOT, target=example)
    first = daily[(daily.day == date(2025, 3, 3)) & (daily.metric == "support_tickets")]
    assert first.note.tolist() == ["no variation in this metric yet"]
    assert first.verdict.tolist() == ["inconclusive"]


def test_a_lift_without_variation_has_no_degrees_of_freedom_to_divide_by():
    nothing = Estimate(value=0.0, variance=0.0, n=10)
    lift = absolute_lift(nothing, nothing)
    assert (lift.estimate, lift.variance, lift.df) == (0.0, 0.0, math.inf)


def test_the_sequential_band_narrows_as_units_come_in(example):
    daily = cumulative("checkout_redesign", project=REPO_ROOT, target=example)
    conversion = daily[daily.metric == "conversion"].dropna(subset=["relative_ci_low"])
    widths = (conversion.relative_ci_high - conversion.relative_ci_low).tolist()
    assert widths[-1] < widths[0] / 2
    assert conversion.verdict.tolist()[-1] == "better"


# --- the conclusion -----------------------------------------------------------------------


def test_a_sample_ratio_mismatch_comes_first_and_voids_the_lifts(example):
    result = analyze("new_onboarding", project=REPO_ROOT, target=example)
    conclusion = result.conclusion()
    assert conclusion.startswith("Do not use these results: the sample ratio is off")
    assert "control 10,052 units, 50% planned, treatment 9,244 units, 50% planned" in conclusion
    assert "ship" not in conclusion
    banner = result.srm_banner()
    assert repr(banner).startswith("SAMPLE RATIO MISMATCH")
    assert not banner.ok
    assert "#b00020" in banner._repr_html_()


def test_a_winning_primary_metric_with_safe_guardrails_says_ship(example):
    result = analyze("checkout_redesign", project=REPO_ROOT, target=example)
    conclusion = result.conclusion()
    assert conclusion.startswith("The sample ratio is as planned (control 9,978 units")
    assert "On conversion (primary), treatment is better: +14.8% [+6.0%, +23.6%]" in conclusion
    assert "No guardrail got worse (support_tickets)." in conclusion
    assert "On revenue_per_user (secondary), treatment is better" in conclusion
    assert "order_value" not in conclusion  # inconclusive secondary metrics are left out
    assert conclusion.endswith("ship it.")
    assert all(sentence[0].isupper() for sentence in conclusion.split(". "))
    assert result.primary_metric == "conversion"
    assert repr(result.srm_banner()).startswith("Sample ratio OK")


def test_a_guardrail_that_got_worse_stops_the_ship(example):
    result = analyze("checkout_redesign", project=REPO_ROOT, target=example)
    harmed = [c.but(verdict="worse") if c.role == "guardrail" else c for c in result.comparisons]
    conclusion = replace(result, comparisons=harmed).conclusion()
    assert "On support_tickets (guardrail), treatment is worse" in conclusion
    assert conclusion.endswith("Do not ship as it is: a guardrail got worse.")


def test_the_sequential_engine_says_to_keep_running_while_inconclusive(example):
    early = analyze(
        "checkout_redesign", project=REPO_ROOT, target=example, engine="sequential",
        as_of=datetime(2025, 3, 8),
    )  # fmt: skip
    conclusion = early.conclusion()
    assert "On conversion (primary), treatment shows no clear difference" in conclusion
    assert "adjusted always-valid p" in conclusion
    assert conclusion.endswith("keep the experiment running (the intervals stay valid).")


def test_the_bayesian_engine_speaks_of_the_chance_to_beat_control(example):
    result = analyze("checkout_redesign", project=REPO_ROOT, target=example, engine="bayesian")
    assert "chance to beat control 99.9%" in result.conclusion()
