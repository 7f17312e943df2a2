"""Computed dimensions: a value per row, or an aggregate per key (``per``).

A row-level dimension is a column computed on each of the model's rows. One
with ``per`` is aggregated per key over all the model's rows (before the
query's filters): its *totals*, one row per key. The totals are joined back to
the rows only when the rows need the value (a group, a condition, another
dimension, a measure that reads more than it); a measure of the value alone
reads the totals, once per key (`grain`).

A ``per`` dimension whose inputs are all properties of an earlier ``per``
dimension's key is aggregated over that dimension's totals rather than over
every row, when its aggregates ignore repeats (``count(DISTINCT ...)``,
``min``, ``max``): the size of a cohort, ``count(DISTINCT customer_id)`` per
``cohort_month`` (itself computed from the customer's ``first_order_date``,
``per: customer_id``), counts one row per customer, not one per order line.
Each customer's row there holds what each of their lines holds: the key, the
dimension's value (NULL for a NULL key, which a join back never matches) and
what is computed from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import sqlglot.expressions as sge

from warehouse_kit.analytics.metrics.star import Compiled, Star
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.sqlexpr import translate

_IGNORE_REPEATS = (sge.Min, sge.Max)
"""Aggregates whose value does not change when a row repeats (and count(DISTINCT x))."""


@dataclass(frozen=True)
class Totals:
    """A ``per`` dimension's value per key: columns ``__per0``, ``__per1``... and the
    dimension's name."""

    table: ir.Table
    per: tuple[str, ...]
    """The key's fields (canonical names), in the order of the ``__per`` columns."""

    def joined(self, rows: ir.Table, keys: Mapping[str, str], name: str) -> ir.Table:
        """`rows` with the dimension, matched on `keys` (a field of `per` -> the column of
        `rows` that holds it); a NULL key matches nothing."""
        return _Projection(self.join(rows, keys), [*rows.columns, name]).table()

    def join(self, rows: ir.Table, keys: Mapping[str, str]) -> ir.Table:
        """`rows` LEFT JOIN the totals, not yet projected."""
        table = self.table
        match = [rows[keys[field]] == table[f"__per{i}"] for i, field in enumerate(self.per)]
        return rows.left_join(table, match)


class _Projection:
    """The columns selected from a join, row-level dimensions computed on it included:
    one SELECT over the join rather than one more around it (DuckDB turns a LEFT JOIN
    into an INNER one under a condition that rejects its NULLs, a cohort's month
    required, through one projection but not through two)."""

    def __init__(self, joined: ir.Table, columns: list[str]):
        self.joined = joined
        self.values: dict[str, ir.Value] = {name: joined[name] for name in columns}
        self.computed: set[str] = set()

    def add(self, name: str, compiled: Compiled) -> bool:
        """Compute `name` here, unless it reads a dimension computed here too."""
        if compiled.fields & self.computed:
            return False
        self.values[name] = translate(
            compiled.node, self.joined, sql=compiled.source, where=compiled.where
        )
        self.computed.add(name)
        return True

    def table(self) -> ir.Table:
        return self.joined.select(**self.values)


def compile_dimension(star: Star, name: str) -> tuple[Compiled, tuple[str, ...]]:
    """A computed dimension's expression and its ``per`` fields (canonical)."""
    spec = star.computed[name]
    where = star.model.where.prefix(f"dimensions.{name}")
    compiled = star.compile(spec.expr, f"{where}.expr")
    per = tuple(star.resolve(ref.split("."), f"{where}.per") for ref in spec.per or ())
    for used in sorted(compiled.fields | set(per)):
        join = star.join_of(used)
        if join is not None and join.fan_out:
            raise ConfigError(
                f"{where}: {used!r} is a column of a one-to-many join: computed "
                "dimensions use the fact's own rows and many-to-one joins"
            )
    return compiled, per


def with_computed(
    star: Star, steps: Mapping[str, Compiled], rows: ir.Table, later: set[str]
) -> tuple[ir.Table, dict[str, Totals]]:
    """`rows` with the computed dimensions `steps` (in dependency order) that `later`
    (the fields read after them) needs, and every ``per`` dimension's totals."""
    names = list(steps)
    reads = [steps[name].fields | set(compile_dimension(star, name)[1]) for name in names]
    totals: dict[str, Totals] = {}
    open_join: _Projection | None = None
    for index, name in enumerate(names):
        compiled, per = steps[name], compile_dimension(star, name)[1]
        if not per and open_join is not None and open_join.add(name, compiled):
            continue
        after = later.union(*reads[index + 1 :])
        source = _per_key_rows(star, steps, name, totals) if per else None
        if open_join is not None and (source is None or name in after):
            rows, open_join = open_join.table(), None
        if not per:
            value = translate(compiled.node, rows, sql=compiled.source, where=compiled.where)
            rows = rows.mutate(**{name: value})
            continue
        if source is None or name in after:
            # The rows are read twice from here (aggregated, then joined on): only the
            # fields still read, so the engine does not carry the join keys and the like.
            # (A select also ends the join before: joined again, Ibis would extend it.)
            rows = rows.select(*(c for c in rows.columns if c in after or c in reads[index]))
            source = rows if source is None else source
        keys = {f"__per{i}": source[field] for i, field in enumerate(per)}
        value = translate(
            compiled.node, source, sql=compiled.source, where=compiled.where, aggregate=True
        )
        totals[name] = Totals(source.group_by(**keys).aggregate(**{name: value}), per)
        if name in after:
            joined = totals[name].join(rows, {field: field for field in per})
            open_join = _Projection(joined, [*rows.columns, name])
    if open_join is not None:
        rows = open_join.table()
    return rows, totals


def _per_key_rows(
    star: Star, steps: Mapping[str, Compiled], name: str, totals: Mapping[str, Totals]
) -> ir.Table | None:
    """One row per key of an earlier ``per`` dimension holding all that `name` reads,
    when `name` can be aggregated there (None: over the model's rows)."""
    compiled, per = steps[name], compile_dimension(star, name)[1]
    if not _ignores_repeats(compiled.node):
        return None
    for owner, found in totals.items():
        inputs = _inputs(star, steps, {*compiled.fields, *per}, {*found.per, owner})
        if inputs is None:
            continue
        table = found.table
        null_key = ibis.or_(*(table[f"__per{i}"].isnull() for i in range(len(found.per))))
        rows = table.select(
            **{field: table[f"__per{i}"] for i, field in enumerate(found.per)},
            **{owner: ibis.ifelse(null_key, ibis.null(table[owner].type()), table[owner])},
        )
        for step in (step for step in steps if step in inputs):
            row_level = steps[step]
            value = translate(row_level.node, rows, sql=row_level.source, where=row_level.where)
            rows = rows.mutate(**{step: value})
        return rows
    return None


def _inputs(
    star: Star, steps: Mapping[str, Compiled], fields: set[str], known: set[str]
) -> set[str] | None:
    """The row-level dimensions that compute `fields` from `known` alone (None: some
    field needs more than `known`)."""
    found: set[str] = set()
    for field in fields - known:
        spec = star.computed.get(field)
        if spec is None or spec.per or field not in steps:
            return None
        inner = _inputs(star, steps, set(steps[field].fields), known)
        if inner is None:
            return None
        found |= {field, *inner}
    return found


def _ignores_repeats(node: sge.Expression) -> bool:
    """Whether every aggregate of `node` gives the same value when rows repeat."""
    for aggregate in node.find_all(sge.AggFunc):
        distinct = isinstance(aggregate, sge.Count) and isinstance(aggregate.this, sge.Distinct)
        if not distinct and not isinstance(aggregate, _IGNORE_REPEATS):
            return False
    return True
