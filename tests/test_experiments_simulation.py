"""Simulations: error rates and coverage of the engines over thousands of experiments.

Each experiment is simulated as the sufficient statistics the warehouse would return,
and goes through the very functions `analyze` uses (they work on arrays of sums, one
entry per experiment). Tolerances are sampling error: an observed rate must be within
3.5 standard errors of its target (a false alarm in about 1 run in 2,000), or below it
where the method promises at most alpha. Seeded, so a run is reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from warehouse_kit.analytics.experiments import family, stats
from warehouse_kit.analytics.experiments.stats import Sums

ALPHA = 0.05
REPS = 4000


def within_sampling_error(rate: float, target: float, reps: int) -> bool:
    return abs(rate - target) <= 3.5 * math.sqrt(target * (1 - target) / reps)


def revenue(rng, shape, scale=1.0, effect=0.0):
    """Zero-inflated lognormal revenue per unit (20% buy), plus an additive effect."""
    return (rng.random(shape) < 0.2) * rng.lognormal(2.0, 0.7, shape) * scale + effect


def binomial(rng, reps, n, p):
    y = rng.binomial(n, p, reps).astype(float)
    return Sums(n=np.full(reps, float(n)), y=y, yy=y)


def lift_of(s_c, s_t, ratio=False):
    estimate = stats.ratio_estimate if ratio else stats.mean_estimate
    return stats.absolute_lift(estimate(s_c), estimate(s_t), welch=not ratio)


# --- fixed horizon -----------------------------------------------------------------------


@pytest.mark.parametrize("side", ["two", "greater"])
@pytest.mark.parametrize("metric", ["binomial", "mean"])
def test_fixed_horizon_false_positive_rate_is_alpha_on_a_a_tests(metric, side):
    rng = np.random.default_rng(1)
    if metric == "binomial":
        s_c, s_t = binomial(rng, REPS, 2000, 0.1), binomial(rng, REPS, 2000, 0.1)
    else:
        s_c = Sums.of(revenue(rng, (REPS, 2000)))
        s_t = Sums.of(revenue(rng, (REPS, 2000)))
    p = stats.p_value(lift_of(s_c, s_t), side)
    rate = float(np.mean(p < ALPHA))
    assert within_sampling_error(rate, ALPHA, REPS), rate


def test_confidence_intervals_cover_a_known_effect_at_their_level():
    rng = np.random.default_rng(2)
    p_c, p_t = 0.10, 0.115
    s_c, s_t = binomial(rng, REPS, 3000, p_c), binomial(rng, REPS, 3000, p_t)
    e_c, e_t = stats.mean_estimate(s_c), stats.mean_estimate(s_t)
    low, high = stats.interval(stats.absolute_lift(e_c, e_t), ALPHA)
    coverage = float(np.mean((low <= p_t - p_c) & (p_t - p_c <= high)))
    assert within_sampling_error(coverage, 1 - ALPHA, REPS), coverage
    low, high = stats.interval(stats.relative_lift(e_c, e_t), ALPHA)
    truth = p_t / p_c - 1
    coverage = float(np.mean((low <= truth) & (truth <= high)))
    assert within_sampling_error(coverage, 1 - ALPHA, REPS), coverage


def test_ratio_metric_intervals_cover_the_true_difference_in_order_value():
    rng = np.random.default_rng(3)
    arms = []
    for value in (40.0, 42.0):  # the mean amount per order
        orders = rng.poisson(0.6, (REPS, 2000)).astype(float)
        amounts = orders * rng.lognormal(math.log(value) - 0.125, 0.5, (REPS, 2000))
        arms.append(Sums.of(amounts, orders))
    low, high = stats.interval(lift_of(*arms, ratio=True), ALPHA)
    coverage = float(np.mean((low <= 2.0) & (high >= 2.0)))
    assert within_sampling_error(coverage, 1 - ALPHA, REPS), coverage


def test_cuped_keeps_coverage_and_narrows_the_interval():
    rng = np.random.default_rng(4)
    effect = 0.5

    def arm(extra):
        covariate = revenue(rng, (REPS, 1500))
        outcome = 0.7 * covariate + revenue(rng, (REPS, 1500), scale=0.7) + extra
        return Sums.of(outcome, c=covariate)

    s_c, s_t = arm(0.0), arm(effect)
    theta = stats.cuped_theta([s_c, s_t])
    mean_c = (s_c.c + s_t.c) / (s_c.n + s_t.n)
    adjusted = stats.absolute_lift(
        stats.cuped_estimate(s_c, theta, mean_c), stats.cuped_estimate(s_t, theta, mean_c)
    )
    low, high = stats.interval(adjusted, ALPHA)
    coverage = float(np.mean((low <= effect) & (effect <= high)))
    assert within_sampling_error(coverage, 1 - ALPHA, REPS), coverage
    raw = lift_of(s_c, s_t)
    reduction = 1 - np.mean(adjusted.variance / raw.variance)
    assert 0.3 < reduction < 0.7  # the covariate explains about half of the variance


def test_holm_keeps_the_family_wise_error_rate_under_alpha():
    rng = np.random.default_rng(5)
    families = rng.uniform(size=(REPS, 6))  # p-values of 6 true nulls
    rejected = [min(family.holm(list(row))) < ALPHA for row in families]
    assert np.mean(rejected) <= ALPHA + 3.5 * math.sqrt(ALPHA * (1 - ALPHA) / REPS)


def test_srm_false_alarm_rate_on_fair_splits():
    rng = np.random.default_rng(6)
    control = rng.binomial(20000, 0.5, 2000)
    flagged = [
        family.sample_ratio_mismatch(
            {"a": int(c), "b": 20000 - int(c)}, {"a": 1, "b": 1}, 0.05
        ).mismatch
        for c in control
    ]
    assert within_sampling_error(float(np.mean(flagged)), 0.05, 2000)


# --- sequential: daily peeking --------------------------------------------------------------

DAYS, DAILY = 14, 300  # units per arm per day


def daily_sums(rng, reps, effect=0.0):
    """Cumulative sums per day: arrays of shape (reps, days)."""
    values = revenue(rng, (reps, DAYS, DAILY), effect=effect)
    day = Sums.of(values)  # sums over each day's units
    return Sums(**{name: np.cumsum(getattr(day, name), axis=1) for name in ("n", "y", "yy")})


def test_sequential_false_positive_rate_stays_under_alpha_with_daily_peeks():
    rng = np.random.default_rng(7)
    reps = 3000
    s_c, s_t = daily_sums(rng, reps), daily_sums(rng, reps)
    lift = lift_of(s_c, s_t)
    units = s_c.n + s_t.n
    planned = 2 * DAYS * DAILY
    sequential = stats.sequential_p_value(lift, ALPHA, units, planned) < ALPHA
    rate = float(np.mean(sequential.any(axis=1)))
    assert rate <= ALPHA, rate
    # what it protects from: the fixed-horizon test, looked at every day
    naive = float(np.mean((stats.p_value(lift) < ALPHA).any(axis=1)))
    assert naive > 2 * ALPHA, naive


def test_sequential_intervals_cover_the_effect_at_every_peek():
    rng = np.random.default_rng(8)
    reps, effect = 3000, 0.4
    s_c, s_t = daily_sums(rng, reps), daily_sums(rng, reps, effect=effect)
    lift = lift_of(s_c, s_t)
    low, high = stats.sequential_interval(lift, ALPHA, s_c.n + s_t.n, 2 * DAYS * DAILY)
    always = ((low <= effect) & (effect <= high)).all(axis=1)
    assert float(np.mean(always)) >= 1 - ALPHA


# --- Bayesian ---------------------------------------------------------------------------


def test_flat_prior_chance_to_beat_is_calibrated_on_a_a_tests():
    rng = np.random.default_rng(9)
    s_c, s_t = binomial(rng, REPS, 2000, 0.1), binomial(rng, REPS, 2000, 0.1)
    chance = stats.posterior(lift_of(s_c, s_t)).chance_to_beat()
    rate = float(np.mean(chance >= 1 - ALPHA / 2))
    assert within_sampling_error(rate, ALPHA / 2, REPS), rate
