"""Analyse an experiment: one aggregation for its sufficient statistics, then the statistics.

`analyze` runs the aggregation of `sufficient` in the warehouse and hands the
few numbers it returns to `analyze_stats`, which compares every variant with
the control on every metric with the chosen engine (``fixed``,
``sequential`` or ``bayesian``; `engines` computes each comparison), adjusts
the p-values across variants x metrics (Holm or Benjamini-Hochberg; the
Bayesian engine has none to adjust), gives each comparison its verdict, and
returns an `ExperimentResult`. A comparison is significant when its adjusted
p-value is below alpha; with the Bayesian engine a variant is called better
(worse) when its chance to beat control is at least 1 - alpha (at most
alpha). A sample ratio mismatch (or crossovers, or units in unknown variants)
is reported in `warnings` and makes every lift suspect.

`audit_assignment` checks the logged variants against the hash; `catalog`
finds an experiment by its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from warehouse_kit.analytics.experiments import conventions, family
from warehouse_kit.analytics.experiments.assignment import AssignmentAudit, audit
from warehouse_kit.analytics.experiments.catalog import find_experiment
from warehouse_kit.analytics.experiments.comparison import Comparison
from warehouse_kit.analytics.experiments.engines import ENGINES, Engine, compare, planned_units
from warehouse_kit.analytics.experiments.result import ExperimentResult
from warehouse_kit.analytics.experiments.spec import Experiment, StatisticsSpec, parse_experiment
from warehouse_kit.analytics.experiments.sufficient import (
    ExperimentStats,
    analysis_window,
    exposed_units,
    logged_variants,
    sufficient_statistics,
    variant_names,
)
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.project import Project


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
        compare(experiment, metric, variant, sums, engine)
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
        settings["planned_units"] = planned_units(experiment)
    if engine == "bayesian":
        settings["prior_sd"] = experiment.bayesian.prior_sd
    if experiment.cuped is not None:
        settings["cuped_pre_period_days"] = experiment.cuped.pre_period_days
    settings["statistics"] = experiment.statistics.model_dump()
    settings["conventions"] = conventions.describe(experiment.statistics, engine)
    return settings
