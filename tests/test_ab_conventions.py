"""Each statistical convention of an experiment's ``statistics:`` against its reference
(statsmodels, scipy, numpy regressions, or the formula by hand from scipy quantiles), on
generated data, to 1e-9: the sums the engine sees against the unit values they came from.
"""

from __future__ import annotations

import math
import re
import textwrap
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.power import normal_power_het
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    power_proportions_2indep,
    proportions_ztest,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as wald_test,
)
from statsmodels.stats.weightstats import CompareMeans

from warehouse_kit.analytics.experiments import analyze, conventions, load_experiment, stats
from warehouse_kit.analytics.experiments import plan as planning
from warehouse_kit.analytics.experiments.spec import StatisticsSpec
from warehouse_kit.analytics.experiments.stats import Sums
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError

RTOL = 1e-9
ALTERNATIVE = {"two": "two-sided", "greater": "larger"}


def close(actual, expected):
    assert actual == pytest.approx(expected, rel=RTOL, abs=1e-14)


def close_interval(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        assert a == b if math.isinf(b) else a == pytest.approx(b, rel=RTOL)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(2026_20)


def compared(control, treatment, metric_type, engine="fixed", **options):
    return conventions.compare(
        Sums.of(control), Sums.of(treatment), metric_type, StatisticsSpec(**options), engine
    )


# --- proportions -----------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["two", "greater"])
@pytest.mark.parametrize("test", ["welch", "pooled_z", "unpooled_z"])
def test_proportion_tests_match_scipy_and_statsmodels(rng, test, side):
    control = (rng.random(4000) < 0.10).astype(float)
    treatment = (rng.random(3500) < 0.115).astype(float)
    lift = compared(control, treatment, "binomial", proportions=test).lift
    p, ci = stats.p_value(lift, side), stats.interval(lift, 0.05, side)
    x_t, n_t, x_c, n_c = treatment.sum(), len(treatment), control.sum(), len(control)
    if test == "welch":
        alternative = "two-sided" if side == "two" else "greater"
        reference = sps.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
        close(p, reference.pvalue)
        close_interval(ci, reference.confidence_interval(0.95))
        return
    if test == "pooled_z":
        _, ref_p = proportions_ztest([x_t, x_c], [n_t, n_c], alternative=ALTERNATIVE[side])
    else:
        ref_p = wald_test(x_t, n_t, x_c, n_c, method="wald", alternative=ALTERNATIVE[side]).pvalue
    close(p, ref_p)
    if side == "two":  # statsmodels' Wald interval is two-sided only
        close_interval(ci, confint_proportions_2indep(x_t, n_t, x_c, n_c, method="wald"))


def test_pooled_and_unpooled_z_differ_when_the_arms_differ(rng):
    control = (rng.random(2000) < 0.05).astype(float)
    treatment = (rng.random(600) < 0.09).astype(float)
    pooled = stats.p_value(compared(control, treatment, "binomial", proportions="pooled_z").lift)
    unpooled = stats.p_value(
        compared(control, treatment, "binomial", proportions="unpooled_z").lift
    )
    assert abs(pooled - unpooled) > 1e-4 * unpooled


# --- means ---------------------------------------------------------------------------------


@pytest.mark.parametrize("test", ["welch", "z"])
def test_mean_tests_match_scipy_and_statsmodels(rng, test):
    control = rng.lognormal(2.0, 1.0, 3000) * (rng.random(3000) < 0.3)
    treatment = rng.lognormal(2.1, 1.1, 2600) * (rng.random(2600) < 0.3)
    lift = compared(control, treatment, "mean", means=test).lift
    if test == "welch":
        reference = sps.ttest_ind(treatment, control, equal_var=False)
        close(lift.df, reference.df)
        close(stats.p_value(lift), reference.pvalue)
        close_interval(stats.interval(lift, 0.05), reference.confidence_interval(0.95))
        return
    means = CompareMeans.from_data(treatment, control)
    assert math.isinf(lift.df)
    close(stats.p_value(lift), means.ztest_ind(usevar="unequal")[1])
    close_interval(stats.interval(lift, 0.05), means.zconfint_diff(usevar="unequal"))


# --- ratios: z or Welch's t on the delta-method variances ----------------------------------------


def linearized(y, x):
    """A ratio's unit values linearized (Deng et al. 2018): R + (y - R x) / mean(x), whose mean
    is R and whose variance / n is the delta method's variance of R."""
    ratio = y.sum() / x.sum()
    return ratio + (y - ratio * x) / x.mean()


def ratio_arms(rng):
    arms = []
    for n, spend in ((2400, 30.0), (2200, 33.0)):
        orders = rng.poisson(1.3, n).astype(float)
        arms.append((rng.gamma(2.0, spend / 2, n) * orders, orders))
    return arms


@pytest.mark.parametrize("test", ["z", "welch"])
def test_ratio_tests_match_scipy_on_linearized_values(rng, test):
    (y_c, x_c), (y_t, x_t) = ratio_arms(rng)
    rules = StatisticsSpec(ratios=test, relative="t")
    arms = conventions.compare(Sums.of(y_c, x_c), Sums.of(y_t, x_t), "ratio", rules, "fixed")
    control, treatment = linearized(y_c, x_c), linearized(y_t, x_t)
    close(arms.lift.estimate, treatment.mean() - control.mean())
    if test == "welch":  # GrowthBook's TwoSidedTTest.dof on two RatioStatistic
        reference = sps.ttest_ind(treatment, control, equal_var=False)
        close(arms.lift.df, reference.df)
        close(stats.p_value(arms.lift), reference.pvalue)
        close_interval(stats.interval(arms.lift, 0.05), reference.confidence_interval(0.95))
        # the relative lift's t takes the same degrees of freedom, as GrowthBook's ratios
        close(conventions.relative(arms, rules, "fixed").df, reference.df)
        return
    means = CompareMeans.from_data(treatment, control)
    assert math.isinf(arms.lift.df)
    close(stats.p_value(arms.lift), means.ztest_ind(usevar="unequal")[1])
    close_interval(stats.interval(arms.lift, 0.05), means.zconfint_diff(usevar="unequal"))


# --- relative lift: the delta method with z or t ---------------------------------------------


@pytest.mark.parametrize("quantile", ["z", "t"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_relative_lift_by_the_delta_method_with_z_or_t(rng, quantile, sign):
    control = sign * rng.gamma(2.0, 5.0, 2500)
    treatment = sign * rng.gamma(2.0, 5.3, 2300)
    arms = compared(control, treatment, "mean", relative=quantile)
    lift = conventions.relative(arms, StatisticsSpec(relative=quantile), "fixed")
    c, t = control.mean(), treatment.mean()
    v_c, v_t = control.var(ddof=1) / len(control), treatment.var(ddof=1) / len(treatment)
    estimate = (t - c) / abs(c)  # t / c - 1 when c > 0: the sign says better or worse
    se = math.sqrt(v_t / c**2 + t**2 * v_c / c**4)
    df = sps.ttest_ind(treatment, control, equal_var=False).df
    distribution = sps.norm() if quantile == "z" else sps.t(df)
    close(lift.estimate, estimate)
    close(lift.se, se)
    close(stats.p_value(lift), 2 * distribution.sf(abs(estimate) / se))
    half = distribution.ppf(0.975) * se
    close_interval(stats.interval(lift, 0.05), (estimate - half, estimate + half))


@pytest.mark.parametrize(
    ("metric_type", "sign", "side"),
    [("mean", 1.0, "two"), ("mean", -1.0, "two"), ("ratio", 1.0, "greater")],
)
def test_log_scale_relative_interval_as_tea_tasting(rng, metric_type, sign, side):
    # tea-tasting's RatioOfMeans._analyze_stats (Mean inherits it; use_t=True, equal_var=False):
    # log_distr = t(Welch df of var / mean**2 per arm), CI = means_ratio * exp(+-log_distr.ppf(q)).
    # Reference: scipy's Welch test on each unit's log-linearized value, log|m| + (v - m) / m
    # (its variance / n is the delta method's Var(m) / m^2), the bounds exponentiated.
    if metric_type == "mean":
        y_c, y_t = sign * rng.gamma(2.0, 5.0, 2500), sign * rng.gamma(2.0, 5.6, 2300)
        sums = Sums.of(y_c), Sums.of(y_t)
        units = [(np.log(abs(y.mean())) + (y - y.mean()) / y.mean()) for y in (y_c, y_t)]
    else:
        (y_c, x_c), (y_t, x_t) = ratio_arms(rng)
        sums = Sums.of(y_c, x_c), Sums.of(y_t, x_t)
        values = linearized(y_c, x_c), linearized(y_t, x_t)
        units = [np.log(v.mean()) + (v - v.mean()) / v.mean() for v in values]
    rules = StatisticsSpec(relative="log")
    arms = conventions.compare(*sums, metric_type, rules, "fixed")
    lift = conventions.relative(arms, rules, "fixed")
    alternative = "two-sided" if side == "two" else "greater"
    reference = sps.ttest_ind(units[1], units[0], equal_var=False, alternative=alternative)
    ratio = math.exp(units[1].mean() - units[0].mean())  # t / c
    low, high = (math.exp(bound) for bound in reference.confidence_interval(0.95))
    expected = (ratio - 1, (low - 1, high - 1)) if sign > 0 else (1 - ratio, (1 - high, 1 - low))
    close(lift.df, reference.df)
    close(lift.reported(lift.estimate), expected[0])  # (t - c) / |c|: t / c - 1 when c > 0
    close(stats.p_value(lift, side), reference.pvalue)
    ci = stats.interval(lift, 0.05, side)
    close_interval(ci, expected[1])
    if side == "two":  # asymmetric, longer away from t / c = 0 (relative -1 or +1)
        assert (ci[1] - expected[0] > expected[0] - ci[0]) == (sign > 0)


def test_no_log_scale_lift_when_the_arms_differ_in_sign(rng):
    arms = compared(rng.normal(5.0, 3.0, 500), rng.normal(-1.0, 3.0, 500), "mean")
    log, delta = StatisticsSpec(relative="log"), StatisticsSpec(relative="z")
    problem = conventions.relative_problem(arms, log, "fixed", 0.05) or ""
    assert "not of the sign of the control's" in problem
    assert conventions.relative_problem(arms, delta, "fixed", 0.05) is None
    assert conventions.relative_problem(arms, log, "sequential", 0.05) is None  # fixed only


def test_a_noisy_control_keeps_its_relative_lift_with_a_caution(rng):
    noise = rng.normal(size=400)
    control = 1.0 + 6.0 * (noise - noise.mean()) / noise.std(ddof=1)  # se / mean = 0.3
    estimate = stats.mean_estimate(Sums.of(control))
    assert stats.relative_problem(estimate, 0.01) is None  # hidden before (se / mean > 0.1)
    assert "error is 30% of its value" in (stats.relative_caution(estimate) or "")
    assert stats.relative_problem(estimate, 0.0001) is not None  # 0.3 > 1 / z_0.99995


# --- CUPED's theta -------------------------------------------------------------------------


def cuped_arms(rng):
    arms = {}
    for name, n, slope, effect in (("control", 1800, 0.5, 0.0), ("treatment", 2100, 0.8, 2.0)):
        covariate = rng.gamma(2.0, 10.0, n)
        arms[name] = (5 + slope * covariate + rng.normal(0, 6, n) + effect, covariate)
    return arms


@pytest.mark.parametrize("theta", ["within", "per_arm", "total"])
def test_cuped_theta_conventions_match_their_regressions(rng, theta):
    arms = cuped_arms(rng)
    sums = {name: Sums.of(y, c=c) for name, (y, c) in arms.items()}
    rules = StatisticsSpec(cuped_theta=theta)
    adjusted, (theta_c, theta_t) = conventions.cuped(
        sums, ("control", "treatment"), "mean", rules, "fixed"
    )
    y = np.concatenate([arms["control"][0], arms["treatment"][0]])
    c = np.concatenate([arms["control"][1], arms["treatment"][1]])
    treated = np.concatenate([np.zeros(1800), np.ones(2100)])
    centred = c - c.mean()
    if theta == "within":  # y ~ 1 + treated + c
        fit = OLS(y, np.column_stack([np.ones_like(y), treated, c])).fit()
        expected = (fit.params[2], fit.params[2])
        close(adjusted.lift.estimate, fit.params[1])
    elif theta == "per_arm":  # Lin (2013): y ~ 1 + treated + c + treated * (c - mean(c))
        design = np.column_stack([np.ones_like(y), treated, centred, treated * centred])
        fit = OLS(y, design).fit()
        expected = (fit.params[2], fit.params[2] + fit.params[3])
        close(adjusted.lift.estimate, fit.params[1])
    else:  # y ~ 1 + c over every unit
        slope = OLS(y, np.column_stack([np.ones_like(y), c])).fit().params[1]
        expected = (slope, slope)
    close(theta_c, expected[0])
    close(theta_t, expected[1])
    # the interval: Welch's t on each unit's value adjusted with its arm's theta
    values = {
        name: y_arm - th * (c_arm - c.mean())
        for (name, (y_arm, c_arm)), th in zip(arms.items(), (theta_c, theta_t), strict=True)
    }
    reference = sps.ttest_ind(values["treatment"], values["control"], equal_var=False)
    close(adjusted.lift.estimate, values["treatment"].mean() - values["control"].mean())
    close(stats.p_value(adjusted.lift), reference.pvalue)


@pytest.mark.parametrize("theta", ["total", "per_arm"])
def test_cuped_relative_lift_over_the_unadjusted_control_mean(rng, theta):
    arms = cuped_arms(rng)
    sums = {name: Sums.of(y, c=c) for name, (y, c) in arms.items()}
    rules = StatisticsSpec(cuped_theta=theta, cuped_relative="unadjusted")
    adjusted, thetas = conventions.cuped(sums, ("control", "treatment"), "mean", rules, "fixed")
    lift = conventions.relative(adjusted, rules, "fixed")
    (y_a, c_a), (y_b, c_b) = arms["control"], arms["treatment"]
    covariate_mean = np.concatenate([c_a, c_b]).mean()

    def relative(means):  # GrowthBook's estimate: the adjusted difference / unadjusted control
        m_ya, m_ca, m_yb, m_cb = means
        adjusted_b = m_yb - thetas[1] * (m_cb - covariate_mean)
        adjusted_a = m_ya - thetas[0] * (m_ca - covariate_mean)
        return (adjusted_b - adjusted_a) / m_ya

    # the delta method with the gradient by complex step (exact to rounding), theta held fixed
    point = np.array([y_a.mean(), c_a.mean(), y_b.mean(), c_b.mean()], dtype=complex)
    step = 1e-30
    gradient = np.array([(relative(point + 1j * step * e) / step).imag for e in np.eye(4)])
    covariance = np.zeros((4, 4))
    covariance[:2, :2] = np.cov(np.vstack([y_a, c_a])) / len(y_a)
    covariance[2:, 2:] = np.cov(np.vstack([y_b, c_b])) / len(y_b)
    estimate, se = relative(point).real, math.sqrt(gradient @ covariance @ gradient)
    close(lift.estimate, estimate)
    close(lift.se, se)
    close(stats.p_value(lift), 2 * sps.norm.sf(abs(estimate) / se))
    half = sps.norm.ppf(0.975) * se
    close_interval(stats.interval(lift, 0.05), (estimate - half, estimate + half))
    # the default divides by the adjusted control mean: another estimate
    default = StatisticsSpec(cuped_theta=theta)
    by_adjusted, _ = conventions.cuped(sums, ("control", "treatment"), "mean", default, "fixed")
    assert conventions.relative(by_adjusted, default, "fixed").estimate != pytest.approx(estimate)
    # GrowthBook's frequentist_variance_relative_cuped (mean metrics, one theta) puts the
    # unadjusted treatment mean where the expansion has base + difference: O(1/sqrt(n)) apart
    if theta == "total":
        s_a, s_b = np.cov(np.vstack([y_a, c_a])), np.cov(np.vstack([y_b, c_b]))
        th, ratio = thetas[0], y_b.mean() / y_a.mean()
        v_b = (s_b[0, 0] + th**2 * s_b[1, 1] - 2 * th * s_b[0, 1]) / len(y_b)
        v_a = (s_a[0, 0] * ratio**2 - 2 * th * s_a[0, 1] * ratio + th**2 * s_a[1, 1]) / len(y_a)
        assert lift.se == pytest.approx(math.sqrt(v_a + v_b) / y_a.mean(), rel=0.02)


# --- Bayesian variance -----------------------------------------------------------------------


@pytest.mark.parametrize("variance", ["n-1", "n"])
def test_bayesian_likelihood_variance_divides_by_n_minus_1_or_n(rng, variance):
    control = (rng.random(900) < 0.2).astype(float)
    treatment = (rng.random(1100) < 0.24).astype(float)
    arms = compared(control, treatment, "binomial", "bayesian", bayesian_variance=variance)
    ddof = 1 if variance == "n-1" else 0
    v = control.var(ddof=ddof) / 900 + treatment.var(ddof=ddof) / 1100
    if variance == "n":  # GrowthBook's proportions: p (1 - p) / n
        p_c, p_t = control.mean(), treatment.mean()
        close(v, p_c * (1 - p_c) / 900 + p_t * (1 - p_t) / 1100)
    prior_sd = 0.05
    post = stats.posterior(arms.lift, prior_sd)
    precision = 1 / v + 1 / prior_sd**2
    close(post.mean, (treatment.mean() - control.mean()) / v / precision)
    close(post.sd, math.sqrt(1 / precision))


# --- power and sample size ---------------------------------------------------------------------


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.3, 0.7)])
@pytest.mark.parametrize("sided", ["two", "one"])
def test_power_for_proportions_matches_statsmodels(weights, sided):
    rate, effect, units = 0.10, 0.012, 24000
    ratio = weights[0] / weights[1]  # statsmodels: the variant is sample 1, control = ratio x it
    variant_units = units * weights[1]
    alternative = "two-sided" if sided == "two" else "larger"
    pooled = planning.Arms(rate=rate, pooled=True, weights=weights)
    reference = power_proportions_2indep(
        effect, rate, variant_units, ratio=ratio, alternative=alternative, return_results=False
    )
    close(planning.power(units, effect, pooled, sided=sided), reference)
    solved = planning.solve_units(effect, pooled, alpha=0.05, power_target=0.8, sided=sided)
    close(power_proportions_2indep(effect, rate, solved * weights[1], ratio=ratio,
                                   alternative=alternative, return_results=False), 0.8)  # fmt: skip
    # unpooled: the same test with the alternative's variance under the null too
    std = math.sqrt((rate + effect) * (1 - rate - effect) + rate * (1 - rate) / ratio)
    unpooled = planning.Arms(rate=rate, weights=weights)
    close(
        planning.power(units, effect, unpooled, sided=sided),
        normal_power_het(effect, variant_units, 0.05, std_null=std, alternative=alternative),
    )


def test_power_with_unequal_variances_and_the_mde_solve_it():
    arms = planning.Arms(sd=20.0, sd_variant=26.0, weights=(0.4, 0.6), variance_factor=0.8)
    units, effect = 30000, 0.6
    std = math.sqrt((20.0**2 / 0.4 + 26.0**2 / 0.6) * 0.8)
    close(planning.power(units, effect, arms), normal_power_het(effect, units, 0.05, std))
    mde = planning.minimum_detectable_effect(units, arms)
    close(normal_power_het(mde, units, 0.05, std), 0.8)
    rates = planning.Arms(rate=0.03, pooled=True)
    mde = planning.minimum_detectable_effect(units, rates)
    close(power_proportions_2indep(mde, 0.03, units / 2, return_results=False), 0.8)


# --- end to end: a YAML convention through DuckDB ------------------------------------------------


EXPERIMENT = """
experiment:
  key: conv
  variants: {control: 1, treatment: 1}
  start: 2025-06-01
  end: 2025-06-07
  exposures: {table: silver.exposures}
  events: {table: silver.events}
  metrics:
    - {name: conversion, type: binomial, role: primary, where: "kind = 'buy'"}
    - {name: order_value, type: ratio, numerator: amount, denominator: "1", where: "kind = 'buy'"}
  statistics: {proportions: pooled_z, relative: t, ratios: welch}
"""


def test_a_yaml_convention_runs_through_duckdb(tmp_path):
    rng = np.random.default_rng(2026_20)  # its own: the data, whichever tests ran before
    n = 6000
    users = [f"u{i}" for i in range(n)]
    variant = np.where(rng.random(n) < 0.5, "control", "treatment")
    bought = rng.random(n) < np.where(variant == "treatment", 0.13, 0.10)
    start = datetime(2025, 6, 1)
    seen = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 5 * 1440, n)]
    warehouse = connect(f"duckdb:///{tmp_path}/ab.duckdb")
    warehouse.ensure_schema("silver")
    exposures = {"user_id": users, "variant": variant.tolist(), "exposed_at": seen}
    buyers = np.flatnonzero(bought)
    amount = np.where(bought, rng.gamma(2.0, np.where(variant == "treatment", 26.0, 24.0)), 0.0)
    events = {
        "user_id": [users[i] for i in buyers],
        "kind": ["buy"] * len(buyers),
        "event_at": [seen[i] + timedelta(hours=1) for i in buyers],
        "amount": amount[buyers].tolist(),
    }
    for name, columns in (("exposures", exposures), ("events", events)):
        warehouse.con.create_table(name, pa.table(columns), database="silver", overwrite=True)
    path, log_path = tmp_path / "conv.yml", tmp_path / "log.yml"
    path.write_text(textwrap.dedent(EXPERIMENT))
    log_path.write_text(textwrap.dedent(EXPERIMENT).replace("relative: t", "relative: log"))
    experiment = load_experiment(path)
    result = analyze(experiment, warehouse=warehouse)
    bayesian = analyze(experiment, warehouse=warehouse, engine="bayesian")
    log_scale = analyze(load_experiment(log_path), warehouse=warehouse)
    warehouse.close()

    comparison = result.comparison("conversion")
    treated, control = bought[variant == "treatment"], bought[variant == "control"]
    counts, nobs = [treated.sum(), control.sum()], [len(treated), len(control)]
    close(comparison.p_value, proportions_ztest(counts, nobs)[1])
    close_interval(comparison.absolute_ci, confint_proportions_2indep(
        counts[0], nobs[0], counts[1], nobs[1], method="wald"))  # fmt: skip
    assert comparison.relative_p_value is not None
    assert comparison.relative_p_value < 0.05
    assert result.notes()[0].startswith("conventions: proportions pooled z (Wald interval)")
    assert "relative lift delta method, t" in result.notes()[0]
    risk = bayesian.comparison("conversion").relative_expected_loss
    assert risk is not None
    assert 0 <= risk < 0.01  # the variant is better: little to lose

    # the ratio (one order per buyer): Welch's t on its linearized values
    orders = bought.astype(float)
    arms = [
        linearized(amount[variant == v], orders[variant == v]) for v in ("control", "treatment")
    ]
    welch = sps.ttest_ind(arms[1], arms[0], equal_var=False)
    order_value = result.comparison("order_value")
    close(order_value.p_value, welch.pvalue)
    close_interval(order_value.absolute_ci, welch.confidence_interval(0.95))
    assert "ratios Welch t" in result.notes()[0]
    # relative: log, the same ratio's interval exponentiated from its log-linearized values
    logs = [np.log(arm.mean()) + (arm - arm.mean()) / arm.mean() for arm in arms]
    low, high = sps.ttest_ind(logs[1], logs[0], equal_var=False).confidence_interval(0.95)
    relative_ci = log_scale.comparison("order_value").relative_ci
    close_interval(relative_ci, (math.expm1(low), math.expm1(high)))
    assert "relative lift delta method on the log ratio, t" in log_scale.notes()[0]


def test_log_scale_and_the_unadjusted_cuped_base_do_not_combine(tmp_path):
    path = tmp_path / "conv.yml"
    statistics = "statistics: {relative: log, cuped_relative: unadjusted}"
    path.write_text(re.sub(r"statistics: \{.*\}", statistics, textwrap.dedent(EXPERIMENT)))
    with pytest.raises(ConfigError, match=r"conv.yml: experiment.statistics: relative: log "):
        load_experiment(path)
