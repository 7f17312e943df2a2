"""Operations: named, pure functions from an Ibis table to an Ibis table.

`apply` runs one operation spec (see `warehouse_kit.core.spec`) on a table. Each
operation checks the columns it names against the real table first, so a
typo is reported with the file, the key path and the available columns
before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis import _

from warehouse_kit.core import sqlexpr
from warehouse_kit.core.casting import safe_cast, trimmed, unparsed
from warehouse_kit.core.errors import ConfigError, column_hint
from warehouse_kit.core.lookups import look_up, one_version
from warehouse_kit.core.models import UNKNOWN_KEY, BuildContext, DimensionKeys, Model, Tally
from warehouse_kit.core.operations import (
    AggregateMetrics,
    ApplyBusinessRules,
    BuildFacts,
    CalculateMetrics,
    CreateDateDimension,
    Deduplicate,
    DropColumns,
    Fill,
    JoinTables,
    NullHandling,
    Operation,
    Rename,
    Select,
    TypeCasting,
)

LOAD_METADATA = ("_loaded_at", "_source", "_batch_id")


@dataclass(frozen=True)
class Step:
    """One operation of one model: where it was declared, and what it can reach."""

    file: str
    key_path: str
    context: BuildContext

    @property
    def where(self) -> str:
        return f"{self.file}: {self.key_path}"

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key_path=self.key_path)

    def columns(self, table: ir.Table, names: Sequence[str], key: str) -> list[str]:
        """`names`, after checking each is a column of `table`."""
        for name in names:
            if name not in table.columns:
                raise self.error(f"{key}: {unknown_column(name, table)}")
        return list(names)

    def model(self, reference: str) -> Model:
        return self.context.upstream[reference]

    def tally(
        self, kind: Literal["dropped", "unparsed"], table: ir.Table, counts: dict[str, ir.Scalar]
    ) -> None:
        """Count, by reason, what the operation sets apart from `table` (one aggregate)."""
        self.context.tallies.append(Tally(kind, table.aggregate(**counts)))


def unknown_column(name: str, table: ir.Table) -> str:
    return f"unknown column {name!r}; {column_hint(name, list(table.columns))}"


def references(operation: Operation) -> list[str]:
    """The other models an operation reads."""
    if isinstance(operation, JoinTables):
        return [operation.with_]
    if isinstance(operation, BuildFacts):
        return [dimension.dimension for dimension in operation.dimensions]
    return []


def apply(operation: Operation, table: ir.Table, step: Step) -> ir.Table:
    result: ir.Table = OPERATIONS[type(operation)](operation, table, step)
    return result


def deduplicate(op: Deduplicate, table: ir.Table, step: Step) -> ir.Table:
    data_columns = [c for c in table.columns if c not in LOAD_METADATA]
    key = step.columns(table, op.key or data_columns, "key")
    default_order = [c for c in ("_loaded_at",) if c in table.columns]
    order = step.columns(table, op.order_by or default_order, "order_by")
    direction = ibis.desc if op.keep == "last" else ibis.asc
    # The remaining columns break ties, so the row kept never depends on scan order.
    tie_breakers = [c for c in data_columns if c not in key and c not in order]
    rank = ibis.row_number().over(
        group_by=[table[c] for c in key],
        order_by=[direction(table[c]) for c in order] + [table[c] for c in tie_breakers],
    )
    missing_key = ibis.or_(*(table[c].isnull() for c in key))
    # The rows set apart: those with a key, but one row per key. A hash aggregate: no sort.
    keyed = table.filter(~missing_key)
    groups = keyed.group_by(key).aggregate(_wk_rows=keyed.count())
    counts = groups.aggregate(**{f"duplicate ({', '.join(key)})": (groups._wk_rows - 1).sum()})
    step.context.tallies.append(Tally("dropped", counts, grouped=True))
    ranked = table.mutate(_wk_rank=rank)
    return ranked.filter((ranked._wk_rank == 0) | missing_key).drop("_wk_rank")


def type_casting(op: TypeCasting, table: ir.Table, step: Step) -> ir.Table:
    step.columns(table, list(op.columns), "columns")
    native = step.context.warehouse.capabilities.try_cast
    casts = {}
    counts: dict[str, ir.Scalar] = {}
    out_of: dict[str, str] = {}
    for index, (name, type_name) in enumerate(op.columns.items()):
        try:
            target = dt.dtype(type_name)
        except Exception:
            raise step.error(f"columns.{name}: unknown type {type_name!r}") from None
        casts[name] = safe_cast(table[name], target, native=native)
        if target.is_string():
            continue  # text is only trimmed: it always parses
        reason = f"{name} as {target}"
        counts[reason], counts[f"_wk_given_{index}"] = unparsed(table[name], target, native=native)
        out_of[reason] = f"_wk_given_{index}"
    if counts:
        tally = Tally("unparsed", table.aggregate(**counts), out_of, op.max_unparsed)
        step.context.tallies.append(tally)
    return table.mutate(**casts)


def null_handling(op: NullHandling, table: ir.Table, step: Step) -> ir.Table:
    step.columns(table, list(op.columns), "columns")
    if op.blank_is_null:
        blanks = {
            name: ibis.ifelse(trimmed(table[name]) == "", ibis.null(dtype), table[name])
            for name, dtype in table.schema().items()
            if dtype.is_string() and name not in LOAD_METADATA
        }
        table = table.mutate(**blanks)
    fills = {
        name: table[name].fill_null(ibis.literal(rule.fill).cast(table[name].type()))
        for name, rule in op.columns.items()
        if isinstance(rule, Fill)
    }
    table = table.mutate(**fills) if fills else table
    keys = [name for name, rule in op.columns.items() if rule == "drop"]
    if not keys:
        return table
    missing = ibis.or_(*(table[name].isnull() for name in keys))
    step.tally("dropped", table, {f"NULL {', '.join(keys)}": table.count(where=missing)})
    return table.filter(*(table[name].notnull() for name in keys))


def join_tables(op: JoinTables, table: ir.Table, step: Step) -> ir.Table:
    """Add columns of another model; a name already taken gets the model's name as suffix."""
    other = step.context.input(op.with_)
    # A table that is itself a join's result would be merged into that join by Ibis, which
    # then cannot place this join's predicates: a view starts a join of its own.
    table = table.view()
    pairs = list(op.on.items()) if isinstance(op.on, dict) else [(name, name) for name in op.on]
    step.columns(table, [left for left, _ in pairs], "on")
    right_keys = step.columns(other, [right for _, right in pairs], "on")
    taken = step.columns(
        other, op.columns or [c for c in other.columns if c not in right_keys], "columns"
    )
    suffix = step.model(op.with_).name
    names = {c: f"{c}_{suffix}" if c in table.columns else c for c in taken}
    right = other.select(
        **{f"_wk_key_{i}": other[c] for i, c in enumerate(right_keys)},
        **{names[c]: other[c] for c in taken},
    )
    predicates = [table[left] == right[f"_wk_key_{i}"] for i, (left, _) in enumerate(pairs)]
    step.context.keeps_rows = False  # a join may match a row more than once, or not at all
    joined = table.join(right, predicates, how=op.how)
    keys = {
        left: joined[left].fill_null(joined[f"_wk_key_{i}"]) for i, (left, _) in enumerate(pairs)
    }
    left_columns = [keys.get(c, joined[c]).name(c) for c in table.columns]
    return joined.select(*left_columns, *names.values())


def select(op: Select, table: ir.Table, step: Step) -> ir.Table:
    return table.select(*step.columns(table, op.columns, "columns"))


def rename(op: Rename, table: ir.Table, step: Step) -> ir.Table:
    step.columns(table, list(op.columns), "columns")
    kept = [c for c in table.columns if c not in op.columns]
    for new in op.columns.values():
        if new in kept or list(op.columns.values()).count(new) > 1:
            raise step.error(f"columns: {new!r} would name two columns")
    return table.rename({new: old for old, new in op.columns.items()})


def drop_columns(op: DropColumns, table: ir.Table, step: Step) -> ir.Table:
    named = step.columns(table, op.columns, "columns")
    metadata = [c for c in LOAD_METADATA if c in table.columns] if op.load_metadata else []
    dropped = set(named) | set(metadata)
    if dropped >= set(table.columns):
        raise step.error("columns: that would drop every column")
    return table.drop(*dict.fromkeys([*named, *metadata])) if dropped else table


def apply_business_rules(op: ApplyBusinessRules, table: ir.Table, step: Step) -> ir.Table:
    for index, rule in enumerate(op.rules):
        where = f"{step.where}.rules[{index}].condition"
        condition = sqlexpr.to_ibis(rule.condition, table, where=where)
        if rule.action == "filter":
            kept = condition.fill_null(False)
            step.tally("dropped", table, {f"rule {rule.name}": table.count(where=~kept)})
            table = table.filter(condition)
        else:
            table = table.mutate(**{rule.name: condition.fill_null(False)})
    return table


def calculate_metrics(op: CalculateMetrics, table: ir.Table, step: Step) -> ir.Table:
    for name, expression in op.columns.items():
        value = sqlexpr.to_ibis(expression, table, where=f"{step.where}.columns.{name}")
        table = table.mutate(**{name: value})
    return table


def aggregate_metrics(op: AggregateMetrics, table: ir.Table, step: Step) -> ir.Table:
    group_by = step.columns(table, op.group_by, "group_by")
    measures = {
        name: sqlexpr.to_ibis_aggregate(expression, table, where=f"{step.where}.measures.{name}")
        for name, expression in op.measures.items()
    }
    step.context.keeps_rows = False
    return (
        table.group_by(group_by).aggregate(**measures) if group_by else table.aggregate(**measures)
    )


def build_facts(op: BuildFacts, table: ir.Table, step: Step) -> ir.Table:
    natural_keys = [c for dimension in op.dimensions for c in dimension.key]
    step.columns(table, natural_keys, "dimensions")
    kept = step.columns(
        table, op.columns or [c for c in table.columns if c not in natural_keys], "columns"
    )
    result = table
    surrogate_keys = []
    for index, spec in enumerate(op.dimensions):
        keys = _dimension_keys(step, index, spec.dimension, len(spec.key))
        at = spec.at or op.event_time
        if at:
            step.columns(table, [at], f"dimensions[{index}].at" if spec.at else "event_time")
        members = step.context.input(spec.dimension)
        if keys.valid_from:  # a type-2 dimension: a fact must match one version at most
            dimension = step.model(spec.dimension).id
            step.context.guards.append(one_version(members, keys, dimension))
        result = look_up(result, members, keys, list(spec.key), at)
        surrogate_keys.append(keys.surrogate)
    return result.select(*surrogate_keys, *kept)


def _dimension_keys(step: Step, index: int, reference: str, width: int) -> DimensionKeys:
    dimension = step.model(reference)
    if dimension.keys is None:
        raise step.error(f"dimensions[{index}]: {dimension.id} is not a dimension")
    if len(dimension.keys.natural) != width:
        raise step.error(
            f"dimensions[{index}].key: {dimension.id} has the natural key "
            f"{list(dimension.keys.natural)}; give as many columns"
        )
    return dimension.keys


def create_date_dimension(op: CreateDateDimension, table: ir.Table, step: Step) -> ir.Table:
    """One row per day of the whole years the column's dates fall in, plus the unknown day."""
    column = step.columns(table, [op.column], "column")[0]
    step.context.keeps_rows = False  # a row per day, whatever the rows in
    dates = table[column].cast("date")
    start = ibis.date(dates.min().year(), 1, 1)
    end = ibis.date(dates.max().year() + 1, 1, 1)
    offsets = table.aggregate(offset=ibis.range(0, end.delta(start, unit="day")), start=start)
    # Unnested on its own: Spark allows no generator inside an expression.
    offsets = offsets.select(offset=_.offset.unnest(), start=_.start)
    # Ibis types date + interval as a date and drops a cast back to date, yet engines
    # compute a timestamp; going through a timestamp keeps the cast in the SQL.
    day = _.start.cast("timestamp") + _.offset.as_interval("D")
    days = offsets.select(date=day.date())
    calendar = days.mutate(**date_attributes(days.date, op.fiscal_year_start_month))
    calendar = calendar.select("date_key", *[c for c in calendar.columns if c != "date_key"])
    return calendar.union(unknown_member(calendar, DimensionKeys(("date",), "date_key")))


def date_attributes(day: ir.DateValue, fiscal_start: int) -> dict[str, ir.Value]:
    weekday = day.day_of_week.index()  # Monday = 0
    thursday = day + (3 - weekday).as_interval("D")  # ISO weeks belong to their Thursday's year
    fiscal_shift = (
        12 - fiscal_start + 1
    ) % 12  # months to add so the fiscal year starts in January
    fiscal_day = day + ibis.literal(fiscal_shift).as_interval("M")
    return {
        "date_key": (day.year() * 10000 + day.month() * 100 + day.day()).cast("int32"),
        "year": day.year().cast("int16"),
        "quarter": day.quarter().cast("int16"),
        "month": day.month().cast("int16"),
        "month_name": day.strftime("%B"),
        "day_of_month": day.day().cast("int16"),
        "day_of_week": (weekday + 1).cast("int16"),
        "weekday_name": day.day_of_week.full_name(),
        "is_weekend": weekday >= 5,
        "iso_week": day.week_of_year().cast("int16"),
        "iso_year": thursday.year().cast("int16"),
        "fiscal_year": fiscal_day.year().cast("int16"),
        "fiscal_quarter": fiscal_day.quarter().cast("int16"),
    }


def unknown_member(members: ir.Table, keys: DimensionKeys) -> ir.Table:
    """The row facts point to when their member is missing: key -1, "Unknown" labels."""
    values = {}
    for name, dtype in members.schema().items():
        if name == keys.surrogate:
            values[name] = ibis.literal(UNKNOWN_KEY).cast(dtype)
        elif dtype.is_string() and name not in keys.natural:
            values[name] = ibis.literal("Unknown")
        else:
            values[name] = ibis.null(dtype)
    # An aggregate without groups always has exactly one row, whatever the input.
    return members.aggregate(_wk_rows=members.count()).select(**values)


OPERATIONS: dict[type, Callable[[Any, ir.Table, Step], ir.Table]] = {
    Deduplicate: deduplicate,
    TypeCasting: type_casting,
    NullHandling: null_handling,
    JoinTables: join_tables,
    Select: select,
    Rename: rename,
    DropColumns: drop_columns,
    ApplyBusinessRules: apply_business_rules,
    CalculateMetrics: calculate_metrics,
    AggregateMetrics: aggregate_metrics,
    BuildFacts: build_facts,
    CreateDateDimension: create_date_dimension,
}
