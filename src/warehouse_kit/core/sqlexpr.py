"""Small SQL expressions from pipeline files, translated into Ibis expressions.

Pipeline files hold business rules (``quantity > 0 AND email LIKE '%@%'``),
derived columns (``quantity * unit_price * (1 - discount)``) and measures
(``sum(amount)``, ``count(distinct customer_id)``). They are parsed with
sqlglot in the **DuckDB dialect** (``sqlglot.parse_one(sql, read="duckdb")``)
and translated node by node into an Ibis expression over a given table, so the
same text runs on every backend. Nothing is ever formatted into SQL text or
evaluated as Python.

Public API:

- `to_ibis(sql, table)`: a row-level expression (no aggregates);
- `to_ibis_aggregate(sql, table)`: an aggregate (``sum(a) / count(*)``);
- `columns_used(sql)`: the column names an expression references.

Each takes ``where=`` (``"pipelines/x.yml: pipeline.rules[0]"``), which
prefixes every `ExpressionError` message.

Supported
---------
- column references, case-sensitive as in the table, bare (``amount``) or
  quoted (``"Unit Price"``); a table qualifier (``t.amount``) is refused;
- literals: integers, decimals (``1.5`` is a DECIMAL(2,1), as in SQL), floats
  with an exponent (``1e3``), strings, TRUE/FALSE, NULL, ``DATE '2024-01-01'``,
  ``TIMESTAMP '2024-01-01 10:00:00'``, ``CAST('2024-01-01' AS DATE)``;
- ``+ - * / %``, ``^``/``**``, unary ``-``; ``= != <> < <= > >=``;
  ``IS [NOT] DISTINCT FROM``; ``AND OR NOT``; ``IS [NOT] NULL``,
  ``IS [NOT] TRUE|FALSE``; ``[NOT] IN (list)``; ``[NOT] BETWEEN``;
  ``[NOT] LIKE``, ``[NOT] ILIKE``; ``~`` / ``!~`` (DuckDB: the *whole* string
  must match); ``||``; searched and simple ``CASE``; ``CAST(x AS t)`` and
  ``x::t`` to numeric, string, boolean, date, time and timestamp types (type
  names as DuckDB spells them);
- the functions in `ROW_FUNCTIONS` and, in `to_ibis_aggregate` only, those in
  `AGGREGATE_FUNCTIONS` (with an optional ``FILTER (WHERE ...)``).

Anything else (subqueries, window functions, other functions, several
statements, ``;``) is an `ExpressionError`.

Semantics, the same on every backend
------------------------------------
- ``a / b`` is true division (``7 / 2`` is 3.5, a DOUBLE), as in DuckDB;
  ``^``/``power`` compute in DOUBLEs.
- Division or modulo by zero yields NULL (DuckDB would give ``inf``,
  PostgreSQL an error): the divisor is wrapped in ``NULLIF(b, 0)``.
- ``x = NULL`` is NULL, as in SQL (Ibis alone would rewrite it to ``IS NULL``).
- Decimal literals and arithmetic keep every digit: ``+ - *`` on decimals
  yield the type SQL gives them (``DECIMAL(10,2) * DECIMAL(4,2)`` is
  ``DECIMAL(14,4)``, at most 38 digits), CASE/COALESCE/GREATEST/LEAST/=/IN
  over decimals use a decimal that holds them all, and a decimal mixed with a
  DOUBLE is a DOUBLE (Ibis alone would lose digits or refuse to compare
  ``DECIMAL(10,2)`` with ``0.005``). A PostgreSQL ``numeric`` without
  precision stays one. ``avg``/``stddev``/``variance`` are DOUBLEs.
- ``round(x[, n])`` rounds half away from zero (PostgreSQL's ``round(double)``
  alone would round half to even) and keeps the type of ``x``.
- ``concat(a, b)`` skips NULLs; ``a || b`` is NULL if either is NULL.
  Non-string operands of either are cast to strings.
- ``trim`` removes whitespace (spaces, tabs, newlines), not only spaces.
- ``substr(s, start[, length])`` counts from 1.
- A backslash in a LIKE pattern is refused: DuckDB reads it as a character,
  PostgreSQL as an escape.

Left to each database
---------------------
- Regular expressions (``regexp_matches``, ``~``) run on RE2 in DuckDB and on
  POSIX ARE in PostgreSQL: stick to their common subset (``[0-9]``, ``\\d``,
  ``\\s``, anchors, ``+ * ? {m,n}``, groups, ``|``; no lookaround, no flags).
- ``round`` of a DOUBLE goes through ``numeric`` on PostgreSQL, which sees 15
  significant digits: ``round(1.005e0, 2)`` is 1.01 there and 1.0 on DuckDB
  (the double is really 1.00499...). Decimals round the same everywhere.
- ``current_date`` is the date in each database's session time zone.
- Comparing and ordering strings (``<``, ``min``, ``max``) follows the
  database's collation (DuckDB: binary; PostgreSQL: the database's).
- ``extract``/``year(x)``... return integers (seconds without fraction);
  ``date_trunc`` of a DATE is a DATE to Ibis (the databases compute a
  TIMESTAMP at midnight).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, NoReturn

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge
from ibis.backends.sql.datatypes import DuckDBType
from ibis.common.annotations import ValidationError
from ibis.common.exceptions import IbisError
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import TokenType

from warehouse_kit.core.errors import ExpressionError, column_hint

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "DIALECT",
    "ROW_FUNCTIONS",
    "columns_used",
    "to_ibis",
    "to_ibis_aggregate",
]

DIALECT = "duckdb"
"""The sqlglot dialect expressions are written in."""

ROW_FUNCTIONS = (
    "abs", "ceil", "ceiling", "coalesce", "concat", "current_date", "date_trunc", "day",
    "extract", "floor", "greatest", "hour", "if", "ifnull", "least", "length", "lower",
    "ltrim", "minute", "month", "nullif", "power", "quarter", "regexp_full_match",
    "regexp_like", "regexp_matches", "replace", "round", "rtrim", "second", "substr",
    "substring", "trim", "upper", "year",
)  # fmt: skip
"""Functions allowed in any expression (names are case-insensitive)."""

AGGREGATE_FUNCTIONS = (
    "avg", "count", "max", "mean", "min", "stddev", "stddev_pop", "stddev_samp", "sum",
    "var_pop", "var_samp", "variance",
)  # fmt: skip
"""Functions allowed in `to_ibis_aggregate` only."""

_MAX_DECIMAL_DIGITS = 38
_INT64 = (-(2**63), 2**63 - 1)


# --- public API ---------------------------------------------------------------------


def to_ibis(sql: str, table: ir.Table, *, where: str = "") -> ir.Value:
    """A row-level expression (no aggregates) over `table`."""
    node = _parse(sql, where)
    value: ir.Value = _Ctx(table, sql, where, aggregate=False).translate(node)
    return value


def to_ibis_aggregate(sql: str, table: ir.Table, *, where: str = "") -> ir.Scalar:
    """An aggregate over `table`: ``sum(x)``, ``count(*)``, ``sum(a) / count(*)``...

    Every column must sit inside an aggregate function; use the result in
    ``table.aggregate(name=expr)`` or ``table.group_by(...).aggregate(...)``.
    """
    node = _parse(sql, where)
    ctx = _Ctx(table, sql, where, aggregate=True)
    if not any(isinstance(n, _AGGREGATES) for n in node.walk()):
        names = ", ".join(AGGREGATE_FUNCTIONS)
        ctx.fail("an aggregate expression needs an aggregate function", f"use one of {names}")
    value: ir.Scalar = ctx.translate(node)
    return value


def columns_used(sql: str, *, where: str = "") -> set[str]:
    """The column names `sql` references (for lineage and validation).

    Raises `ExpressionError` for anything `to_ibis` would refuse without
    looking at a table: a syntax error, a statement, an unknown function.
    """
    node = _parse(sql, where)
    return {column.name for column in node.find_all(sge.Column)}


# --- parsing --------------------------------------------------------------------------


def _prefix(where: str, sql: str, message: str) -> str:
    located = f"in expression {sql!r}: {message}"
    return f"{where}: {located}" if where else located


def _parse(sql: str, where: str) -> sge.Expression:
    """One supported expression, or an `ExpressionError`; never a statement."""
    if not sql.strip():
        raise ExpressionError(_prefix(where, sql, "the expression is empty"))
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
        if any(token.token_type == TokenType.SEMICOLON for token in tokens):
            raise ExpressionError(
                _prefix(where, sql, "';' is not allowed: write a single expression")
            )
        node = sqlglot.parse_one(sql, read=DIALECT)
    except ParseError as exc:
        raise ExpressionError(_prefix(where, sql, _syntax_message(exc))) from None
    except SqlglotError as exc:  # a TokenError: an unterminated string or quote
        raise ExpressionError(_prefix(where, sql, f"syntax error: {_one_line(exc)}")) from None
    node = node.transform(_canonical)
    for part in node.walk():  # refuse before translating anything
        count_star = isinstance(part, sge.Star) and isinstance(part.parent, sge.Count)
        if type(part) not in _HANDLERS and type(part) not in _PARTS and not count_star:
            _unsupported(part, sql, where)
        if isinstance(part, sge.Column) and (
            part.table or not isinstance(part.this, sge.Identifier)
        ):
            message = f"write the bare column name {part.name!r} instead of {_snippet(part)}"
            raise ExpressionError(_prefix(where, sql, message))
    return node


def _canonical(node: sge.Expression) -> sge.Expression:
    """A function sqlglot does not know, spelled as one it does (``mean`` is ``avg``)."""
    if isinstance(node, sge.Anonymous) and len(node.expressions) == 1:
        alias = _ALIASES.get(node.name.lower())
        if alias is not None:
            return alias(this=node.expressions[0].copy())
    return node


_ALIASES: dict[str, type[sge.Func]] = {"mean": sge.Avg}

_PARTS = (sge.Identifier, sge.DataType, sge.DataTypeParam, sge.Var, sge.Where, sge.Distinct)
"""Pieces of a supported construct that have no handler of their own (so does the
``*`` of count(*))."""


def _unsupported(node: sge.Expression, sql: str, where: str) -> NoReturn:
    hint = (
        f"supported functions: {', '.join(ROW_FUNCTIONS)}; "
        f"aggregates (measures only): {', '.join(AGGREGATE_FUNCTIONS)}"
    )
    if isinstance(node, sge.Anonymous):
        message = f"unknown function {node.name.lower()}()"
    elif isinstance(node, sge.Func) and type(node) not in _CONSTRUCTS:
        message = f"function {node.sql_name().lower()}() is not supported"
    else:
        what = _CONSTRUCTS.get(type(node)) or node.key.upper()
        message = f"{what} is not supported here: {_snippet(node)}"
    raise ExpressionError(f"{_prefix(where, sql, message)}; {hint}")


def _syntax_message(exc: ParseError) -> str:
    if not exc.errors:
        return f"syntax error: {_one_line(exc)}"
    error = exc.errors[0]
    near = f" near {error['highlight']!r}" if error.get("highlight") else ""
    position = f"line {error['line']}, column {error['col']}"
    description = re.sub(r"<class 'sqlglot\.expressions\.(\w+)'>", r"\1", error["description"])
    return f"syntax error at {position}{near}: {description}"


def _one_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return " ".join(text.split()) or type(exc).__name__


# --- translation ----------------------------------------------------------------------

_IBIS_ERRORS = (IbisError, ValidationError, TypeError, ValueError, AttributeError, ArithmeticError)


@dataclass(frozen=True)
class _Ctx:
    """What a handler needs: the table, where it is, and what is allowed here."""

    table: ir.Table
    sql: str
    where: str
    aggregate: bool
    """Translating for `to_ibis_aggregate`."""
    in_aggregate: bool = False
    """Inside an aggregate's arguments: columns allowed, aggregates not."""
    agg_filter: Any = None
    """The ``FILTER (WHERE ...)`` condition of the aggregate being translated."""

    def fail(self, message: str, hint: str = "") -> NoReturn:
        text = _prefix(self.where, self.sql, message)
        raise ExpressionError(f"{text}; {hint}" if hint else text)

    def translate(self, node: sge.Expression) -> Any:
        handler = _HANDLERS.get(type(node))
        if handler is None:
            _unsupported(node, self.sql, self.where)
        try:
            return handler(node, self)
        except ExpressionError:
            raise
        except _IBIS_ERRORS as exc:
            self.fail(f"cannot translate {_snippet(node)}: {_one_line(exc)}")

    def check_args(self, node: sge.Expression, *allowed: str) -> None:
        """Refuse a form of `node` that uses an argument its handler ignores."""
        for key, value in node.args.items():
            if key in allowed or not value:
                continue
            if isinstance(value, (sge.Expression, list)):
                self.fail(f"this form of {_snippet(node)} is not supported")

    def arg(self, node: sge.Expression, key: str) -> Any:
        return self.translate(node.args[key])

    def inside_aggregate(self) -> _Ctx:
        return replace(self, in_aggregate=True, agg_filter=None)


def _snippet(node: sge.Expression) -> str:
    text = node.sql(dialect=DIALECT)
    return text if len(text) <= 60 else text[:57] + "..."


_CONSTRUCTS: dict[type[sge.Expression], str] = {
    sge.Subquery: "a subquery",
    sge.Select: "a subquery",
    sge.Exists: "an EXISTS subquery",
    sge.Window: "a window function (OVER)",
    sge.Star: "'*' outside count(*)",
    sge.Placeholder: "a query parameter",
    sge.Alias: "an alias (AS)",
    sge.Interval: "an INTERVAL",
    sge.Bracket: "a subscript",
    sge.IntDiv: "integer division (//)",
    sge.Block: "more than one statement",
}

_Handler = Callable[[Any, _Ctx], Any]
_HANDLERS: dict[type[sge.Expression], _Handler] = {}
"""The dispatch table: sqlglot expression class -> handler (filled below)."""


def _handles(*classes: type[sge.Expression]) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        for cls in classes:
            _HANDLERS[cls] = handler
        return handler

    return register


# --- types ----------------------------------------------------------------------------

_INTEGER_DIGITS = {1: 3, 2: 5, 4: 10, 8: 19}
"""Decimal digits an integer of so many bytes needs (one more if unsigned 64-bit)."""


def _decimal_shape(dtype: dt.DataType) -> tuple[int, int] | None:
    """(precision, scale) of an exact numeric type, None if unknown or inexact."""
    if isinstance(dtype, dt.Integer):
        return _INTEGER_DIGITS[dtype.nbytes] + isinstance(dtype, dt.UInt64), 0
    if isinstance(dtype, dt.Decimal) and dtype.precision is not None and dtype.scale is not None:
        return dtype.precision, dtype.scale
    return None


_INT64_DIGITS = 18
"""The widest decimal DuckDB stores in 64 bits."""

_NUMERIC = dt.Decimal(None, None)
"""A decimal of any precision: what Ibis reads PostgreSQL's plain ``numeric`` as."""


def _decimal(precision: int, scale: int) -> dt.Decimal | None:
    if scale > _MAX_DECIMAL_DIGITS:
        return None
    return dt.Decimal(min(max(precision, scale, 1), _MAX_DECIMAL_DIGITS), scale)


def _cast(value: Any, dtype: dt.DataType) -> Any:
    """A CAST in the query even where Ibis already believes the type."""
    return ops.Cast(value, to=dtype).to_expr()


def _is_null(value: Any) -> bool:
    return bool(value.type().is_null())


def _align_nulls(values: Sequence[Any], dtype: dt.DataType | None = None) -> list[Any]:
    """Give untyped NULL literals the type of their neighbours."""
    target = dtype or next((v.type() for v in values if not _is_null(v)), None)
    if target is None:
        return list(values)
    return [v.cast(target) if _is_null(v) else v for v in values]


def _unify(values: Sequence[Any]) -> list[Any]:
    """Operands compared or merged into one result (``=``, IN, CASE, COALESCE...).

    Ibis refuses to compare or merge two decimals when neither holds the other
    (``DECIMAL(10,2)`` and ``0.005``), and merges a decimal and a DOUBLE into
    the decimal; SQL uses a decimal wide enough for both, or a DOUBLE.
    """
    dtypes = [v.type() for v in values if not _is_null(v)]
    target: dt.DataType | None = None
    if dtypes and all(t.is_numeric() for t in dtypes) and any(t.is_decimal() for t in dtypes):
        shapes = [_decimal_shape(t) for t in dtypes]
        if any(t.is_floating() for t in dtypes):
            target = dt.float64
        elif not all(shapes):  # a PostgreSQL numeric without precision
            target = _NUMERIC
        else:
            known = [shape for shape in shapes if shape]
            scale = max(s for _, s in known)
            target = _decimal(max(p - s for p, s in known) + scale, scale)
    if target is None:
        return _align_nulls(values)
    return [v if v.type() == target else v.cast(target) for v in values]


def _operands(values: Sequence[Any]) -> list[Any]:
    """Operands of one operation, cast only where Ibis cannot combine their types."""
    values = _align_nulls(values)
    try:
        dt.highest_precedence(v.type() for v in values)
    except IbisError:
        return _unify(values)
    return values


def _arithmetic_type(name: str, left: dt.DataType, right: dt.DataType) -> dt.DataType | None:
    """The SQL result type of ``left <op> right`` where Ibis would lose digits."""
    if name not in ("add", "sub", "mul") or not (left.is_decimal() or right.is_decimal()):
        return None
    if left.is_floating() or right.is_floating():
        return dt.float64
    a, b = _decimal_shape(left), _decimal_shape(right)
    if a is None or b is None:  # a PostgreSQL numeric without precision stays one
        return _NUMERIC
    (p1, s1), (p2, s2) = a, b
    if name == "mul":
        precision, scale = p1 + p2, s1 + s2
    else:
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + scale + 1
    if p1 <= _INT64_DIGITS and p2 <= _INT64_DIGITS:
        # As DuckDB does: operands that fit 64 bits give a 64-bit result (an overflow
        # is an error, not a silent loss); 128-bit decimals are several times slower.
        precision = max(min(precision, _INT64_DIGITS), scale)
    return _decimal(precision, scale)


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
