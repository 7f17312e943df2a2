"""Every row accounted for: what a model's operations set apart (dropped, by reason) and
the values they could not read, counted in the model's transaction for its run record.

Counting costs a pass over each counting operation's input, so it is skipped where the
run's own counts say enough: for a model whose operations neither group nor join rows,
rows in - rows out - quarantined are the rows dropped, so nothing dropped needs no
count, and a single reason needs none either.
"""

from __future__ import annotations

from warehouse_kit.backends import Transaction, Warehouse
from warehouse_kit.models import Tally
from warehouse_kit.planner import Planned
from warehouse_kit.results import ModelResult


def account(tx: Transaction, warehouse: Warehouse, item: Planned, result: ModelResult) -> None:
    """Count what the model's operations set apart or could not read, and say where
    rows in do not add up to rows out + quarantined + dropped."""
    drops = [t for t in item.tallies if t.kind == "dropped"]
    reasons = [name for tally in drops for name in tally.counts.columns]
    unaccounted = _unaccounted(item, result)
    if unaccounted is not None and (unaccounted == 0 or len(reasons) == 1):
        result.dropped = dict.fromkeys(reasons, unaccounted)
        drops = []
    counted = _count(tx, warehouse, [*drops, *(t for t in item.tallies if t.kind == "unparsed")])
    notes = []
    for (kind, reason), value in counted:
        if kind == "dropped":
            result.dropped[reason] = value
        elif value:
            notes.append(f"{value:,} {reason} did not parse (NULL)")
    result.rows_dropped = sum(result.dropped.values())
    if unaccounted is not None and unaccounted != result.rows_dropped:
        notes.append(f"{unaccounted - result.rows_dropped:,} rows in are not accounted for")
    result.note = "; ".join(part for part in (result.note, *notes) if part)


def _unaccounted(item: Planned, result: ModelResult) -> int | None:
    """Rows in - rows out - quarantined, where that is what was dropped."""
    if not item.keeps_rows or result.rows_in is None or result.rows_out is None:
        return None
    return result.rows_in - result.rows_out - (result.rows_quarantined or 0)


def _count(
    tx: Transaction, warehouse: Warehouse, tallies: list[Tally]
) -> list[tuple[tuple[str, str], int]]:
    """Every count of the tallies, in one query."""
    if not tallies:
        return []
    parts, reasons = [], []
    for i, tally in enumerate(tallies):
        names = list(tally.counts.columns)
        parts.append(tally.counts.rename({f"_wk_{i}_{j}": n for j, n in enumerate(names)}))
        reasons += [(tally.kind, name) for name in names]
    table = parts[0]
    for other in parts[1:]:
        table = table.cross_join(other)
    values = tx.run(warehouse.to_sqlglot(table))[0]
    return [(reason, int(value or 0)) for reason, value in zip(reasons, values, strict=True)]
