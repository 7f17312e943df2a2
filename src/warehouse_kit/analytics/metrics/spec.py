"""The analytics file format: semantic models, metrics and saved queries.

Every file in ``analytics/`` has the same shape (each key optional)::

    models:    {name: SemanticModel}   # a fact table, its joins, time and computed dimensions
    metrics:   {name: Metric}          # measures, ratios, derived metrics
    metric:    Metric                  # a file holding one metric, named after the file
    queries:   {name: QueryOptions}    # saved queries (top categories, a cohort table...)

`warehouse_kit.core.config.parse` turns a problem into a one-line `ConfigError` naming
the file and the key path: ``analytics/retail.yml: metrics.aov: unknown metric
type 'ration'; did you mean 'ratio'?``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from warehouse_kit.core.config import Column, Columns, Expression, Name, Spec, one_or_many

GRAINS = ("day", "week", "month", "quarter", "year")
COMPARISONS = ("previous_period", "last_year")

Grain = Literal["day", "week", "month", "quarter", "year"]
Comparison = Literal["previous_period", "last_year"]


def _many(item: Any) -> BeforeValidator:
    """One `item` or a list of them."""
    return BeforeValidator(one_or_many, json_schema_input_type=item | list[item])


def _check_format(value: str | None) -> str | None:
    """A format spec that Python's format() takes (d3-format, which Altair uses, reads
    the common ones the same: ``,.2f``, ``.1%``, ``,d``), after a currency symbol if any
    (``$,.2f``)."""
    if value is None:
        return value
    plain = value[1:] if value[:1] in ("$", "€", "£", "¥") else value
    for sample in (1234, 1234.5):
        try:
            format(sample, plain)
            return value
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a format spec: try ',.2f', ',d' or '.1%'")


# --- semantic models ----------------------------------------------------------------


class Join(Spec):
    """How the model's table reaches another table."""

    table: str | None = None
    """A model of the project (``dim_customer``, ``gold.dim_customer``) or ``schema.table``;
    default: the join's name, a model or a table in the schema of the model's table."""
    on: Columns | dict[Column, Column]
    """Columns both sides share, or ``{this side: that side}``; this side is a column of
    the model's table or of an earlier many-to-one join (``dim_customer.customer_id``)."""
    relationship: Literal["many_to_one", "one_to_many"] = "many_to_one"
    """one_to_many: several rows of the joined table per row of the model's (a bridge or
    an attribute table); its columns group and filter, each fact counted once per value.
    many_to_one: the joined table's `on` columns are its key (one row each, checked)."""
    type: Literal["left", "inner"] = "left"
    """inner: rows of the model with no match drop out of every query that uses the
    join's columns (faster than left where every row matches)."""


class Dimension(Spec):
    """A computed column of the model, usable wherever a column is."""

    expr: Expression
    """A SQL expression over the model's columns; with `per`, an aggregate."""
    per: Columns | None = None
    """Aggregate `expr` per these columns over all the model's rows (whatever a query
    filters): ``per: dim_customer.customer_id`` with ``min(dim_date.date)`` is each
    customer's first order date."""
    description: str = ""


def _join_short(value: Any) -> Any:
    return {"on": value} if isinstance(value, str | list) else value


def _dimension_short(value: Any) -> Any:
    return {"expr": value} if isinstance(value, str) else value


class SemanticModel(Spec):
    """A fact table and how to reach its dimensions."""

    table: str
    """A model of the project (``gold.fact_orders``) or ``schema.table``."""
    description: str = ""
    key: Columns | None = None
    """The columns that identify a row of the table (its grain); default: what the
    pipeline knows (a dimension's surrogate key, an incremental model's unique_key,
    a unique or unique_keys check that rejects)."""
    time: Column | list[Column] | dict[Name, Column] | None = None
    """The date or timestamp that periods (grains) and start/end apply to; several as a
    list (each named by its column) or a mapping of names; the first is the default and
    a query picks another by name (``time: signup_date``)."""
    filter: Expression | None = None
    """Rows of the table the model keeps (its own and its joins' columns)."""
    joins: dict[
        Name,
        Annotated[
            Join,
            BeforeValidator(_join_short, json_schema_input_type=Column | list[Column] | Join),
        ],
    ] = Field(default_factory=dict)
    """Added to the joins the catalog knows (a fact built with build_facts reaches each
    dimension by its surrogate key); a join of the same name replaces the catalog's."""
    dimensions: dict[
        Name,
        Annotated[
            Dimension,
            BeforeValidator(_dimension_short, json_schema_input_type=Expression | Dimension),
        ],
    ] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_times(self) -> SemanticModel:
        if isinstance(self.time, list):
            names = [column.rsplit(".", 1)[-1] for column in self.time]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(
                    f"two time columns are named {twice[0]!r}: name them in a mapping "
                    "(time: {order_date: dim_date.date, ...})"
                )
        return self

    def time_columns(self) -> dict[str, str]:
        """Each time column's name and column reference, the default first."""
        if self.time is None:
            return {}
        if isinstance(self.time, dict):
            return dict(self.time)
        columns = [self.time] if isinstance(self.time, str) else self.time
        return {column.rsplit(".", 1)[-1]: column for column in columns}


# --- metrics --------------------------------------------------------------------------


class MetricSpec(Spec):
    label: str | None = None
    description: str = ""
    format: Annotated[str | None, BeforeValidator(_check_format)] = None
    """How to show values: a format spec (``,.2f``, ``,d``, ``.1%``)."""


class Measure(MetricSpec):
    """An aggregate of one expression over the model's rows."""

    type: Literal["sum", "count", "count_distinct", "avg", "min", "max"]
    expr: Expression | None = None
    """A SQL expression over the model's columns (count without it counts rows)."""
    filter: Expression | None = None
    """Only rows where this SQL condition holds count (FILTER (WHERE ...))."""
    model: Name | None = None
    """Default: the model of the same file, or the only model there is."""
    additive: bool | None = None
    """Whether values over periods add up to the value over them all, which cumulative
    and rolling windows need: true for sum and count; for count_distinct, say true when
    a value never repeats across periods (an order id has one date), not for customers."""

    @model_validator(mode="after")
    def _has_expr(self) -> Measure:
        if self.expr is None and self.type != "count":
            raise ValueError(f"a {self.type} metric needs expr: the value to aggregate")
        return self


class Custom(MetricSpec):
    """A SQL aggregate expression: ``sum(amount) / count(DISTINCT order_id)``."""

    type: Literal["custom"]
    expr: Expression
    filter: Expression | None = None
    """Applied to every aggregate of `expr`."""
    model: Name | None = None


class Ratio(MetricSpec):
    """One metric divided by another (NULL when the denominator is 0)."""

    type: Literal["ratio"]
    numerator: Name
    denominator: Name


class Derived(MetricSpec):
    """A SQL expression over other metrics: ``active_customers - new_customers``."""

    type: Literal["derived"]
    expr: Expression


Metric = Annotated[
    Measure | Custom | Ratio | Derived, Field(discriminator="type", title="metric type")
]


# --- queries --------------------------------------------------------------------------


class QueryOptions(Spec):
    """What a query asks for; also the shape of a saved query."""

    metrics: Annotated[list[Name], _many(Name)] = Field(min_length=1)
    description: str = ""
    by: Columns = Field(default_factory=list)
    """Columns (``segment``, ``dim_product.category``) or named SQL expressions over
    them (``date_trunc('quarter', dim_date.date) AS quarter``)."""
    grain: Grain | None = None
    time: Column | None = None
    """Which of the models' time columns a grain, start and end apply to (by name;
    default: each model's first)."""
    where: Annotated[list[Expression], _many(Expression)] = Field(default_factory=list)
    having: Annotated[list[Expression], _many(Expression)] = Field(default_factory=list)
    """SQL conditions on the result's columns (metrics, groups, the period), after
    ratios, derived metrics, windows and comparisons are computed."""
    start: date | datetime | None = None
    end: date | datetime | None = None
    compare: Annotated[list[Comparison], _many(Comparison)] = Field(default_factory=list)
    cumulative: bool = False
    rolling: int | None = Field(default=None, ge=2)
    order_by: Columns = Field(default_factory=list)
    limit: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _needs_grain(self) -> QueryOptions:
        asked = [
            name
            for name, value in (
                ("compare", self.compare),
                ("cumulative", self.cumulative),
                ("rolling", self.rolling),
            )
            if value
        ]
        if asked and self.grain is None:
            raise ValueError(f"{', '.join(asked)} needs a grain (day, week, month...)")
        bounded = self.start is not None or self.end is not None
        if self.time is not None and self.grain is None and not bounded:
            raise ValueError(f"time: {self.time!r} needs a grain, start or end to apply to")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        return self


class AnalyticsFile(Spec):
    models: dict[Name, SemanticModel] = Field(default_factory=dict)
    metrics: dict[Name, Metric] = Field(default_factory=dict)
    metric: Metric | None = None
    """The one metric of a file named after it (``analytics/aov.yml``)."""
    queries: dict[Name, QueryOptions] = Field(default_factory=dict)
