"""One metric, one variant against the control: its figures by the chosen engine.

`compare` turns the two arms' sufficient statistics into a `Comparison` (see
`stats` for each method and its reference, `conventions` for the choices an
experiment's ``statistics:`` makes):

- ``fixed``: a fixed-horizon test; by default Welch t intervals for means and
  proportions, z for ratios and relative lifts; the p-value, which `analyze`
  then adjusts across variants x metrics.
- ``sequential``: always-valid intervals and p-values (an asymptotic
  confidence sequence tuned by ``sequential.planned_units``); safe to look at
  every day.
- ``bayesian``: posterior of each lift, chance to beat control and expected
  loss. No p-values.

With ``sided: one`` a primary or secondary metric is tested for an
improvement and a guardrail for a harm. CUPED, when the experiment sets it,
adjusts binomial and mean metrics; its interval is reported next to the
unadjusted one with the variance reduction achieved. A comparison that cannot
be made (too few units, a ratio's zero denominator, no variation yet) says why
in its note.
"""

from __future__ import annotations

from typing import Literal

from warehouse_kit.analytics.experiments import conventions, stats
from warehouse_kit.analytics.experiments.comparison import Comparison, Cuped
from warehouse_kit.analytics.experiments.spec import Experiment, RatioMetric
from warehouse_kit.analytics.experiments.sufficient import AnyMetric, ExperimentStats, uses_cuped

Engine = Literal["fixed", "sequential", "bayesian"]
ENGINES: tuple[Engine, ...] = ("fixed", "sequential", "bayesian")


def compare(
    experiment: Experiment, metric: AnyMetric, variant: str, sums: ExperimentStats, engine: Engine
) -> Comparison:
    """`variant` against the control on `metric`; its p-value is not adjusted yet and it has
    no verdict yet (`analyze_stats` does both, across all the comparisons)."""
    control = experiment.control_variant
    base = Comparison(
        metric=metric.name,
        type=metric.type,
        role=metric.role,
        variant=variant,
        higher_is_better=metric.higher_is_better,
        units=(sums.units.get(control, 0), sums.units.get(variant, 0)),
    )
    problem = _too_little(sums, metric, control, variant)
    if problem:
        return base.but(note=problem)
    arms = {name: by_metric[metric.name] for name, by_metric in sums.sums.items()}
    rules = experiment.statistics
    raw = conventions.compare(arms[control], arms[variant], metric.type, rules, engine)
    adjusted, thetas = raw, None
    if uses_cuped(experiment, metric):
        adjusted, thetas = conventions.cuped(arms, (control, variant), metric.type, rules, engine)
    e_c, e_t, lift = adjusted.control, adjusted.treatment, adjusted.lift
    if not lift.variance > 0:
        return base.but(
            control_value=e_c.value,
            variant_value=e_t.value,
            absolute=lift.estimate,
            note="no variation in this metric yet",
        )
    side = _side(experiment, metric)
    context = _Context(experiment, engine, side, sum(sums.units.values()))
    result = base.but(control_value=e_c.value, variant_value=e_t.value, absolute=lift.estimate)
    result = _with_absolute(result, lift, e_c, context)
    if thetas is not None:
        low, high = _interval(raw.lift, context, prior_sd=_absolute_prior(experiment, e_c))
        variance_reduction = 1 - lift.variance / raw.lift.variance
        theta, variant_theta = thetas
        per_arm = variant_theta if rules.cuped_theta == "per_arm" else None
        result = result.but(cuped=Cuped(theta, variance_reduction, (low, high), per_arm))
    return _with_relative(result, adjusted, context)


def _too_little(sums: ExperimentStats, metric: AnyMetric, control: str, variant: str) -> str:
    for name in (control, variant):
        if sums.units.get(name, 0) < 2 or name not in sums.sums:
            return f"too few units in {name} to compare"
    if isinstance(metric, RatioMetric):
        for name in (control, variant):
            if not sums.sums[name][metric.name].x > 0:
                return f"the denominator of {metric.name} is 0 in {name}: no ratio yet"
    return ""


class _Context:
    """What every interval of one analysis needs."""

    def __init__(self, experiment: Experiment, engine: Engine, side: stats.Side, units: int):
        self.experiment = experiment
        self.engine = engine
        self.side = side
        self.units = units
        self.alpha = experiment.alpha


def _interval(
    lift: stats.Lift, context: _Context, *, prior_sd: float | None
) -> tuple[float, float]:
    if context.engine == "fixed":
        low, high = stats.interval(lift, context.alpha, context.side)
    elif context.engine == "sequential":
        planned = planned_units(context.experiment)
        low, high = stats.sequential_interval(
            lift, context.alpha, context.units, planned, context.side
        )
    else:
        low, high = stats.posterior(lift, prior_sd).interval(context.alpha)
    return float(low), float(high)


def _with_absolute(
    result: Comparison, lift: stats.Lift, control: stats.Estimate, context: _Context
) -> Comparison:
    prior_sd = _absolute_prior(context.experiment, control)
    ci = _interval(lift, context, prior_sd=prior_sd)
    if context.engine == "bayesian":
        post = stats.posterior(lift, prior_sd)
        better = result.higher_is_better
        return result.but(
            absolute=float(post.mean),
            absolute_ci=ci,
            chance_to_beat=float(post.chance_to_beat(better)),
            expected_loss=float(post.expected_loss(better)),
        )
    if context.engine == "fixed":
        p = stats.p_value(lift, context.side)
    else:
        p = stats.sequential_p_value(
            lift, context.alpha, context.units, planned_units(context.experiment), context.side
        )
    return result.but(absolute_ci=ci, p_value=float(p))


def _with_relative(result: Comparison, arms: conventions.Arms, context: _Context) -> Comparison:
    """The relative lift, its interval and its p-value (Bayesian: expected loss), unless the
    control is too near 0; a caution in the note when its interval is rough."""
    rules = context.experiment.statistics
    problem = conventions.relative_problem(arms, rules, context.engine, context.alpha)
    if problem:
        return result.but(note=_joined(result.note, problem))
    lift = conventions.relative(arms, rules, context.engine)
    prior_sd = context.experiment.bayesian.prior_sd
    low, high = _interval(lift, context, prior_sd=prior_sd)
    caution = stats.relative_caution(arms.base or arms.control) or ""
    result = result.but(relative_ci=(low, high), note=_joined(result.note, caution))
    if context.engine == "bayesian":
        post = stats.posterior(lift, prior_sd)
        loss = post.expected_loss(result.higher_is_better)
        return result.but(relative=float(post.mean), relative_expected_loss=float(loss))
    if context.engine == "fixed":
        p = stats.p_value(lift, context.side)
    else:
        planned = planned_units(context.experiment)
        p = stats.sequential_p_value(lift, context.alpha, context.units, planned, context.side)
    return result.but(relative=float(lift.reported(lift.estimate)), relative_p_value=float(p))


def _joined(note: str, more: str) -> str:
    return "; ".join(part for part in (note, more) if part)


def _absolute_prior(experiment: Experiment, control: stats.Estimate) -> float | None:
    """The prior's sd on the absolute lift: the relative prior times the control's value."""
    prior_sd = experiment.bayesian.prior_sd
    if prior_sd is None or not control.value:
        return None
    return prior_sd * abs(float(control.value))


def planned_units(experiment: Experiment) -> int:
    """The units at which the sequential engine's intervals are narrowest."""
    assert experiment.sequential is not None  # checked by analyze_stats
    return experiment.sequential.planned_units


def _side(experiment: Experiment, metric: AnyMetric) -> stats.Side:
    if experiment.sided == "two":
        return "two"
    better_is_up = metric.higher_is_better
    if metric.role == "guardrail":  # a guardrail is watched for harm
        better_is_up = not better_is_up
    return "greater" if better_is_up else "less"
