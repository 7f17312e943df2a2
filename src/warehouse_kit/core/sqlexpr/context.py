"""What translating an expression needs: the allowed functions, the dispatch table of
handlers, the context a handler gets, error messages, and the typing rules of numbers."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import sqlglot.expressions as sge
from ibis.common.annotations import ValidationError
from ibis.common.exceptions import IbisError
from sqlglot.errors import ParseError

from warehouse_kit.core.errors import ExpressionError

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


def _prefix(where: str, sql: str, message: str) -> str:
    located = f"in expression {sql!r}: {message}"
    return f"{where}: {located}" if where else located


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
