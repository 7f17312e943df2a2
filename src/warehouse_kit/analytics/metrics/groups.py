"""What a query groups by: columns of the models, or named SQL expressions over them.

A `by` entry is a column reference (``segment``, ``dim_customer.segment``,
``dim_customer.current.segment``), whose result column is its last part unless
two clash, or a SQL expression with a name: ``date_trunc('quarter', dim_date.date)
AS quarter``. The expression is parsed by sqlglot and its columns resolved to
canonical names by the model (`Star.compile`), exactly as a computed dimension's;
its text never reaches SQL as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge
from sqlglot.errors import SqlglotError

from warehouse_kit.analytics.metrics.relation import refuse_fan_out
from warehouse_kit.analytics.metrics.spec import QueryOptions
from warehouse_kit.analytics.metrics.star import Compiled, Star
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.sqlexpr import DIALECT, translate

_REFERENCE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Group:
    """One entry of `by`."""

    name: str
    """The result column."""
    reference: str | None
    """A column reference, as written; None for an expression."""
    expr: str | None
    """An expression's SQL, without its name."""
    where: str
    """``query: by[0]``, for messages."""

    def resolve(self, star: Star) -> Resolved:
        """The group in `star`: its column references resolved once, in the query's order
        (resolving ``dim.current.x`` adds a join, after which a bare ``x`` is ambiguous)."""
        if self.reference is not None:
            field = star.resolve(self.reference.split("."), self.where)
            return Resolved(frozenset({field}), field, None)
        assert self.expr is not None
        compiled = star.compile(self.expr, self.where)
        if compiled.node.find(sge.AggFunc, sge.Window):
            raise ConfigError(
                f"{self.where}: {self.expr!r} aggregates: a group is a value of each row"
            )
        refuse_fan_out(star, compiled, f"the group {self.name!r}")
        return Resolved(compiled.fields, None, compiled)


@dataclass(frozen=True)
class Resolved:
    """A group in one model: the fields it reads, and how its value is computed."""

    fields: frozenset[str]
    field: str | None
    compiled: Compiled | None

    def value(self, rows: ir.Table) -> ir.Value:
        """The group's value on `rows` (which hold its `fields`)."""
        if self.compiled is None:
            return rows[self.field]
        compiled = self.compiled
        value: ir.Value = translate(compiled.node, rows, sql=compiled.source, where=compiled.where)
        return value


def groups(options: QueryOptions) -> list[Group]:
    """The query's groups, in order, each with a result column of its own."""
    found = [_group(entry, f"query: by[{index}]") for index, entry in enumerate(options.by)]
    last = [group.name for group in found]
    named = [
        group
        if last.count(group.name) == 1 or group.reference is None
        else Group(group.reference, group.reference, None, group.where)
        for group in found
    ]
    names = [group.name for group in named]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"query: by names the column {twice[0]!r} twice: {options.by}")
    taken = [n for n in names if n == options.grain or n in options.metrics]
    if taken:
        raise ConfigError(f"query: by: {taken[0]!r} is also the name of the period or a metric")
    return named


def _group(entry: str, where: str) -> Group:
    if _REFERENCE.fullmatch(entry):
        return Group(entry.rsplit(".", 1)[-1], entry, None, where)
    try:
        node = sqlglot.parse_one(entry, read=DIALECT)
    except SqlglotError:
        raise ConfigError(f"{where}: {entry!r} is neither a column nor an expression") from None
    if not isinstance(node, sge.Alias) or not node.alias:
        raise ConfigError(
            f"{where}: name the expression {entry!r}: write it as `expression AS name`"
        )
    return Group(node.alias, None, node.this.sql(dialect=DIALECT), where)
