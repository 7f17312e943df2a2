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

from typing import Any

import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.tokens import TokenType

from warehouse_kit.core.errors import ExpressionError
from warehouse_kit.core.sqlexpr import functions, operators  # noqa: F401 - they register the handlers
from warehouse_kit.core.sqlexpr.context import (
    _HANDLERS,
    AGGREGATE_FUNCTIONS,
    DIALECT,
    ROW_FUNCTIONS,
    _Ctx,
    _one_line,
    _prefix,
    _snippet,
    _syntax_message,
    _unsupported,
)
from warehouse_kit.core.sqlexpr.functions import _AGGREGATES

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "DIALECT",
    "ROW_FUNCTIONS",
    "columns_used",
    "parse",
    "to_ibis",
    "to_ibis_aggregate",
    "translate",
]


# --- public API ---------------------------------------------------------------------


def to_ibis(sql: str, table: ir.Table, *, where: str = "") -> ir.Value:
    """A row-level expression (no aggregates) over `table`."""
    return _translated(_parse(sql, where), table, sql=sql, where=where, aggregate=False)


def to_ibis_aggregate(sql: str, table: ir.Table, *, where: str = "") -> ir.Scalar:
    """An aggregate over `table`: ``sum(x)``, ``count(*)``, ``sum(a) / count(*)``...

    Every column must sit inside an aggregate function; use the result in
    ``table.aggregate(name=expr)`` or ``table.group_by(...).aggregate(...)``.
    """
    value: ir.Scalar = _translated(_parse(sql, where), table, sql=sql, where=where, aggregate=True)
    return value


def translate(
    node: sge.Expression, table: ir.Table, *, sql: str, where: str = "", aggregate: bool = False
) -> Any:
    """A parsed expression (from `parse`, maybe rewritten since) over `table`: checked as
    the text would be, and translated; `sql` is the text messages quote."""
    checked = _checked(node.transform(_canonical), sql, where)
    return _translated(checked, table, sql=sql, where=where, aggregate=aggregate)


def _translated(
    node: sge.Expression, table: ir.Table, *, sql: str, where: str, aggregate: bool
) -> Any:
    """A checked expression (`_parse`, `_checked`) over `table`."""
    ctx = _Ctx(table, sql, where, aggregate=aggregate)
    if aggregate and not any(isinstance(n, _AGGREGATES) for n in node.walk()):
        names = ", ".join(AGGREGATE_FUNCTIONS)
        ctx.fail("an aggregate expression needs an aggregate function", f"use one of {names}")
    return ctx.translate(node)


def parse(sql: str, *, where: str = "") -> sge.Expression:
    """`sql` as one supported expression, or an `ExpressionError`; never a statement."""
    return _parse(sql, where)


def columns_used(sql: str, *, where: str = "") -> set[str]:
    """The column names `sql` references (for lineage and validation).

    Raises `ExpressionError` for anything `to_ibis` would refuse without
    looking at a table: a syntax error, a statement, an unknown function.
    """
    node = _parse(sql, where)
    return {column.name for column in node.find_all(sge.Column)}


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
    return _checked(node.transform(_canonical), sql, where)


def _checked(node: sge.Expression, sql: str, where: str) -> sge.Expression:
    """`node`, if every part of it is supported: refused before translating anything."""
    for part in node.walk():
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
