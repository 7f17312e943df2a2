"""Facts find their dimension members: the version valid when each fact happened.

`look_up` joins a fact to a dimension on its natural key (and, for a type-2
dimension, on the version's validity); `one_version` is the guard that makes
the join safe: a type-2 dimension whose versions of one member overlap would
match a fact twice and multiply it, so the fact fails instead, naming them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from warehouse_kit.core.models import END, UNKNOWN_KEY, DimensionKeys, Guard

LAST_INSTANT = ibis.literal(END - timedelta(microseconds=1), type="timestamp")
"""The last moment a current version covers."""


def look_up(
    facts: ir.Table, members: ir.Table, keys: DimensionKeys, key: list[str], at: str | None
) -> ir.Table:
    """Each fact's surrogate key: the member version valid at `at`, or the current one
    when there is no `at` or the fact's time is unknown (NULL); -1 if none."""
    lookup = members.filter(members[keys.surrogate] != UNKNOWN_KEY)
    if keys.valid_from and keys.valid_to and not at:
        lookup = lookup.filter(lookup[keys.valid_to] == END)
    history = [keys.valid_from, keys.valid_to] if keys.valid_from and keys.valid_to and at else []
    lookup = lookup.select(
        _wk_sk=lookup[keys.surrogate],
        **{f"_wk_nk_{i}": lookup[c] for i, c in enumerate(keys.natural)},
        **{f"_wk_valid_{i}": lookup[c] for i, c in enumerate(history)},
    )
    predicates = [facts[c] == lookup[f"_wk_nk_{i}"] for i, c in enumerate(key)]
    if history:
        # An unknown time means the current version: the last instant before END lies in
        # it alone. Comparisons only, no OR, so that engines hash-join on the key
        # (DuckDB turns an OR into a nested-loop join: hours at 10M facts).
        moment = facts[at].cast("timestamp").fill_null(LAST_INSTANT)
        predicates += [moment >= lookup._wk_valid_0, moment < lookup._wk_valid_1]
    joined = facts.left_join(lookup, predicates)
    return joined.select(*facts.columns, **{keys.surrogate: joined._wk_sk.fill_null(UNKNOWN_KEY)})


def one_version(members: ir.Table, keys: DimensionKeys, dimension: str) -> Guard:
    """The guard that no fact matches two versions of a member: no two versions of a
    member overlap (two current ones included). Checked over the whole dimension, which
    is smaller than the facts: a member no fact names yet would be met by the next one."""
    start, end, surrogate = keys.valid_from or "", keys.valid_to or "", keys.surrogate
    named = members.filter(members[surrogate] != UNKNOWN_KEY)
    # Sorted by start, a version overlapping any later one overlaps the next one.
    order = ibis.window(group_by=list(keys.natural), order_by=[start, surrogate])
    marked = named.mutate(
        _wk_next_key=named[surrogate].lead().over(order),
        _wk_next_from=named[start].lead().over(order),
    )
    overlapping = marked.filter(marked._wk_next_from < marked[end]).select(
        *keys.natural, surrogate, start, end, "_wk_next_key", "_wk_next_from"
    )

    def explain(rows: list[dict[str, Any]]) -> str:
        shown = "; ".join(
            f"{', '.join(f'{c}={row[c]}' for c in keys.natural)}: {surrogate} {row[surrogate]} "
            f"[{row[start]}, {row[end]}) and {surrogate} {row['_wk_next_key']} from "
            f"{row['_wk_next_from']}"
            for row in rows
        )
        return (
            f"{dimension} has overlapping versions of a member, so its facts would match "
            f"twice and be counted twice; nothing was written: {shown}. Repair the dimension "
            "(its rules: versions of a member never overlap)"
        )

    return Guard(overlapping, explain)
