"""What a check needs to know besides the table it checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse


@dataclass(frozen=True)
class CheckContext:
    """What checks need to know besides the table itself."""

    model: str
    """The model checked, as ``silver.customers``, for messages and results."""
    warehouse: Warehouse
    tables: Callable[[str], ir.Table]
    """Resolves a model reference (relationships' ``to``); raises ConfigError if unknown."""
    previous_rows: int | None = None
    """Rows published by the last successful run (row_count's threshold)."""
    key: tuple[str, ...] = ()
    """The model's natural key: unique_keys without fields; sample rows show it."""
    now: datetime | None = None
    """The time freshness measures against (default: the current UTC time)."""
