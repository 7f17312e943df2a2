"""Which formula of `stats` produces each figure, by the experiment's ``statistics:`` choices.

Each choice of `StatisticsSpec`, its default and the reference it matches
(the tests check every one against that reference to 1e-9):

====================  ===========  ==================================================
option                default      values: reference
====================  ===========  ==================================================
proportions           welch        welch: scipy ``ttest_ind(equal_var=False)`` on 0/1;
                                   pooled_z: statsmodels ``proportions_ztest`` (p-value),
                                   ``confint_proportions_2indep(method="wald")`` (CI);
                                   unpooled_z: statsmodels ``test_proportions_2indep
                                   (method="wald")``
means                 welch        welch: scipy ``ttest_ind(equal_var=False)``;
                                   z: statsmodels ``CompareMeans.ztest_ind(usevar="unequal")``
ratios                z            z: the delta method (Deng et al. 2018), normal;
                                   welch: t on the Welch-Satterthwaite df of the two arms'
                                   delta-method variances (GrowthBook's ``TwoSidedTTest``
                                   ``dof`` on a ``RatioStatistic``): scipy ``ttest_ind
                                   (equal_var=False)`` on the linearized unit values
relative              z            z: statsmodels ``NonlinearDeltaCov``; t: the same with the
                                   Welch df (GrowthBook's frequentist engine); log: the
                                   delta method on log(t / c), t on the Welch df of the
                                   log-scale variances, exponentiated (tea-tasting's
                                   ``RatioOfMeans._analyze_stats``; p-value: t / c = 1)
cuped_theta           within       within: OLS ``y ~ arm + c``; per_arm: OLS ``y ~ arm * c``
                                   (Lin 2013); total: ``y ~ c`` over all units (GrowthBook,
                                   tea-tasting)
cuped_relative        adjusted     adjusted: the adjusted difference over the adjusted
                                   control mean; unadjusted: over the unadjusted control
                                   mean (GrowthBook), its delta-method variance with the
                                   covariance of the two control means
bayesian_variance     n-1          n-1: sample variance; n: GrowthBook's ``p (1 - p)``
====================  ===========  ==================================================

``ratios`` is the absolute lift's choice; a ratio's relative lift follows ``relative``
as every metric's does (with ``t``, GrowthBook's ratio metrics: Welch df of the delta-method
variances). ``relative`` applies to the fixed engine; ``log`` needs both arms of one sign
(else no relative lift, with a note) and does not combine with ``cuped_relative:
unadjusted`` (its ratio is of the two adjusted means). Under CUPED a proportion is no longer
0/1, so its test is on the adjusted values: Welch's t for ``welch``, z otherwise. The
sequential and Bayesian engines are normal; they use the arms' variances as the fixed engine
does (the Bayesian engine divides by ``bayesian_variance``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from warehouse_kit.analytics.experiments import stats
from warehouse_kit.analytics.experiments.spec import StatisticsSpec
from warehouse_kit.analytics.experiments.stats import Estimate, Lift, Sums

Engine = str


@dataclass(frozen=True)
class Arms:
    """A comparison's arm estimates and lift, by the conventions."""

    control: Estimate
    treatment: Estimate
    lift: Lift
    base: Estimate | None = None
    """What the relative lift divides by when not `control`: CUPED's unadjusted control."""
    base_covariance: stats.Number = 0.0
    """The covariance of `base` and `control`."""


def ddof(conventions: StatisticsSpec, engine: Engine, metric_type: str) -> int:
    """What the arms' sums of squares are divided by: n - ddof."""
    if engine == "bayesian":
        return 0 if conventions.bayesian_variance == "n" else 1
    if metric_type == "binomial" and conventions.proportions != "welch":
        return 0  # the z tests of proportions use p (1 - p)
    return 1


def _welch(conventions: StatisticsSpec, engine: Engine, metric_type: str) -> bool:
    if engine != "fixed":
        return False
    if metric_type == "binomial":
        return conventions.proportions == "welch"
    if metric_type == "ratio":
        return conventions.ratios == "welch"
    return conventions.means == "welch"


def compare(
    control: Sums, treatment: Sums, metric_type: str, conventions: StatisticsSpec, engine: Engine
) -> Arms:
    """The unadjusted arm estimates and absolute lift of a metric."""
    scale = ddof(conventions, engine, metric_type)
    estimate = stats.ratio_estimate if metric_type == "ratio" else stats.mean_estimate
    e_c, e_t = estimate(control, scale), estimate(treatment, scale)
    pooled = conventions.proportions == "pooled_z" and engine == "fixed"
    if metric_type == "binomial" and pooled:
        return Arms(e_c, e_t, stats.pooled_proportion_lift(control, treatment))
    welch = _welch(conventions, engine, metric_type)
    return Arms(e_c, e_t, stats.absolute_lift(e_c, e_t, welch=welch))


def cuped_thetas(
    arms: Mapping[str, Sums], names: tuple[str, str], conventions: StatisticsSpec
) -> tuple[float, float]:
    """CUPED's theta for the control and the variant in `names`, from every arm's sums."""
    if conventions.cuped_theta == "per_arm":
        control, variant = names
        return float(stats.cuped_theta([arms[control]])), float(stats.cuped_theta([arms[variant]]))
    if conventions.cuped_theta == "total":
        everything = list(arms.values())
        theta = float(stats.cuped_theta([sum(everything[1:], everything[0])]))
    else:
        theta = float(stats.cuped_theta(list(arms.values())))
    return theta, theta


def cuped(
    arms: Mapping[str, Sums],
    names: tuple[str, str],
    metric_type: str,
    conventions: StatisticsSpec,
    engine: Engine,
) -> tuple[Arms, tuple[float, float]]:
    """The CUPED-adjusted estimates and lift, and the thetas used (control's, variant's)."""
    thetas = cuped_thetas(arms, names, conventions)
    covariate_mean = sum(a.c for a in arms.values()) / sum(a.n for a in arms.values())
    scale = 0 if engine == "bayesian" and conventions.bayesian_variance == "n" else 1
    e_c, e_t = (
        stats.cuped_estimate(arms[name], theta, covariate_mean, scale)
        for name, theta in zip(names, thetas, strict=True)
    )
    lift = stats.absolute_lift(e_c, e_t, welch=_welch(conventions, engine, metric_type))
    if conventions.cuped_relative == "adjusted":
        return Arms(e_c, e_t, lift), thetas
    base, covariance = stats.cuped_base(arms[names[0]], thetas[0], scale)
    return Arms(e_c, e_t, lift, base, covariance), thetas


def relative(arms: Arms, conventions: StatisticsSpec, engine: Engine) -> Lift:
    """The relative lift, on the log scale or with t degrees of freedom when the conventions
    ask for them (the sequential and Bayesian engines: normal, not on the log scale)."""
    if _log(conventions, engine):
        return stats.log_relative_lift(arms.control, arms.treatment)
    t = conventions.relative == "t" and engine == "fixed"
    df = stats.welch_df(arms.control, arms.treatment) if t else float("inf")
    return stats.relative_lift(arms.control, arms.treatment, df, arms.base, arms.base_covariance)


def relative_problem(
    arms: Arms, conventions: StatisticsSpec, engine: Engine, alpha: float
) -> str | None:
    """Why there is no relative lift (its base is too near 0, or the log of the arms'
    ratio is undefined), or None."""
    problem = stats.relative_problem(arms.base or arms.control, alpha)
    c, t = arms.control.value, arms.treatment.value
    if problem is None and _log(conventions, engine) and not t / c > 0:
        return (
            f"the variant's value {t:.6g} is not of the sign of the control's {c:.6g}: "
            "no log-scale relative lift (read the absolute one)"
        )
    return problem


def _log(conventions: StatisticsSpec, engine: Engine) -> bool:
    return conventions.relative == "log" and engine == "fixed"


def describe(conventions: StatisticsSpec, engine: Engine) -> str:
    """The conventions of an analysis in one line."""
    parts = []
    if engine == "fixed":
        parts += [
            f"proportions {_PROPORTIONS[conventions.proportions]}",
            f"means {'Welch t' if conventions.means == 'welch' else 'z'}",
            f"ratios {'Welch t' if conventions.ratios == 'welch' else 'z'}",
            _RELATIVE[conventions.relative],
        ]
    elif engine == "bayesian":
        parts.append(f"normal likelihood, variance / ({conventions.bayesian_variance})")
    else:
        parts.append("normal, relative lift by the delta method")
    parts.append(f"CUPED theta {_THETA[conventions.cuped_theta]}")
    if conventions.cuped_relative == "unadjusted":
        parts.append("CUPED relative lift over the unadjusted control mean")
    return "; ".join(parts)


_PROPORTIONS = {
    "welch": "Welch t",
    "pooled_z": "pooled z (Wald interval)",
    "unpooled_z": "unpooled z",
}
_RELATIVE = {
    "z": "relative lift delta method, z",
    "t": "relative lift delta method, t",
    "log": "relative lift delta method on the log ratio, t",
}
_THETA = {"within": "pooled within arms", "per_arm": "per arm", "total": "over all units"}
