"""A/B tests: define an experiment, assign units, analyse it where the data lives.

An experiment is a YAML file in ``analytics/experiments/`` (or an `Experiment`
built in Python). Its analysis runs one aggregation in the warehouse, which
returns a few sums per variant (`sufficient`), and computes every statistic
from those sums (`stats`): no unit row ever reaches Python::

    from warehouse_kit import experiments

    result = experiments.analyze("checkout_redesign")            # the project's warehouse
    result = experiments.analyze("checkout_redesign", engine="sequential")
    result.comparison("conversion").absolute_ci
    result.conclusion()                                            # in plain language
    experiments.cumulative("checkout_redesign")                    # as of each day
    experiments.plan.sample_size(baseline=0.10, mde=0.05)         # units for a +5% lift

Modules: `spec` (the file format), `catalog` (a project's experiment files),
`assignment` (the hash), `sufficient` (the query), `sums` (what it returns per
arm), `stats` (the statistics, with the distributions of `distributions`),
`engines` (one comparison by engine), `analyze` (all of it together),
`result` (what it returns), `comparison` (a row of it), `conclusion` (its
prose), `table` (its table), `cumulative` (the analysis as of each day),
and `plan` (power, sample size, minimum detectable effect). The example data
is `warehouse_kit.demo.experiments`.
"""

from __future__ import annotations

from warehouse_kit.analytics.experiments.analyze import analyze, analyze_stats, audit_assignment
from warehouse_kit.analytics.experiments.assignment import assign, bucket, bucket_expr, variant_expr
from warehouse_kit.analytics.experiments.catalog import find_experiment, load_experiments
from warehouse_kit.analytics.experiments.comparison import Comparison
from warehouse_kit.analytics.experiments.cumulative import cumulative, daily_statistics
from warehouse_kit.analytics.experiments.engines import ENGINES
from warehouse_kit.analytics.experiments.result import ExperimentResult
from warehouse_kit.analytics.experiments.spec import Experiment, load_experiment, parse_experiment
from warehouse_kit.analytics.experiments.sufficient import ExperimentStats, sufficient_statistics

__all__ = [
    "ENGINES",
    "Comparison",
    "Experiment",
    "ExperimentResult",
    "ExperimentStats",
    "analyze",
    "analyze_stats",
    "assign",
    "audit_assignment",
    "bucket",
    "bucket_expr",
    "cumulative",
    "daily_statistics",
    "find_experiment",
    "load_experiment",
    "load_experiments",
    "parse_experiment",
    "sufficient_statistics",
    "variant_expr",
]
