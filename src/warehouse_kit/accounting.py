"""Every row accounted for: what a model's operations set apart (dropped, by reason) and
the values they could not read, counted in the model's transaction for its run record."""

from __future__ import annotations

from warehouse_kit.backends import Transaction, Warehouse
from warehouse_kit.planner import Planned
from warehouse_kit.results import ModelResult


def account(tx: Transaction, warehouse: Warehouse, item: Planned, result: ModelResult) -> None:
    """Count what the model's operations set apart or could not read (in its
    transaction), and say where rows in do not add up to rows out + quarantined +
    dropped, for a model whose operations neither group nor join rows."""
    if not item.tallies:
        return
    counts = [tally.count.name(f"_wk_{i}").as_table() for i, tally in enumerate(item.tallies)]
    table = counts[0]
    for other in counts[1:]:
        table = table.cross_join(other)
    values = tx.run(warehouse.to_sqlglot(table))[0]
    notes = []
    for tally, value in zip(item.tallies, values, strict=True):
        if tally.kind == "dropped":
            result.dropped[tally.reason] = int(value or 0)
        elif value:
            notes.append(f"{value:,} {tally.reason} did not parse (NULL)")
    result.rows_dropped = sum(result.dropped.values())
    if item.keeps_rows and result.rows_in is not None and result.rows_out is not None:
        kept = result.rows_out + (result.rows_quarantined or 0) + result.rows_dropped
        if kept != result.rows_in:
            notes.append(f"{result.rows_in - kept:,} rows in are not accounted for")
    result.note = "; ".join(part for part in (result.note, *notes) if part)
