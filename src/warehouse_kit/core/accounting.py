"""Every row accounted for: what a model's operations set apart (dropped, by reason) and
the values they could not read, counted in the model's transaction for its run record.

Counting costs a pass over each counting operation's input, so it is skipped where the
run's own counts say enough: for a model whose operations neither group nor join rows,
rows in - rows out - quarantined are the rows dropped, so nothing dropped needs no
count, and of several reasons one (the costliest to count) is what the others leave.
"""

from __future__ import annotations

import logging

import ibis.expr.operations as ops

from warehouse_kit.core.backends import Transaction, Warehouse
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.models import Tally
from warehouse_kit.core.planner import Planned
from warehouse_kit.core.results import ModelResult

log = logging.getLogger(__name__)


def account(tx: Transaction, warehouse: Warehouse, item: Planned, result: ModelResult) -> None:
    """Count what the model's operations set apart or could not read, and say where
    rows in do not add up to rows out + quarantined + dropped. Raises `ModelError`
    where a cast lost more than its operation allows and the model's schema contract
    is freeze."""
    drops = [t for t in item.tallies if t.kind == "dropped"]
    reasons = [name for tally in drops for name in tally.counts.columns]
    unaccounted = _unaccounted(item, result)
    derived = _derivable(drops) if unaccounted is not None else None
    if unaccounted == 0:
        drops, derived = [], None
    unparsed = [t for t in item.tallies if t.kind == "unparsed"]
    counted = [*(t for t in drops if t is not derived), *unparsed]
    dropped: dict[str, int] = dict.fromkeys(reasons, 0)
    notes = []
    for tally, counts in zip(counted, _count(tx, warehouse, counted), strict=True):
        if tally.kind == "dropped":
            dropped.update(counts)
            continue
        for reason, base in tally.out_of.items():
            notes += _unparsed(item, reason, counts[reason], counts[base], tally.limit)
    if derived is not None and unaccounted is not None:
        # Drops by one operation after another are disjoint: the last reason is the rest.
        [reason] = derived.counts.columns
        dropped[reason] = unaccounted - (sum(dropped.values()) - dropped[reason])
    result.dropped = dropped
    result.rows_dropped = sum(result.dropped.values())
    if unaccounted is not None and unaccounted != result.rows_dropped:
        notes.append(f"{unaccounted - result.rows_dropped:,} rows in are not accounted for")
    result.note = "; ".join(part for part in (result.note, *notes) if part)


def _unparsed(item: Planned, reason: str, lost: int, given: int, limit: float) -> list[str]:
    """A note of the values a cast could not read; a warning past the limit, or under
    freeze an error."""
    if not lost:
        return []
    note = f"{lost:,} {reason} did not parse (NULL)"
    if lost <= limit * given:
        return [note]
    share = f"{lost:,} of {given:,} non-empty values ({lost / given:.1%}) did not parse"
    problem = f"{reason}: {share}, over the {limit:.0%} type_casting allows (max_unparsed)"
    if item.model.contract == "freeze":
        raise ModelError(item.model.id, f"{problem}, and schema_contract: freeze fails it")
    log.warning("%s: %s", item.model.id, problem)
    return [f"{reason}: {share} (NULL)"]


def _derivable(drops: list[Tally]) -> Tally | None:
    """The tally of one reason worth not counting, the costliest (a count per group)."""
    single = [t for t in drops if len(t.counts.columns) == 1]
    return max(single, key=lambda t: t.grouped) if single else None


def _unaccounted(item: Planned, result: ModelResult) -> int | None:
    """Rows in - rows out - quarantined, where that is what was dropped."""
    if not item.keeps_rows or result.rows_in is None or result.rows_out is None:
        return None
    return result.rows_in - result.rows_out - (result.rows_quarantined or 0)


def _count(tx: Transaction, warehouse: Warehouse, tallies: list[Tally]) -> list[dict[str, int]]:
    """Every count of the tallies, in one query: for each tally, its counts by name. The
    tallies over one relation (an operation's input, or a projection of it: the casts of
    a type_casting) are one aggregate, so their counts share a scan."""
    if not tallies:
        return []
    by_relation: dict[ops.Relation, dict[str, ops.Value]] = {}
    for i, tally in enumerate(tallies):
        aggregate = _unprojected(tally.counts.op())
        metrics = by_relation.setdefault(aggregate.parent, {})
        for j, value in enumerate(aggregate.metrics.values()):
            metrics[f"_wk_{i}_{j}"] = value
    parts = [
        ops.Aggregate(parent, groups={}, metrics=m).to_expr() for parent, m in by_relation.items()
    ]
    table = parts[0]
    for other in parts[1:]:
        table = table.cross_join(other)
    [row] = tx.run(warehouse.to_sqlglot(table.select(*sorted(table.columns, key=_order))))
    values = iter(row)
    return [{name: int(next(values) or 0) for name in tally.counts.columns} for tally in tallies]


def _order(name: str) -> tuple[int, int]:
    """``_wk_{tally}_{count}`` in the tallies' order."""
    _, _, tally, count = name.split("_")
    return int(tally), int(count)


def _unprojected(aggregate: ops.Aggregate) -> ops.Aggregate:
    """The same counts over the relation a projection reads, where that is the same
    thing: no grouping, and columns computed row by row (no window, no aggregate)."""
    while not aggregate.groups and isinstance(aggregate.parent, ops.Project):
        projection = aggregate.parent
        values = projection.values.values()
        if any(v.find((ops.WindowFunction, ops.Reduction), filter=ops.Value) for v in values):
            break
        replaced: dict[ops.Node, ops.Node] = {
            ops.Field(projection, name): value for name, value in projection.values.items()
        }
        replaced[projection] = projection.parent
        metrics = {name: v.replace(replaced) for name, v in aggregate.metrics.items()}
        aggregate = ops.Aggregate(projection.parent, groups={}, metrics=metrics)
    return aggregate
