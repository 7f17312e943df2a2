"""Showing a (small) metric result: formatted for a table, or as CSV or JSON text."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from warehouse_kit.analytics.metrics.layer import SemanticLayer
from warehouse_kit.analytics.metrics.spec import COMPARISONS

CHANGE_FORMAT = "+.1%"


def column_formats(layer: SemanticLayer, columns: Sequence[str]) -> dict[str, str | None]:
    """The format of each result column: its metric's (``revenue_last_year`` is revenue's);
    relative changes as percentages; None for the others."""
    formats: dict[str, str | None] = {}
    for column in columns:
        if column.endswith("_change"):
            formats[column] = CHANGE_FORMAT
            continue
        metric = layer.metrics.get(_metric_of(column, layer))
        formats[column] = metric.spec.format if metric else None
    return formats


def _metric_of(column: str, layer: SemanticLayer) -> str:
    for suffix in ("_cumulative", *(f"_{c}" for c in COMPARISONS)):
        if column.endswith(suffix) and column.removesuffix(suffix) in layer.metrics:
            return column.removesuffix(suffix)
    if "_rolling_" in column:
        return column.rsplit("_rolling_", 1)[0]
    return column


def format_value(value: Any, spec: str | None) -> str:
    """`value` as text: with `spec` when it is a number, '' for NULL."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if spec and isinstance(value, int | float | Decimal):
        for candidate in (value, float(value), int(value)):
            try:
                return format(candidate, spec)
            except (ValueError, OverflowError):
                continue
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_plain(row[column]) for column in columns])
    return out.getvalue()


def to_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as a JSON array of objects; decimals as numbers, dates as ISO text."""
    return json.dumps([{k: _json(v) for k, v in row.items()} for row in rows], indent=2)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.isoformat() if isinstance(value, datetime | date) else value


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.isoformat() if isinstance(value, datetime | date) else value
