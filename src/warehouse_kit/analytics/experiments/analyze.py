"""Analyse an experiment: one aggregation for its sufficient statistics, then the statistics.

`analyze` runs the aggregation of `sufficient` in the warehouse and hands the
few numbers it returns to `analyze_stats`, which compares every variant with
the control on every metric with the chosen engine (see `stats` for each
method and its reference):

- ``fixed``: a fixed-horizon test; by default Welch t intervals for means and
  proportions, z for ratios and relative lifts (the experiment's ``statistics:``
  picks other conventions, see `conventions`); p-values adjusted across
  variants x metrics (Holm or Benjamini-Hochberg); a comparison is
  significant when its adjusted p-value is below alpha.
- ``sequential``: always-valid intervals and p-values (an asymptotic
  confidence sequence tuned by ``sequential.planned_units``), adjusted the same
  way; safe to look at every day.
- ``bayesian``: posterior of each lift, chance to beat control and expected
  loss; a variant is called better (worse) when its chance to beat control
  is at least 1 - alpha (at most alpha). No p-values, no correction.

With ``sided: one`` a primary or secondary metric is tested for an
improvement and a guardrail for a harm. CUPED, when the experiment sets it,
adjusts binomial and mean metrics; its interval is reported next to the
unadjusted one with the variance reduction achieved. A sample ratio mismatch
(or crossovers, or units in unknown variants) is reported in `warnings` and
makes every lift suspect.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from warehouse_kit.analytics.experiments import conventions, family, stats
from warehouse_kit.analytics.experiments.assignment import AssignmentAudit, audit
from warehouse_kit.analytics.experiments.comparison import Comparison, Cuped
from warehouse_kit.analytics.experiments.result import ExperimentResult
from warehouse_kit.analytics.experiments.spec import (
    Experiment,
    RatioMetric,
    StatisticsSpec,
    load_experiment,
    parse_experiment,
)
from warehouse_kit.analytics.experiments.sufficient import (
    AnyMetric,
    ExperimentStats,
    analysis_window,
    exposed_units,
    logged_variants,
    sufficient_statistics,
    uses_cuped,
    variant_names,
)
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError, did_you_mean
from warehouse_kit.core.project import Project

Engine = Literal["fixed", "sequential", "bayesian"]
ENGINES: tuple[Engine, ...] = ("fixed", "sequential", "bayesian")
FOLDER = Path("analytics") / "experiments"
"""Where a project's experiment files are."""


# --- finding experiments -------------------------------------------------------------------


def experiment_files(project: Project) -> list[Path]:
    folder = project.root / FOLDER
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def load_experiments(project: Project | str | Path = ".") -> dict[str, Experiment]:
    """Every experiment of the project (``analytics/experiments/*.yml``), by key."""
    project = Project.of(project)
    found: dict[str, Experiment] = {}
    for path in experiment_files(project):
        experiment = load_experiment(path, display=project.display(path))
        if experiment.key in found:
            raise ConfigError(
                f"key {experiment.key!r} is also the key of {found[experiment.key].file}",
                file=experiment.file,
                key_path="experiment.key",
            )
        found[experiment.key] = experiment
    return found


def find_experiment(key: str, project: Project | str | Path = ".") -> Experiment:
    """The experiment with this key, or in this file."""
    project = Project.of(project)
    path = Path(key)
    if path.suffix in (".yml", ".yaml"):
        return load_experiment(path, display=project.display(path))
    experiments = load_experiments(project)
    if key not in experiments:
        known = ", ".join(experiments) or "none"
        folder = project.display(project.root / FOLDER)
        raise ConfigError(
            f"no experiment {key!r} in {folder}{did_you_mean(key, experiments)}; "
            f"experiments: {known}"
        )
    return experiments[key]


# --- analysis ------------------------------------------------------------------------------


def analyze(
    experiment: Experiment | str,
    *,
    project: Project | str | Path = ".",
    target: str | None = None,
    warehouse: Warehouse | None = None,
    engine: Engine | None = None,
    as_of: datetime | None = None,
    statistics: StatisticsSpec | dict[str, str] | None = None,
) -> ExperimentResult:
    """Analyse an experiment (or the experiment with this key) where its data lives.

    `warehouse` is used as it is (and left open); otherwise the project's
    warehouse (or `target`) is opened read-only for the query. `as_of` cuts
    the data as it stood then: a peek at an earlier day. `statistics` replaces
    the experiment's conventions (``{"proportions": "pooled_z"}``).
    """
    project = Project.of(project)
    if isinstance(experiment, str):
        experiment = find_experiment(experiment, project)
    with opened_warehouse(project, target, warehouse) as opened:
        sums = sufficient_statistics(opened, experiment, as_of)
    return analyze_stats(experiment, sums, engine=engine, statistics=statistics)


def audit_assignment(
    experiment: Experiment | str,
    *,
    project: Project | str | Path = ".",
    target: str | None = None,
    warehouse: Warehouse | None = None,
) -> AssignmentAudit:
    """Compare each exposed unit's logged variant with the one the hash assigns."""
    project = Project.of(project)
    if isinstance(experiment, str):
        experiment = find_experiment(experiment, project)
    with opened_warehouse(project, target, warehouse) as opened:
        window = analysis_window(experiment, None)
        logged = logged_variants(opened, experiment, window)
        units = exposed_units(opened, experiment, window, logged)
        units = units.filter(units.code.notnull())
        units = units.select("unit", variant=variant_names(units.code, logged))
        return audit(opened, units, experiment.key, experiment.variants)


def opened_warehouse(project: Project, target: str | None, warehouse: Warehouse | None) -> Any:
    """`warehouse` left open, or the project's opened read-only for a `with` block."""
    if warehouse is not None:
        return nullcontext(warehouse)
    return project.reading(target)


def analyze_stats(
    experiment: Experiment,
    sums: ExperimentStats,
    *,
    engine: Engine | None = None,
    statistics: StatisticsSpec | dict[str, str] | None = None,
) -> ExperimentResult:
    """The statistics, from the sufficient statistics alone (`statistics`, when given,
    replaces the experiment's conventions)."""
    engine = engine or experiment.engine
    if statistics is not None:
        experiment = _with_statistics(experiment, statistics)
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    if engine == "sequential" and experiment.sequential is None:
        raise ConfigError(
            "the sequential engine needs sequential: {planned_units: N} "
            "(the units at which its intervals are narrowest; wk ab plan gives one)",
            file=experiment.file,
            key_path="experiment",
        )
    srm = family.sample_ratio_mismatch(sums.units, experiment.weights(), experiment.srm_alpha)
    comparisons = [
        _compare(experiment, metric, variant, sums, engine)
        for metric in experiment.metrics
        for variant in experiment.treatments
    ]
    if engine != "bayesian":
        comparisons = _corrected(comparisons, experiment)
    comparisons = [comparison.with_verdict(experiment.alpha) for comparison in comparisons]
    return ExperimentResult(
        experiment=experiment.key,
        engine=engine,
        alpha=experiment.alpha,
        sided=experiment.sided,
        correction=experiment.correction if engine != "bayesian" else "none",
        window=sums.window or experiment.window(),
        control=experiment.control_variant,
        units=sums.units,
        srm=srm,
        crossovers=sums.crossovers,
        unknown_variants=sums.unknown,
        comparisons=comparisons,
        warnings=_warnings(srm, sums),
        settings=_settings(experiment, engine),
    )


def _with_statistics(
    experiment: Experiment, statistics: StatisticsSpec | dict[str, str]
) -> Experiment:
    """The experiment with other conventions, validated as the YAML's would be."""
    if isinstance(statistics, dict):
        data = {"experiment": {**experiment.model_dump(), "statistics": statistics}}
        statistics = parse_experiment(data, file=experiment.file or "statistics").statistics
    changed = experiment.model_copy(update={"statistics": statistics})
    changed._file = experiment.file
    return changed


def _compare(
    experiment: Experiment, metric: AnyMetric, variant: str, sums: ExperimentStats, engine: Engine
) -> Comparison:
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
        planned = _planned(context.experiment)
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
            lift, context.alpha, context.units, _planned(context.experiment), context.side
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
        planned = _planned(context.experiment)
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


def _planned(experiment: Experiment) -> int:
    assert experiment.sequential is not None  # checked by analyze_stats
    return experiment.sequential.planned_units


def _side(experiment: Experiment, metric: AnyMetric) -> stats.Side:
    if experiment.sided == "two":
        return "two"
    better_is_up = metric.higher_is_better
    if metric.role == "guardrail":  # a guardrail is watched for harm
        better_is_up = not better_is_up
    return "greater" if better_is_up else "less"


def _corrected(comparisons: Sequence[Comparison], experiment: Experiment) -> list[Comparison]:
    tested = [i for i, c in enumerate(comparisons) if c.p_value is not None]
    p_values = [comparisons[i].p_value or 0.0 for i in tested]
    adjusted = dict(zip(tested, family.adjust(p_values, experiment.correction), strict=True))
    return [
        comparison.but(p_adjusted=adjusted[index]) if index in adjusted else comparison
        for index, comparison in enumerate(comparisons)
    ]


def _warnings(srm: family.SrmTest, sums: ExperimentStats) -> list[str]:
    warnings = []
    if srm.mismatch:
        split = ", ".join(f"{name} {count:,}" for name, count in srm.observed.items())
        expected = ", ".join(f"{name} {count:,.0f}" for name, count in srm.expected.items())
        warnings.append(
            f"SAMPLE RATIO MISMATCH: units {split} against {expected} expected "
            f"(chi-square p = {srm.p_value:.3g} < {srm.alpha}); the assignment or the exposure "
            "logging is broken, so no lift below can be trusted"
        )
    if sums.crossovers:
        warnings.append(
            f"{sums.crossovers:,} units were logged in more than one variant and are left out"
        )
    for name, count in sums.unknown.items():
        warnings.append(f"{count:,} units were logged in variant {name!r}, which is not declared")
    return warnings


def _settings(experiment: Experiment, engine: Engine) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if engine == "sequential":
        settings["planned_units"] = _planned(experiment)
    if engine == "bayesian":
        settings["prior_sd"] = experiment.bayesian.prior_sd
    if experiment.cuped is not None:
        settings["cuped_pre_period_days"] = experiment.cuped.pre_period_days
    settings["statistics"] = experiment.statistics.model_dump()
    settings["conventions"] = conventions.describe(experiment.statistics, engine)
    return settings
