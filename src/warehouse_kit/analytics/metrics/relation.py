"""The rows a model's measures aggregate: its fact table with what a query uses of its joins.

Many-to-one joins (a fact to its dimensions) keep one row per fact row, so they
are LEFT JOINs: a fact whose key matches nothing stays, with NULLs (``type:
inner``: it drops out). Their tables must have one row per key (`keys`).

A one-to-many join (a bridge or an attribute table: several rows per key) would
repeat fact rows: joined naively, an order line counts twice for a customer with
two addresses in the same country, and twice under ``where: tag IN ('a', 'b')``
for a customer with both tags. Here the joined table is first cut down to its
distinct (key, columns the query groups by) rows, after the query's conditions on
it; each fact row then meets each distinct group value once. A fact row counts
once in every group it belongs to and once under any filter, whatever the
measure (sums, counts and custom aggregates alike). Only `by` and `where` may use
such columns: a measure over them would have no single value per fact row.

Computed dimensions come in between (`dimensions`): row-level ones are columns
computed on each row; those with ``per`` are aggregated per key over all the
model's rows (before the query's filters), and joined back where the rows need
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ibis.expr.types as ir
import sqlglot.expressions as sge

from warehouse_kit.analytics.metrics.dimensions import Totals, compile_dimension, with_computed
from warehouse_kit.analytics.metrics.keys import require_unique
from warehouse_kit.analytics.metrics.star import Compiled, Join, Star
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.sqlexpr import translate


@dataclass
class _Plan:
    """What to build, in order: joins, then computed dimensions."""

    star: Star
    fields: set[str] = field(default_factory=set)
    """Canonical names of the columns of the fact table and many-to-one joins needed."""
    computed: dict[str, Compiled] = field(default_factory=dict)
    """Computed dimensions needed, in dependency order."""
    joins: dict[str, Join] = field(default_factory=dict)
    """Joins needed, each after the joins its own side comes from."""


def relation(
    star: Star,
    needed: Iterable[str],
    filters: Sequence[Compiled] = (),
    per_key: Iterable[str] = (),
) -> tuple[ir.Table, dict[str, Totals]]:
    """The model's rows with the `needed` fields (canonical names), `filters` applied,
    and the totals of the ``per`` dimensions `per_key` (whose values the rows hold only
    if `needed`)."""
    # count(*) alone needs no column, but a relation has at least one
    needed = sorted(set(needed)) or [star.fact.columns[0]]
    own, bridged = _split(star, filters)
    grouped = {name for name in needed if _is_fan_out(star, name)}
    plan = _Plan(star)
    for name in sorted({*needed, *_fields_of(own), *per_key} - grouped):
        _need(plan, name, ())
    fan_joins = {_join(star, name) for name in grouped | _fields_of(bridged)}
    for join in sorted(fan_joins, key=lambda j: j.name):
        for left in join.left:
            _need(plan, left, ())
    model_filter = _model_filter(star)
    for name in model_filter.fields if model_filter else ():
        _need(plan, name, ())
    rows = _joined(plan)
    if model_filter is not None:
        rows = rows.filter(condition(model_filter, rows))
    later = {*needed, *_fields_of(own), *(left for join in fan_joins for left in join.left)}
    rows, totals = with_computed(star, plan.computed, rows, later)
    for join in sorted(fan_joins, key=lambda j: j.name):
        rows = _with_fan_out(star, rows, join, grouped, bridged)
    for test in own:
        rows = rows.filter(condition(test, rows))
    return rows.select(*needed), {name: totals[name] for name in per_key}


def _model_filter(star: Star) -> Compiled | None:
    if not star.model.spec.filter:
        return None
    compiled = star.compile(star.model.spec.filter, star.model.where.prefix("filter"))
    refuse_fan_out(star, compiled, "the model's filter")
    _refuse_computed(star, compiled)
    return compiled


def _join(star: Star, name: str) -> Join:
    join = star.join_of(name)
    assert join is not None
    return join


def _is_fan_out(star: Star, name: str) -> bool:
    join = star.join_of(name)
    return join is not None and join.fan_out


def _need(plan: _Plan, name: str, path: tuple[str, ...]) -> None:
    star = plan.star
    if name in star.computed:
        if name in path:
            cycle = " -> ".join([*path[path.index(name) :], name])
            raise star.model.where.error(f"computed dimensions depend on each other: {cycle}")
        if name in plan.computed:
            return
        compiled, per = compile_dimension(star, name)
        for used in sorted(compiled.fields | set(per)):
            _need(plan, used, (*path, name))
        plan.computed[name] = compiled
        return
    plan.fields.add(name)
    join = star.join_of(name)
    if join is not None and join.name not in plan.joins:
        for left in join.left:
            _need(plan, left, path)
        if not join.checked and star.warehouse is not None:
            require_unique(
                star.warehouse, star.name, join.name, join.table, join.display, join.right
            )
        plan.joins[join.name] = join


def _joined(plan: _Plan) -> ir.Table:
    """The fact table LEFT (or INNER) JOIN each many-to-one join needed, canonical names."""
    star = plan.star
    rows = star.fact
    for join in plan.joins.values():
        table = join.table.filter(join.table[join.current]) if join.current else join.table
        prefix = f"{join.name}."
        columns = {n: table[n.removeprefix(prefix)] for n in plan.fields if star.join_of(n) is join}
        keys = {f"__key{i}": table[column] for i, column in enumerate(join.right)}
        right = table.select(**columns, **keys)
        # The unknown member's current version has a NULL natural key, as its facts do.
        match = [
            rows[left].identical_to(right[key]) if join.current else rows[left] == right[key]
            for left, key in zip(join.left, keys, strict=True)
        ]
        rows = rows.join(right, match, how=join.how)
    return rows.select(*sorted(n for n in plan.fields if not _is_fan_out(star, n)))


def _split(star: Star, filters: Sequence[Compiled]) -> tuple[list[Compiled], list[Compiled]]:
    """The query's conditions: on the fact's rows, and on one-to-many joins."""
    own, bridged = [], []
    for condition in (part for f in filters for part in _conjuncts(f)):
        joins = {star.join_of(name) for name in condition.fields}
        fanning = {join.name for join in joins if join is not None and join.fan_out}
        if not fanning:
            own.append(condition)
        elif len(joins) == 1:
            bridged.append(condition)
        else:
            raise ConfigError(
                f"{condition.where}: in condition {condition.source!r}: a condition on the "
                f"one-to-many join {', '.join(sorted(fanning))} can use only its columns: "
                "split it into conditions joined by AND"
            )
    return own, bridged


def _conjuncts(condition: Compiled) -> list[Compiled]:
    node = condition.node
    parts = list(node.flatten()) if isinstance(node, sge.And) else [node]
    if len(parts) == 1:
        return [condition]
    return [
        Compiled(
            condition.source,
            part,
            frozenset(c.name for c in part.find_all(sge.Column)),
            condition.where,
        )
        for part in parts
    ]


def _with_fan_out(
    star: Star, rows: ir.Table, join: Join, fields: set[str], conditions: list[Compiled]
) -> ir.Table:
    """A one-to-many join, cut down to distinct (key, grouped columns) rows first."""
    mine = [c for c in conditions if _join(star, next(iter(c.fields))) is join]
    grouped = sorted(name for name in fields if star.join_of(name) is join)
    prefix = f"{join.name}."
    used = {*grouped, *_fields_of(mine)}
    columns = {name: join.table[name.removeprefix(prefix)] for name in used}
    keys = {f"__key{i}": join.table[column] for i, column in enumerate(join.right)}
    table = join.table.select(**columns, **keys)
    for test in mine:
        table = table.filter(condition(test, table))
    table = table.select(*grouped, *keys).distinct()
    match = [rows[left] == table[key] for left, key in zip(join.left, keys, strict=True)]
    # a condition keeps only the facts it matches
    kind = "inner" if mine or join.how == "inner" else "left"
    return rows.join(table, match, how=kind).select(*rows.columns, *grouped)


def _fields_of(conditions: Sequence[Compiled]) -> set[str]:
    return {name for condition in conditions for name in condition.fields}


def refuse_fan_out(star: Star, compiled: Compiled, what: str) -> None:
    for name in compiled.fields:
        join = star.join_of(name)
        if join is not None and join.fan_out:
            raise ConfigError(
                f"{compiled.where}: {what} uses {name!r}, a column of the one-to-many join "
                f"{join.name}: it has several values per fact row; group or filter by it instead"
            )


def _refuse_computed(star: Star, compiled: Compiled) -> None:
    for name in compiled.fields:
        if name in star.computed:
            raise ConfigError(
                f"{compiled.where}: the model's filter cannot use the computed dimension {name!r}"
            )


def condition(compiled: Compiled, rows: ir.Table) -> ir.BooleanValue:
    value = translate(compiled.node, rows, sql=compiled.source, where=compiled.where)
    if not value.type().is_boolean():
        raise ConfigError(
            f"{compiled.where}: {compiled.source!r} is a {value.type()}, not a condition"
        )
    result: ir.BooleanValue = value
    return result
