"""Keys: what identifies a row of the tables a semantic model reads.

A model's own key (its grain) is declared (``key: [order_line_id]``) or taken
from the pipeline: a dimension's surrogate key (a type-1 dimension's natural key
too), an incremental model's ``unique_key``, a ``unique`` or ``unique_keys``
check that rejects or quarantines duplicates, so the table cannot hold any.

A many-to-one join's key is its `on` columns on the joined table's side: each
model row meets at most one row there. When the catalog cannot vouch for that
(a table outside the pipeline, a join on other columns), the first query that
uses the join asks the engine for one duplicated key, once per connection and
table; a duplicate would repeat the model's rows (a many-to-many join), so the
query fails instead, naming the join.
"""

from __future__ import annotations

from collections.abc import Sequence
from weakref import WeakKeyDictionary

import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.models import Dimension, Model
from warehouse_kit.core.quality.rows import Unique
from warehouse_kit.core.quality.tables import UniqueKeys

Key = tuple[str, ...]

_ENFORCING = {"reject", "quarantine"}
"""Check actions that keep duplicates out of the published table."""

_DUPLICATES: WeakKeyDictionary[Warehouse, dict[tuple[str, Key], Key | None]] = WeakKeyDictionary()
"""Per connection: (table, columns) -> a duplicated key value, or None when unique."""


class ManyToManyJoin(ConfigError):
    """A join declared many_to_one whose table has several rows for one key."""


def catalog_keys(node: Model | None) -> tuple[Key, ...]:
    """The column sets the pipeline guarantees unique in a model's table."""
    if node is None:
        return ()
    found: list[Key] = []
    if node.keys is not None:
        found.append((node.keys.surrogate,))
        materialization = node.materialization
        if isinstance(materialization, Dimension) and materialization.options.scd == 1:
            found.append(node.keys.natural)
    elif node.key:
        found.append(node.key)
    for check in node.checks:
        if getattr(check, "action", "warn") not in _ENFORCING:
            continue
        if isinstance(check, Unique):
            found.append(tuple(check.fields))
        elif isinstance(check, UniqueKeys) and (check.fields or node.key):
            found.append(tuple(check.fields or node.key))
    return tuple(found)


def covers(columns: Sequence[str], keys: Sequence[Key]) -> bool:
    """Whether `columns` hold one of `keys` (then they are unique too)."""
    return any(key and set(key) <= set(columns) for key in keys)


def duplicated_key(warehouse: Warehouse, table: ir.Table, display: str, columns: Key) -> Key | None:
    """A value of `columns` that several rows of `table` share (None: none does).

    Asked once per connection and table: a NULL key matches nothing, so it is no duplicate.
    """
    cache = _DUPLICATES.setdefault(warehouse, {})
    if (display, columns) not in cache:
        rows = table.filter(*(table[c].notnull() for c in columns))
        counts = rows.group_by(*columns).aggregate(__rows=rows.count())
        first = counts.filter(counts.__rows > 1).select(*columns).limit(1)
        found = warehouse.rows(first)
        cache[(display, columns)] = tuple(found[0].values()) if found else None
    return cache[(display, columns)]


def forget(warehouse: Warehouse) -> None:
    """Drop what is known of `warehouse`'s tables (after a run changed them)."""
    _DUPLICATES.pop(warehouse, None)


def model_key(declared: Sequence[str] | None, node: Model | None) -> Key:
    """A model's key: declared, else the first the pipeline guarantees (or none)."""
    if declared:
        return tuple(declared)
    known = catalog_keys(node)
    return known[0] if known else ()


def require_unique(
    warehouse: Warehouse, model: str, join: str, table: ir.Table, display: str, columns: Key
) -> None:
    """Fail when a many-to-one join's table has several rows for one key."""
    duplicate = duplicated_key(warehouse, table, display, columns)
    if duplicate is None:
        return
    shown = ", ".join(f"{c}={v!r}" for c, v in zip(columns, duplicate, strict=True))
    raise ManyToManyJoin(
        f"model {model}: join {join} is declared many_to_one but {display} has several rows "
        f"with {shown}: it would repeat the model's rows (many-to-many); join on a key of "
        "the table or declare relationship: one_to_many"
    )
