"""The analytics file format: semantic models, metrics and saved queries.

Every file in ``analytics/`` has the same shape (each key optional)::

    models:    {name: SemanticModel}   # a fact table, its joins, time and computed dimensions
    metrics:   {name: Metric}          # measures, ratios, derived metrics
    metric:    Metric                  # a file holding one metric, named after the file
    queries:   {name: QueryOptions}    # saved queries (top categories, a cohort table...)

Problems become a one-line `ConfigError` naming the file and the key path:
``analytics/retail.yml: metrics.aov.type: unknown metric type 'ration'; did you
mean 'ratio'?``.
"""

from __future__ import annotations

import types
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, Field, ValidationError, model_validator

from warehouse_kit.errors import ConfigError, did_you_mean
from warehouse_kit.spec import Column, Columns, Expression, Name, Spec

GRAINS = ("day", "week", "month", "quarter", "year")
COMPARISONS = ("previous_period", "last_year")
MEASURE_TYPES = ("sum", "count", "count_distinct", "avg", "min", "max")
METRIC_TYPES = (*MEASURE_TYPES, "custom", "ratio", "derived")

Grain = Literal["day", "week", "month", "quarter", "year"]
Comparison = Literal["previous_period", "last_year"]


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_format(value: str | None) -> str | None:
    """A format spec that Python's format() takes (d3-format, which Altair uses, reads
    the common ones the same: ``,.2f``, ``.1%``, ``,d``)."""
    if value is None:
        return value
    for sample in (1234, 1234.5):
        try:
            format(sample, value)
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
    on: Annotated[list[Column], BeforeValidator(_one_or_many)] | dict[Column, Column]
    """Columns both sides share, or ``{this side: that side}``; this side is a column of
    the model's table or of an earlier many-to-one join (``dim_customer.customer_id``)."""
    relationship: Literal["many_to_one", "one_to_many"] = "many_to_one"
    """one_to_many: several rows of the joined table per row of the model's (a bridge or
    an attribute table); its columns group and filter, each fact counted once per value."""


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
    time: Column | None = None
    """The date or timestamp that periods (grains) and start/end apply to."""
    filter: Expression | None = None
    """Rows of the table the model keeps (its own and its joins' columns)."""
    joins: dict[Name, Annotated[Join, BeforeValidator(_join_short)]] = Field(default_factory=dict)
    """Added to the joins the catalog knows (a fact built with build_facts reaches each
    dimension by its surrogate key); a join of the same name replaces the catalog's."""
    dimensions: dict[Name, Annotated[Dimension, BeforeValidator(_dimension_short)]] = Field(
        default_factory=dict
    )


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


Metric = Annotated[Measure | Custom | Ratio | Derived, Field(discriminator="type")]


# --- queries --------------------------------------------------------------------------


class QueryOptions(Spec):
    """What a query asks for; also the shape of a saved query."""

    metrics: Annotated[list[Name], BeforeValidator(_one_or_many)] = Field(min_length=1)
    description: str = ""
    by: Columns = Field(default_factory=list)
    grain: Grain | None = None
    where: Annotated[list[Expression], BeforeValidator(_one_or_many)] = Field(default_factory=list)
    start: date | datetime | None = None
    end: date | datetime | None = None
    compare: Annotated[list[Comparison], BeforeValidator(_one_or_many)] = Field(
        default_factory=list
    )
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
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"start {self.start} is not before end {self.end}")
        return self


class AnalyticsFile(Spec):
    models: dict[Name, SemanticModel] = Field(default_factory=dict)
    metrics: dict[Name, Metric] = Field(default_factory=dict)
    metric: Metric | None = None
    """The one metric of a file named after it (``analytics/aov.yml``)."""
    queries: dict[Name, QueryOptions] = Field(default_factory=dict)


# --- errors ---------------------------------------------------------------------------


def parse(cls: type[Spec], data: Any, *, file: str, key_path: str = "") -> Any:
    """Validate `data` as `cls`; the first problem becomes a one-line `ConfigError`."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        path, keys = _locate(cls, tuple(error["loc"]))
        full = ".".join(part for part in (key_path, path) if part).replace(".[", "[")
        raise ConfigError(_describe(error, keys), file=file, key_path=full or None) from None


def _describe(error: Any, keys: list[str]) -> str:
    kind, loc, ctx = error["type"], error["loc"], error.get("ctx") or {}
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag", ""))
        hint = did_you_mean(tag, METRIC_TYPES) or f"; expected one of {', '.join(METRIC_TYPES)}"
        return f"unknown metric type {tag!r}{hint}"
    if kind == "union_tag_not_found":
        return f"missing key 'type': one of {', '.join(METRIC_TYPES)}"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        hint = did_you_mean(key, keys)
        return f"unknown key {key!r}{hint or '; expected one of ' + ', '.join(keys)}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    return str(error["msg"]).removeprefix("Value error, ")


def _locate(root: Any, loc: tuple[Any, ...]) -> tuple[str, list[str]]:
    """The key path of a pydantic error location, and the keys allowed where it ends.

    Walks the annotations, so a dict key (a metric's name) is kept while a union's
    tag (``sum`` in ``('metrics', 'revenue', 'sum', 'expr')``) is dropped.
    """
    annotation: Any = root
    path, keys = "", []
    for item in loc:
        keys = sorted(_keys(annotation))
        annotation, part = _step(annotation, item)
        if part.startswith("["):
            path += part
        elif part:
            path = f"{path}.{part}" if path else part
    return path, keys


def _step(annotation: Any, item: Any) -> tuple[Any, str]:
    """The annotation inside `annotation` at `item`, and the key path part `item` makes."""
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        field = _field(annotation, str(item))
        return (field.annotation if field else Any), str(item)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict:
        return args[1], str(item)
    if origin is list:
        return args[0], f"[{item}]"
    if origin in (Union, types.UnionType):
        # pydantic names the member it tried: a tag, or a type ("list[str]")
        member = next((arg for arg in args if item in _tags(arg)), annotation)
        return member, ""
    return Any, "" if isinstance(item, str) and "[" in item else str(item)


def _unwrap(annotation: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` are X."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def _keys(annotation: Any) -> set[str]:
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        return {field.alias or name for name, field in annotation.model_fields.items()}
    return set()


def _field(cls: type[BaseModel], key: str) -> Any:
    for name, field in cls.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _tags(annotation: Any) -> tuple[Any, ...]:
    """The values of a union member's ``type`` literal."""
    annotation = _unwrap(annotation)
    if not _is_model(annotation) or "type" not in annotation.model_fields:
        return ()
    return get_args(annotation.model_fields["type"].annotation)
