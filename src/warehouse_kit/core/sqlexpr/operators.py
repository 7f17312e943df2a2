"""Handlers of columns, literals and operators (see `sqlexpr`)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.backends.sql.datatypes import DuckDBType

from warehouse_kit.core.errors import column_hint
from warehouse_kit.core.sqlexpr.context import (
    _INT64,
    _MAX_DECIMAL_DIGITS,
    DIALECT,
    _align_nulls,
    _arithmetic_type,
    _cast,
    _Ctx,
    _handles,
    _is_null,
    _operands,
    _snippet,
    _unify,
)

# --- leaves ---------------------------------------------------------------------------


@_handles(sge.Column)
def _column(node: sge.Column, ctx: _Ctx) -> ir.Value:
    name = node.name  # a bare name: _parse refused qualified ones
    columns = list(ctx.table.columns)
    if name not in columns:
        ctx.fail(f"unknown column {name!r}", column_hint(name, columns))
    if ctx.aggregate and not ctx.in_aggregate:
        ctx.fail(
            f"column {name!r} is outside an aggregate function",
            f"a measure aggregates every column, e.g. sum({name}) or max({name})",
        )
    return ctx.table[name]


@_handles(sge.Literal)
def _literal(node: sge.Literal, ctx: _Ctx) -> ir.Scalar:
    if node.is_string:
        return ibis.literal(node.this, type=dt.string)
    return _number(node.this, ctx)


def _number(text: str, ctx: _Ctx) -> ir.Scalar:
    """``42`` is an integer, ``1.50`` a DECIMAL(3,2) as in SQL, ``1e3`` a DOUBLE."""
    if "e" in text.lower():  # a bare 1000.0 would be a numeric to PostgreSQL
        return _cast(ibis.literal(float(text), type=dt.float64), dt.float64)
    value = Decimal(text)
    if "." not in text and _INT64[0] <= value <= _INT64[1]:
        return ibis.literal(int(value))
    _, digits, exponent = value.as_tuple()
    scale = max(-int(exponent), 0)
    precision = max(len(digits) + max(int(exponent), 0), scale, 1)
    if precision > _MAX_DECIMAL_DIGITS:
        ctx.fail(f"number {text} has more than {_MAX_DECIMAL_DIGITS} digits")
    return ibis.literal(value, type=dt.Decimal(precision, scale))


@_handles(sge.Boolean)
def _boolean(node: sge.Boolean, ctx: _Ctx) -> ir.Scalar:
    return ibis.literal(bool(node.this), type=dt.boolean)


@_handles(sge.Null)
def _null(node: sge.Null, ctx: _Ctx) -> ir.Scalar:
    return ibis.null()


@_handles(sge.CurrentDate)
def _current_date(node: sge.CurrentDate, ctx: _Ctx) -> ir.Scalar:
    ctx.check_args(node)
    return ibis.today()


@_handles(sge.Paren)
def _paren(node: sge.Paren, ctx: _Ctx) -> Any:
    return ctx.arg(node, "this")


# --- operators ------------------------------------------------------------------------

_ARITHMETIC: dict[type[sge.Expression], tuple[str, Callable[[Any, Any], Any]]] = {
    sge.Add: ("add", operator.add),
    sge.Sub: ("sub", operator.sub),
    sge.Mul: ("mul", operator.mul),
    sge.Div: ("div", operator.truediv),
    sge.Mod: ("mod", operator.mod),
    sge.Pow: ("pow", operator.pow),
}


@_handles(*_ARITHMETIC)
def _arithmetic(node: sge.Binary, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "expression")
    name, op = _ARITHMETIC[type(node)]
    left, right = _align_nulls([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    for side, value in (("left", left), ("right", right)):
        if not (value.type().is_numeric() or _is_null(value)):
            ctx.fail(f"{_snippet(node)} needs numbers, but its {side} side is {value.type()}")
    if name == "pow":  # in DOUBLEs, as DuckDB computes it (PostgreSQL: numeric for numerics)
        return left.cast(dt.float64) ** right.cast(dt.float64)
    dtype = _arithmetic_type(name, left.type(), right.type())
    left, right = _operands([left, right])
    if name == "div" and not (left.type().is_floating() or right.type().is_floating()):
        # True division in DOUBLEs, cast here: the cast sqlglot adds for PostgreSQL is lost
        # when the column is also selected as it is (a mutate), and PostgreSQL then divides
        # integers as integers (-1 / 100 is 0) and decimals as numerics.
        left = left.cast(dt.float64)
    if name in ("div", "mod") and not _nonzero_literal(right):
        right = right.nullif(0)
    result = op(left, right)
    if dtype is not None and result.type() != dtype:
        result = result.cast(dtype)
    return result


def _nonzero_literal(value: Any) -> bool:
    op = value.op()
    return isinstance(op, ops.Literal) and op.value is not None and op.value != 0


@_handles(sge.Neg)
def _negate(node: sge.Neg, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this")
    if isinstance(node.this, sge.Literal) and not node.this.is_string:
        return _number(f"-{node.this.this}", ctx)
    return -ctx.arg(node, "this")


_COMPARISONS: dict[type[sge.Expression], type[ops.Comparison]] = {
    sge.EQ: ops.Equals,
    sge.NEQ: ops.NotEquals,
    sge.LT: ops.Less,
    sge.LTE: ops.LessEqual,
    sge.GT: ops.Greater,
    sge.GTE: ops.GreaterEqual,
}


@_handles(*_COMPARISONS)
def _compare(node: sge.Binary, ctx: _Ctx) -> ir.BooleanValue:
    """Built from the operation itself: ``x = NULL`` must stay NULL, not ``IS NULL``."""
    ctx.check_args(node, "this", "expression")
    left, right = _operands([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    result: ir.BooleanValue = _COMPARISONS[type(node)](left, right).to_expr()
    return result


@_handles(sge.NullSafeEQ, sge.NullSafeNEQ)
def _distinct_from(node: sge.Binary, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "expression")
    left, right = _operands([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    same: ir.BooleanValue = left.identical_to(right)
    return same if isinstance(node, sge.NullSafeEQ) else ~same


def _booleans(values: Iterable[Any]) -> list[Any]:
    return _align_nulls(list(values), dt.boolean)


@_handles(sge.And, sge.Or)
def _logical(node: sge.Connector, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "expression")
    left, right = _booleans([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    return left & right if isinstance(node, sge.And) else left | right


@_handles(sge.Not)
def _not(node: sge.Not, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this")
    (value,) = _booleans([ctx.arg(node, "this")])
    return ~value


@_handles(sge.Is)
def _is(node: sge.Is, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "expression")
    value, test = ctx.arg(node, "this"), node.expression
    if isinstance(test, sge.Null):
        return value.isnull()
    if isinstance(test, sge.Boolean):
        (value,) = _booleans([value])
        return (value if test.this else ~value).fill_null(False)
    ctx.fail(f"{_snippet(node)}: IS takes NULL, TRUE or FALSE")


@_handles(sge.In)
def _in(node: sge.In, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "expressions")
    if not node.expressions:
        ctx.fail(f"IN needs a list of values: {_snippet(node)}")
    value, *options = _operands([ctx.translate(n) for n in [node.this, *node.expressions]])
    return value.isin(options)


@_handles(sge.Between)
def _between(node: sge.Between, ctx: _Ctx) -> ir.BooleanValue:
    ctx.check_args(node, "this", "low", "high")
    if node.args.get("symmetric"):
        ctx.fail(f"BETWEEN SYMMETRIC is not supported: {_snippet(node)}")
    value, low, high = _operands([ctx.arg(node, k) for k in ("this", "low", "high")])
    return value.between(low, high)


@_handles(sge.RegexpFullMatch)
def _regexp_full_match(node: sge.RegexpFullMatch, ctx: _Ctx) -> ir.BooleanValue:
    """DuckDB's ``~``: the whole string matches (PostgreSQL's ``~`` searches)."""
    ctx.check_args(node, "this", "expression")
    value, pattern = _strings([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    op = pattern.op()
    if isinstance(op, ops.Literal) and op.value is not None:
        return value.re_search(f"^(?:{op.value})$")
    return value.re_search("^(?:" + pattern + ")$")


def _strings(values: Iterable[Any]) -> list[Any]:
    """Values as strings, as ``||`` and ``concat`` see them."""
    return [v if v.type().is_string() else v.cast(dt.string) for v in values]


@_handles(sge.DPipe)
def _pipe_concat(node: sge.DPipe, ctx: _Ctx) -> ir.StringValue:
    ctx.check_args(node, "this", "expression")
    left, right = _strings([ctx.arg(node, "this"), ctx.arg(node, "expression")])
    return left.concat(right)


@_handles(sge.Concat)
def _concat(node: sge.Concat, ctx: _Ctx) -> ir.StringValue:
    ctx.check_args(node, "expressions")
    first, *rest = [s.fill_null("") for s in _strings(map(ctx.translate, node.expressions))]
    return first.concat(*rest) if rest else first


@_handles(sge.Case)
def _case(node: sge.Case, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "ifs", "default")
    tests = [ctx.translate(branch.this) for branch in node.args["ifs"]]
    results = [ctx.translate(branch.args["true"]) for branch in node.args["ifs"]]
    default = node.args.get("default")
    *results, otherwise = _unify([*results, ctx.translate(default) if default else ibis.null()])
    if node.this is None:
        return ibis.cases(*zip(_booleans(tests), results, strict=True), else_=otherwise)
    subject, *tests = _operands([ctx.arg(node, "this"), *tests])
    return subject.cases(*zip(tests, results, strict=True), else_=otherwise)


@_handles(sge.If)
def _if(node: sge.If, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "true", "false")
    false = node.args.get("false")
    (test,) = _booleans([ctx.arg(node, "this")])
    then, otherwise = _unify(
        [ctx.arg(node, "true"), ctx.translate(false) if false else ibis.null()]
    )
    return ibis.cases((test, then), else_=otherwise)


@_handles(sge.Cast)
def _cast_to(node: sge.Cast, ctx: _Ctx) -> Any:
    ctx.check_args(node, "this", "to")
    dtype = DuckDBType.to_ibis(node.to)
    if not (dtype.is_numeric() or dtype.is_string() or dtype.is_boolean()) and not (
        dtype.is_date() or dtype.is_timestamp() or dtype.is_time()
    ):
        ctx.fail(f"cannot cast to {node.to.sql(dialect=DIALECT)}: {_snippet(node)}")
    if dtype.is_temporal() and isinstance(node.this, sge.Literal) and node.this.is_string:
        try:  # DATE '2024-01-01': checked now, a typed literal in the query
            return ibis.literal(node.this.this, type=dtype)
        except (TypeError, ValueError):
            ctx.fail(f"invalid {dtype} literal {node.this.this!r}")
    return ctx.arg(node, "this").cast(dtype)
