"""Measures: a metric of one model, as an Ibis aggregate over that model's rows.

``sum``, ``count``, ``count_distinct``, ``avg``, ``min`` and ``max`` aggregate
one SQL expression; ``custom`` is a SQL aggregate expression. A metric's
``filter`` becomes the aggregate's FILTER (WHERE ...), so metrics with
different filters share one scan. ``avg`` is a DOUBLE on every engine.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.common.exceptions import IbisError

from warehouse_kit.analytics.metrics.layer import MetricDef
from warehouse_kit.analytics.metrics.relation import condition
from warehouse_kit.analytics.metrics.spec import Custom, Measure
from warehouse_kit.analytics.metrics.star import Compiled, Star
from warehouse_kit.core.errors import ConfigError, first_line
from warehouse_kit.core.sqlexpr import translate

ADDITIVE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}
"""Measure types whose values over periods combine into the value over them all,
and how (a count of the periods is the sum of their counts)."""

_Reduce = Callable[[ir.Value, ir.BooleanValue | None], ir.Scalar]
_REDUCTIONS: dict[str, _Reduce] = {
    "sum": lambda value, where: value.sum(where=where),
    "count": lambda value, where: value.count(where=where),
    "count_distinct": lambda value, where: value.nunique(where=where),
    # cast first: ibis drops a cast of mean() to float64, and PostgreSQL's avg of integers
    # is a numeric
    "avg": lambda value, where: value.cast(dt.float64).mean(where=where),
    "min": lambda value, where: value.min(where=where),
    "max": lambda value, where: value.max(where=where),
}


def expressions(metric: MetricDef, star: Star) -> list[Compiled]:
    """A measure's SQL (its expression and filter), with canonical column names."""
    spec = metric.spec
    assert isinstance(spec, Measure | Custom)
    found = []
    for key in ("expr", "filter"):
        sql = getattr(spec, key)
        if sql:
            found.append(star.compile(sql, metric.where.prefix(key)))
    return found


def aggregate(
    metric: MetricDef, star: Star, rows: ir.Table, *, kept: str | None = None
) -> ir.Scalar:
    """The measure over `rows` (which hold the fields of `expressions`); with `kept`,
    the boolean column of `rows` that holds the metric's filter, already evaluated."""
    spec = metric.spec
    assert isinstance(spec, Measure | Custom)
    compiled = {c.where.rsplit(".", 1)[1]: c for c in expressions(metric, star)}
    if kept is not None:
        column = sge.column(sge.to_identifier(kept, quoted=True))
        compiled["filter"] = Compiled(kept, column, frozenset({kept}), compiled["filter"].where)
    try:
        if isinstance(spec, Custom):
            return _custom(compiled["expr"], compiled.get("filter"), rows)
        where = _filter(compiled.get("filter"), rows)
        if "expr" not in compiled:  # count(*)
            result: ir.Scalar = rows.count(where=where)
            return result
        expr = compiled["expr"]
        value = translate(expr.node, rows, sql=expr.source, where=expr.where)
        return _REDUCTIONS[spec.type](value, where)
    except (IbisError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{metric.where.prefix('expr')}: cannot {spec.type} {spec.expr!r}: {first_line(exc)}"
        ) from None


def _filter(compiled: Compiled | None, rows: ir.Table) -> ir.BooleanValue | None:
    return None if compiled is None else condition(compiled, rows)


def _custom(expr: Compiled, condition: Compiled | None, rows: ir.Table) -> ir.Scalar:
    """A SQL aggregate, each of its aggregates filtered by the metric's filter."""
    node = expr.node
    if condition is not None:
        _filter(condition, rows)  # a condition, or a clear error
        node = node.transform(_filtered(condition.node))
    value: ir.Scalar = translate(node, rows, sql=expr.source, where=expr.where, aggregate=True)
    return value


def _filtered(condition: sge.Expression) -> Callable[[sge.Expression], sge.Expression]:
    def add(node: sge.Expression) -> sge.Expression:
        if isinstance(node, sge.Filter):  # sum(x) FILTER (WHERE a): both conditions
            both = sge.and_(node.expression.this.copy(), condition.copy())
            return sge.Filter(this=node.this.copy(), expression=sge.Where(this=both))
        if isinstance(node, sge.AggFunc) and not isinstance(node.parent, sge.Filter):
            return sge.Filter(this=node.copy(), expression=sge.Where(this=condition.copy()))
        return node

    return add
