"""The experiment file format, as frozen pydantic models.

An experiment file (``analytics/experiments/<key>.yml``) has one top-level
key, ``experiment``, holding an `Experiment`::

    experiment:
      key: checkout_redesign              # hashed with each unit id to assign it a variant
      variants: {control: 50, treatment: 50}   # name: weight; the first is the control
      start: 2025-03-03                   # first day (00:00)
      end: 2025-03-16                     # last day, included (a timestamp: excluded)
      exposures:
        table: gold.exposures
        unit: user_id
        variant: variant
        timestamp: exposed_at
        where: "experiment = 'checkout_redesign'"
      events: {table: gold.events, unit: user_id, timestamp: event_at}
      metrics:
        - {name: conversion, type: binomial, where: "event_type = 'purchase'"}
        - {name: revenue, type: mean, value: amount, where: "event_type = 'purchase'"}
        - {name: order_value, type: ratio, numerator: amount, denominator: "1",
           where: "event_type = 'purchase'"}
      cuped: {pre_period_days: 28}
      alpha: 0.05
      sided: two                          # or one: each metric's better (guardrails: worse) side
      engine: fixed                       # fixed | sequential | bayesian
      correction: holm                    # holm | bh | none, across variants x metrics
      statistics: {proportions: pooled_z}  # the conventions (`StatisticsSpec`)

Every metric is a per-unit aggregate over an events table, counted from the
unit's first exposure to the end of the experiment: `binomial` (1 when any
event matches `where`, else 0), `mean` (the sum of `value` over the
matching events; 0 without any) and `ratio` (the sum of `numerator` over the
sum of `denominator`, over all units of an arm). SQL goes through
`warehouse_kit.core.sqlexpr`, never into SQL text. The same models can be built in
Python: ``Experiment(key=..., variants={...}, ...)``.

`load_experiment` turns every problem into a one-line `ConfigError` naming the
file and the key path.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, PrivateAttr, field_validator, model_validator

from warehouse_kit.core.config import (
    Column,
    Expression,
    Name,
    Spec,
    parse,
)
from warehouse_kit.core.errors import ConfigError, did_you_mean
from warehouse_kit.core.yamlfile import read_yaml, resolve_variables

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


def _check_table(value: str) -> str:
    if not _TABLE.match(value):
        raise ValueError(f"{value!r} is not a table: write schema.table (gold.exposures)")
    return value


TableName = Annotated[
    str, AfterValidator(_check_table), Field(json_schema_extra={"pattern": _TABLE.pattern})
]
"""``schema.table``: a table already in the warehouse."""


class ExposuresSpec(Spec):
    """Where exposures are logged: one row each time a unit saw a variant."""

    table: TableName
    unit: Column = "user_id"
    variant: Column = "variant"
    timestamp: Column = "exposed_at"
    where: Expression | None = None
    """Rows of this experiment, when the table holds several (``experiment = 'x'``)."""


class EventsSpec(Spec):
    """A table of events that metrics aggregate per unit."""

    table: TableName
    unit: Column = "user_id"
    timestamp: Column = "event_at"


class MetricBase(Spec):
    name: Name
    role: Literal["primary", "secondary", "guardrail"] = "secondary"
    where: Expression | None = None
    """Which events count (a row-level SQL condition); default: every event."""
    events: EventsSpec | None = None
    """The table to aggregate (default: the experiment's `events`)."""
    higher_is_better: bool = True
    cuped: bool = True
    """Adjust with the metric's own pre-period value, when the experiment sets `cuped`."""
    description: str = ""


class BinomialMetric(MetricBase):
    """1 for a unit with at least one matching event after its first exposure, else 0."""

    type: Literal["binomial"]


class MeanMetric(MetricBase):
    """The sum of `value` over a unit's matching events (0 with none), averaged over units."""

    type: Literal["mean"]
    value: Expression


class RatioMetric(MetricBase):
    """sum(numerator) / sum(denominator) over an arm's units (revenue per order), by the
    delta method. Not adjusted by CUPED."""

    type: Literal["ratio"]
    numerator: Expression
    denominator: Expression


Metric = Annotated[
    BinomialMetric | MeanMetric | RatioMetric, Field(discriminator="type", title="metric type")
]


class CupedSpec(Spec):
    """The covariate of CUPED: each metric over the `pre_period_days` before a unit's
    first exposure."""

    pre_period_days: int = Field(gt=0, le=366)


class SequentialSpec(Spec):
    """The tuning of the sequential engine's confidence sequence."""

    planned_units: int = Field(gt=0)
    """The number of exposed units (all variants) at which the intervals are narrowest."""


class BayesianSpec(Spec):
    prior_sd: float | None = Field(default=None, gt=0)
    """The standard deviation of a normal prior on the relative lift, centred on 0
    (0.1: most changes move a metric by less than 20%). None: a flat prior."""


class StatisticsSpec(Spec):
    """Which convention each statistic follows (`conventions` names each one's reference).

    The defaults are the conventions warehouse-kit has always used.
    """

    proportions: Literal["welch", "pooled_z", "unpooled_z"] = "welch"
    """A binomial metric's fixed-horizon test: Welch's t on the 0/1 values (scipy
    ``ttest_ind(equal_var=False)``), the pooled two-proportion z test (statsmodels
    ``proportions_ztest``) or the unpooled (Wald) z test."""
    means: Literal["welch", "z"] = "welch"
    """A mean metric's fixed-horizon test: Welch's t, or z with the same variances."""
    ratios: Literal["z", "welch"] = "z"
    """A ratio metric's fixed-horizon test: z on the delta-method variances, or t with the
    Welch-Satterthwaite degrees of freedom of those variances (GrowthBook)."""
    relative: Literal["z", "t", "log"] = "z"
    """The relative lift's fixed-horizon interval: the delta method on ``(t - c) / |c|``
    with z, or with t on the Welch-Satterthwaite degrees of freedom of the absolute lift
    (GrowthBook); or ``log``: the delta method on ``log(t / c)`` with t on the Welch
    degrees of freedom of the log-scale variances, exponentiated (tea-tasting)."""
    cuped_theta: Literal["within", "per_arm", "total"] = "within"
    """CUPED's slope: pooled within arms (OLS with a dummy per arm), each arm's own
    (Lin 2013's interacted regression), or over every unit ignoring the arms (GrowthBook,
    tea-tasting)."""
    cuped_relative: Literal["adjusted", "unadjusted"] = "adjusted"
    """What CUPED's relative lift divides the adjusted difference by: the adjusted control
    mean, or the unadjusted one (GrowthBook)."""
    bayesian_variance: Literal["n-1", "n"] = "n-1"
    """The per-unit variance in the Bayesian engine's likelihood: divided by n - 1 (the
    sample variance) or by n (GrowthBook's ``p (1 - p)`` for proportions)."""

    @model_validator(mode="after")
    def _coherent(self) -> StatisticsSpec:
        if self.relative == "log" and self.cuped_relative == "unadjusted":
            raise ValueError(
                "relative: log is the ratio of the two arms' adjusted means; "
                "it has no unadjusted CUPED denominator: drop cuped_relative: unadjusted"
            )
        return self


class Experiment(Spec):
    key: Name
    description: str = ""
    variants: dict[str, float]
    """Variant name: weight (any positive numbers; they are normalised)."""
    control: str | None = None
    """The variant others are compared with (default: the first)."""
    start: date | datetime
    end: date | datetime
    exposures: ExposuresSpec
    events: EventsSpec | None = None
    metrics: list[Metric] = Field(min_length=1)
    cuped: CupedSpec | None = None
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    sided: Literal["two", "one"] = "two"
    engine: Literal["fixed", "sequential", "bayesian"] = "fixed"
    correction: Literal["holm", "bh", "none"] = "holm"
    srm_alpha: float = Field(default=0.001, gt=0, lt=0.5)
    """The p-value under which the split of units is flagged as a sample ratio mismatch."""
    sequential: SequentialSpec | None = None
    bayesian: BayesianSpec = Field(default_factory=BayesianSpec)
    statistics: StatisticsSpec = Field(default_factory=StatisticsSpec)
    _file: str | None = PrivateAttr(default=None)

    @property
    def file(self) -> str | None:
        """The file the definition came from, for messages (None when built in Python)."""
        return self._file

    @field_validator("variants")
    @classmethod
    def _positive_weights(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) < 2:
            raise ValueError("an experiment needs at least two variants: a control and another")
        for name, weight in value.items():
            if not name.strip():
                raise ValueError("a variant needs a name")
            if not weight > 0:
                raise ValueError(f"variant {name!r}: a weight must be positive, not {weight}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        if self.control is not None and self.control not in self.variants:
            known = ", ".join(self.variants)
            raise ValueError(f"control {self.control!r} is not a variant ({known})")
        if self.window()[1] <= self.window()[0]:
            raise ValueError("end must come after start")
        names = [metric.name for metric in self.metrics]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique: {', '.join(repeated)}")
        if self.events is None:
            missing = [m.name for m in self.metrics if m.events is None]
            if missing:
                raise ValueError(f"metrics {', '.join(missing)} need events: (or the experiment's)")
        if self.engine == "sequential" and self.sequential is None:
            raise ValueError("engine sequential needs sequential: {planned_units: N}")
        return self

    @property
    def control_variant(self) -> str:
        return self.control or next(iter(self.variants))

    @property
    def treatments(self) -> list[str]:
        return [name for name in self.variants if name != self.control_variant]

    def weights(self) -> dict[str, float]:
        """Each variant's share of units (summing to 1)."""
        total = sum(self.variants.values())
        return {name: weight / total for name, weight in self.variants.items()}

    def window(self) -> tuple[datetime, datetime]:
        """[start, end): a date `end` is included whole."""
        start = _as_datetime(self.start)
        end = _as_datetime(self.end)
        if not isinstance(self.end, datetime):
            end += timedelta(days=1)
        return start, end

    def events_of(self, metric: BinomialMetric | MeanMetric | RatioMetric) -> EventsSpec:
        events = metric.events or self.events
        assert events is not None  # checked by _consistent
        return events

    def metric(self, name: str) -> BinomialMetric | MeanMetric | RatioMetric:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        known = [m.name for m in self.metrics]
        raise ConfigError(
            f"no metric {name!r}{did_you_mean(name, known)}; metrics: {', '.join(known)}",
            file=self.file,
        )

    def where(self, key_path: str) -> str:
        """``file: key.path`` for messages."""
        return f"{self.file}: {key_path}" if self.file else key_path


def _as_datetime(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


class ExperimentFile(Spec):
    """An experiment file: its one key, ``experiment``."""

    experiment: Experiment


# --- loading --------------------------------------------------------------------


def load_experiment(path: Path, *, display: str | None = None) -> Experiment:
    """Read and validate an experiment file."""
    file = display or str(path)
    data = read_yaml(path, display=file)
    data = resolve_variables(data, file=file, environ=os.environ)
    experiment = parse_experiment(data, file=file)
    experiment._file = file
    return experiment


def parse_experiment(data: Any, *, file: str) -> Experiment:
    """Validate ``{experiment: {...}}``, turning the first problem into a `ConfigError`."""
    return parse(ExperimentFile, data, file=file).experiment
