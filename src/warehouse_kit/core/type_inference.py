"""The narrowest type each text column's values all parse as, found by one aggregate query.

What ``type_casting`` without ``columns`` casts to, and what ``wk init`` writes: for each
column, the first of boolean, int64, float64, date, timestamp that every non-empty value
parses as, else string (as DuckDB's CSV sniffer chooses). The engine counts, for every
column and candidate, the values that do not parse, in one scan; no row leaves it.

A value must have its type's shape (`casting.PATTERNS`: ISO dates, plain integers) as well
as cast: DuckDB's TRY_CAST reads ``1.5`` as the integer 2 and ``2024-01-05 10:00`` as a
date, so a column would be inferred narrower than its values. Two choices are stricter than the
sniffer's, to keep values intact: booleans are only true/false (``1``/``0`` stay numbers),
and a number with a leading zero (``007``, a postcode) keeps the column text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from warehouse_kit.core.backends import capabilities_of
from warehouse_kit.core.casting import PATTERNS, safe_cast, trimmed

CANDIDATES = ("boolean", "int64", "float64", "date", "timestamp")
"""From the narrowest: the first that every non-empty value parses as is chosen."""
_LEADING_ZERO = r"^[+-]?0[0-9]"


def infer_types(table: ir.Table, columns: Sequence[str]) -> dict[str, str]:
    """Each of `columns` (text columns of `table`, a table the engine can read) -> its
    type name; ``string`` for a column with no non-empty value or one that fits no
    candidate."""
    if not columns:
        return {}
    native = capabilities_of(table).try_cast
    counts: dict[str, ir.Scalar] = {}
    for i, name in enumerate(columns):
        text = trimmed(table[name]).nullif("")
        counts[f"_wk_{i}"] = text.count()
        for j, candidate in enumerate(CANDIDATES):
            counts[f"_wk_{i}_{j}"] = text.count(where=~_parses(text, candidate, native))
    row = table.aggregate(**counts).to_pyarrow().to_pylist()[0]
    return {name: _narrowest(row, i) for i, name in enumerate(columns)}


def _parses(text: ir.StringValue, candidate: str, native: bool) -> ir.BooleanValue:
    if candidate == "boolean":
        return text.lower().isin(["true", "false"])
    shaped = text.re_search(PATTERNS[candidate])
    if candidate in ("int64", "float64"):
        shaped = shaped & ~text.re_search(_LEADING_ZERO)
    # A CASE: PostgreSQL may evaluate an AND's sides in any order, and text is cast here.
    parsed: ir.BooleanValue = ibis.ifelse(
        shaped, safe_cast(text, dt.dtype(candidate), native=native).notnull(), False
    )
    return parsed


def _narrowest(row: Mapping[str, int], index: int) -> str:
    if not row[f"_wk_{index}"]:
        return "string"
    fits = (c for j, c in enumerate(CANDIDATES) if not row[f"_wk_{index}_{j}"])
    return next(fits, "string")


def describe(types: Mapping[str, str]) -> str:
    """``type_casting inferred id int64, signup date (3 others text)``, for notes."""
    cast = [f"{name} {kind}" for name, kind in types.items() if kind != "string"]
    text = len(types) - len(cast)
    rest = f" ({text} {'other' if cast else 'column'}{'s' if text != 1 else ''} text)"
    return f"type_casting inferred {', '.join(cast) or 'nothing'}{rest if text else ''}"
