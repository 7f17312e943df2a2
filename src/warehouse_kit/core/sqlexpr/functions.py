"""Handlers of functions and aggregates (see `sqlexpr`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot.expressions as sge

from warehouse_kit.core.sqlexpr.context import (
    _HANDLERS,
    _NUMERIC,
    _align_nulls,
    _cast,
    _Ctx,
    _Handler,
    _handles,
    _operands,
    _snippet,
    _unify,
)
from warehouse_kit.core.sqlexpr.operators import _booleans

# --- functions ------------------------------------------------------------------------


def _method(name: str, *keys: str) -> _Handler:
    """A handler calling Ibis method `name` on the first argument with the others."""

    def handler(node: sge.Expression, ctx: _Ctx) -> Any:
        ctx.check_args(node, *keys)
        value, *args = [ctx.arg(node, key) for key in keys]
        method = getattr(value, name, None)
        if method is None:
            ctx.fail(f"{_snippet(node)} does not apply to a value of type {value.type()}")
        return method(*args)

    return handler


_METHODS: dict[type[sge.Expression], tuple[str, ...]] = {
    sge.Lower: ("lower", "this"),
    sge.Upper: ("upper", "this"),
    sge.Length: ("length", "this"),
    sge.Replace: ("replace", "this", "expression", "replacement"),
    sge.RegexpLike: ("re_search", "this", "expression"),
    sge.Abs: ("abs", "this"),
    sge.Ceil: ("ceil", "this"),
    sge.Floor: ("floor", "this"),
    sge.Year: ("year", "this"),
    sge.Quarter: ("quarter", "this"),
    sge.Month: ("month", "this"),
    sge.Day: ("day", "this"),
    sge.Hour: ("hour", "this"),
    sge.Minute: ("minute", "this"),
    sge.Second: ("second", "this"),
}
for _cls, (_name, *_keys) in _METHODS.items():
    _HANDLERS[_cls] = _method(_name, *_keys)


@_handles(sge.Like, sge.ILike)
def _like(node: sge.Like | sge.ILike, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "expression")
    value, pattern = _align_nulls([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    op = pattern.op()
    if isinstance(op, ops.Literal) and isinstance(op.value, str) and "\\" in op.value:
        ctx.fail(
            f"a backslash in a LIKE pattern is a plain character to DuckDB but an escape to "
            f"PostgreSQL: {_snippet(node)}",
            "use regexp_matches() to match '%' or '_' literally",
        )
    if not value.type().is_string():
        ctx.fail(f"{_snippet(node)} needs a string, not {value.type()}")
    result: ir.BooleanValue = (
        value.like(pattern) if isinstance(node, sge.Like) else value.ilike(pattern)
    )
    return result


@_handles(sge.Trim)
def _trim(node: sge.Trim, ctx: _Ctx) -> ir.StringValue:
    ctx.check_args(node, "this")
    value = ctx.arg(node, "this")
    position = str(node.args.get("position") or "BOTH").upper()
    method = {"LEADING": "lstrip", "TRAILING": "rstrip"}.get(position, "strip")
    return getattr(value, method)()


@_handles(sge.Substring)
def _substring(node: sge.Substring, ctx: _Ctx) -> ir.StringValue:
    """SQL counts from 1, Ibis from 0."""
    ctx.check_args(node, "this", "start", "length")
    value, start = ctx.arg(node, "this"), ctx.arg(node, "start")
    length = ctx.arg(node, "length") if node.args.get("length") else None
    op = start.op()
    offset = op.value - 1 if isinstance(op, ops.Literal) and op.value is not None else start - 1
    return value.substr(offset, length)


@_handles(sge.Round)
def _round(node: sge.Round, ctx: _Ctx) -> ir.NumericValue:
    ctx.check_args(node, "this", "decimals")
    value = ctx.arg(node, "this")
    digits = ctx.arg(node, "decimals") if node.args.get("decimals") else ibis.literal(0)
    if value.type() == _NUMERIC:  # Ibis cannot type round() of it; it reads it so anyway
        value = value.cast(dt.Decimal(38, 9))
    if value.type().is_floating():
        # A non-literal digit count keeps a DOUBLE a DOUBLE and makes Ibis round it
        # through numeric on PostgreSQL (half away from zero, as DuckDB does).
        digits = digits.cast(dt.int32)
    result: ir.NumericValue = value.round(digits)
    return result


@_handles(sge.Nullif)
def _nullif(node: sge.Nullif, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "expression")
    value, other = _operands([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    return value.nullif(other)


@_handles(sge.Greatest, sge.Least)
def _greatest_least(node: sge.Func, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "expressions")
    values = _unify([ctx.translate(n) for n in [node.this, *node.expressions]])
    return (ibis.greatest if isinstance(node, sge.Greatest) else ibis.least)(*values)


@_handles(sge.Coalesce)
def _coalesce(node: sge.Coalesce, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "expressions")
    return ibis.coalesce(*_unify([ctx.translate(n) for n in [node.this, *node.expressions]]))


_EXTRACT = {
    "YEAR": "year",
    "QUARTER": "quarter",
    "MONTH": "month",
    "DAY": "day",
    "HOUR": "hour",
    "MINUTE": "minute",
    "SECOND": "second",
}
_TRUNCATE = {
    "YEAR": "Y",
    "QUARTER": "Q",
    "MONTH": "M",
    "WEEK": "W",
    "DAY": "D",
    "HOUR": "h",
    "MINUTE": "m",
    "SECOND": "s",
}


def _unit(node: sge.Expression, key: str, units: dict[str, str], ctx: _Ctx) -> str:
    unit = node.args.get(key)
    name = unit.name.upper() if isinstance(unit, (sge.Var, sge.Literal)) else ""
    if name not in units:
        ctx.fail(f"unknown unit in {_snippet(node)}", f"use one of {', '.join(units).lower()}")
    return units[name]


@_handles(sge.Extract)
def _extract(node: sge.Extract, ctx: _Ctx) -> ir.IntegerValue:
    ctx.check_args(node, "this", "expression")
    method = _unit(node, "this", _EXTRACT, ctx)
    value = ctx.arg(node, "expression")
    if not hasattr(value, method):
        ctx.fail(f"{_snippet(node)} does not apply to a value of type {value.type()}")
    result: ir.IntegerValue = getattr(value, method)()
    return result


@_handles(sge.TimestampTrunc, sge.DateTrunc)
def _date_trunc(node: sge.Func, ctx: _Ctx) -> ir.Value:
    ctx.check_args(node, "this", "unit")
    unit = _unit(node, "unit", _TRUNCATE, ctx)
    value = ctx.arg(node, "this")
    if not value.type().is_temporal():
        ctx.fail(f"{_snippet(node)} needs a date or timestamp, not {value.type()}")
    result: ir.Value = value.truncate(unit)
    return result


# --- aggregates -----------------------------------------------------------------------


def _aggregate_context(node: sge.Expression, ctx: _Ctx) -> _Ctx:
    if not ctx.aggregate:
        ctx.fail(f"aggregate not allowed in a row-level expression: {_snippet(node)}")
    if ctx.in_aggregate:
        ctx.fail(f"aggregate functions cannot be nested: {_snippet(node)}")
    return ctx.inside_aggregate()


def _reduction(method: str, *, how: str | None = None, double: bool = False) -> _Handler:
    """A handler for ``f(x)``: Ibis reduction `method`, honouring FILTER (WHERE)."""

    def handler(node: sge.Expression, ctx: _Ctx) -> ir.Scalar:
        inner = _aggregate_context(node, ctx)
        ctx.check_args(node, "this")
        if isinstance(node.this, sge.Distinct):
            ctx.fail(f"DISTINCT is only supported in count(DISTINCT x): {_snippet(node)}")
        value = inner.arg(node, "this")
        kwargs = {"how": how} if how else {}
        result: Any = getattr(value, method)(where=ctx.agg_filter, **kwargs)
        if double and not value.type().is_floating():
            # DuckDB computes a DOUBLE, PostgreSQL a numeric; Ibis may say decimal
            result = _cast(result, dt.float64)
        return result

    return handler


_REDUCTIONS: dict[type[sge.Expression], _Handler] = {
    sge.Sum: _reduction("sum"),
    sge.Avg: _reduction("mean", double=True),
    sge.Min: _reduction("min"),
    sge.Max: _reduction("max"),
    sge.Stddev: _reduction("std", how="sample", double=True),
    sge.StddevSamp: _reduction("std", how="sample", double=True),
    sge.StddevPop: _reduction("std", how="pop", double=True),
    sge.Variance: _reduction("var", how="sample", double=True),
    sge.VariancePop: _reduction("var", how="pop", double=True),
}
_HANDLERS.update(_REDUCTIONS)


@_handles(sge.Count)
def _count(node: sge.Count, ctx: _Ctx) -> ir.IntegerScalar:
    inner = _aggregate_context(node, ctx)
    ctx.check_args(node, "this")
    arg = node.this
    if arg is None or isinstance(arg, sge.Star):
        result: ir.IntegerScalar = ctx.table.count(where=ctx.agg_filter)
        return result
    if isinstance(arg, sge.Distinct):
        if len(arg.expressions) != 1 or arg.args.get("on"):
            ctx.fail(f"count(DISTINCT ...) takes one value: {_snippet(node)}")
        return inner.translate(arg.expressions[0]).nunique(where=ctx.agg_filter)
    return inner.translate(arg).count(where=ctx.agg_filter)


@_handles(sge.Filter)
def _filter(node: sge.Filter, ctx: _Ctx) -> ir.Scalar:
    """``sum(x) FILTER (WHERE cond)``."""
    inner = _aggregate_context(node, ctx)
    if not isinstance(node.this, _AGGREGATES) or not isinstance(node.expression, sge.Where):
        ctx.fail(f"FILTER applies to an aggregate function: {_snippet(node)}")
    (condition,) = _booleans([inner.arg(node.expression, "this")])
    result: ir.Scalar = replace(ctx, agg_filter=condition).arg(node, "this")
    return result


_AGGREGATES: tuple[type[sge.Expression], ...] = (*_REDUCTIONS, sge.Count)
