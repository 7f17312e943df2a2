"""Showing a (small) metric result: formatted for a table, or as CSV or JSON text.

`table` is the one way reports and notebooks show a frame to people: no index
column, each metric in its own format (``$,.2f`` in the analytics file is money
with thousands separators), changes and shares as percentages, other numbers
with separators and two decimals at most, and a column named after a grain
(``month``, ``quarter``) as its periods' names (``Jul 2024``, ``2024-Q3``)::

    from warehouse_kit.analytics.metrics.display import table

    table(frame, layer=metrics.load(), formats={"share": ".1%"})
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from warehouse_kit.analytics.metrics.layer import SemanticLayer
from warehouse_kit.analytics.metrics.spec import COMPARISONS

CHANGE_FORMAT = "+.1%"
CURRENCIES = "$€£¥"
"""A format may start with one of these: it is shown before the number (``$,.2f``)."""
GRAINS = ("day", "week", "month", "quarter", "year")


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
        symbol, spec = split_currency(spec)
        for candidate in (value, float(value), int(value)):
            try:
                text = format(candidate, spec)
            except (ValueError, OverflowError):
                continue
            return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"
    return str(value)


def split_currency(spec: str) -> tuple[str, str]:
    """A format's currency symbol ('' if none) and the format Python's format() takes."""
    if spec[:1] and spec[0] in CURRENCIES:
        return spec[0], spec[1:]
    return "", spec


def period_label(start: Any, grain: str) -> str:
    """A period by its first day, as people name it: ``2024-07-01``, ``2024-W07``,
    ``Jul 2024``, ``2024-Q3``, ``2024``."""
    day = start.date() if isinstance(start, datetime) else start
    if not isinstance(day, date):
        day = datetime.fromisoformat(str(start)).date()
    if grain == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02}"
    labels = {
        "day": f"{day:%Y-%m-%d}",
        "month": f"{day:%b %Y}",
        "quarter": f"{day.year}-Q{(day.month - 1) // 3 + 1}",
        "year": f"{day.year}",
    }
    return labels[grain]


@dataclass(frozen=True)
class Table:
    """A frame formatted for people: HTML in a notebook, aligned text elsewhere."""

    text: pd.DataFrame
    """Every cell as the text shown, the columns under their labels."""
    caption: str | None = None

    def __repr__(self) -> str:
        body = self.text.to_string(index=False) if len(self.text) else "(no rows)"
        return f"{self.caption}\n{body}" if self.caption else body

    def _repr_html_(self) -> str:
        numeric: list[Hashable] = [
            c for c in self.text.columns if self.text[c].astype(str).str.match(_NUMBER).all()
        ]
        others: list[Hashable] = [c for c in self.text.columns if c not in numeric]
        # The id is the shape's, not the values' (run ids, times): the same HTML run after run.
        shape = "|".join(map(str, self.text.columns)) + f"|{len(self.text)}"
        uid = hashlib.sha1(shape.encode()).hexdigest()[:8]
        styled = self.text.style.set_uuid(uid).hide(axis="index")
        styled = styled.set_properties(subset=numeric, **{"text-align": "right"})
        styled = styled.set_properties(subset=others, **{"text-align": "left"})
        styled = styled.set_caption(self.caption) if self.caption else styled
        return str(styled.to_html())


_NUMBER = r"^[-+]?[$€£¥]?[-+]?[\d,.]+%?$|^$"


def table(
    frame: pd.DataFrame,
    formats: Mapping[str, str | None] | None = None,
    *,
    layer: SemanticLayer | None = None,
    caption: str | None = None,
) -> Table:
    """`frame` formatted for people (see the module's docstring), without its index.

    `formats` (a format spec per column) win over the metrics' formats from `layer`;
    columns are headed by their metric's label, else their name without underscores.
    """
    shown = frame.reset_index(drop=True)
    chosen = dict(column_formats(layer, list(shown.columns))) if layer else {}
    chosen.update(formats or {})
    text = pd.DataFrame(
        {_header(str(c), layer): _texts(shown[c], str(c), chosen) for c in shown.columns}
    )
    return Table(text, caption)


def _header(column: str, layer: SemanticLayer | None) -> str:
    metric = layer.metrics.get(column) if layer else None
    return metric.label if metric else str(column).replace("_", " ")


def _texts(values: pd.Series, column: str, formats: Mapping[str, str | None]) -> list[str]:
    show = cell_format(values, column, formats)
    return [show(value) for value in values.astype(object)]


def cell_format(
    values: pd.Series, column: str, formats: Mapping[str, str | None] | None = None
) -> Callable[[Any], str]:
    """How `table` writes each value of the column `column` (its `values`): a grain's dates
    as periods, with its spec in `formats`, else by type (numbers with separators and two
    decimals at most, times to the second). A dashboard's table takes these too."""
    if column in GRAINS and _dates(values):
        return lambda value: _period(value, column)
    spec = (formats or {}).get(column)
    if spec is None and pd.api.types.is_bool_dtype(values):
        spec = None
    elif spec is None and pd.api.types.is_integer_dtype(values):
        spec = ",d"
    elif spec is None and pd.api.types.is_float_dtype(values):
        spec = ",.2f"
    return lambda value: _listed(value) or _moment(value) or format_value(_python(value), spec)


def cell_formats(
    frame: pd.DataFrame, formats: Mapping[str, str | None] | None = None
) -> dict[str, Callable[[Any], str]]:
    """`cell_format` for each column of `frame`: a marimo table's ``format_mapping``."""
    return {str(c): cell_format(frame[c], str(c), formats) for c in frame.columns}


def _listed(value: Any) -> str | None:
    """A list (an array column's value) as people write one: its items, comma-separated."""
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(str(item) for item in value) or "-"
    return None


def _moment(value: Any) -> str | None:
    """A timestamp as people write it: the day alone at midnight, else to the second."""
    if not isinstance(value, datetime) or value is pd.NaT:
        return None
    return f"{value:%Y-%m-%d}" if value.time() == time() else f"{value:%Y-%m-%d %H:%M:%S}"


def _python(value: Any) -> Any:
    """numpy's numbers as Python's (format() with ``,d`` takes only a real int), NA as None."""
    if value is pd.NA or value is pd.NaT:
        return None
    return value.item() if hasattr(value, "item") else value


def _period(value: Any, grain: str) -> str:
    return "" if value is None or value is pd.NaT else period_label(value, grain)


def _dates(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    present = values.dropna()
    return bool(len(present)) and isinstance(present.iloc[0], date)


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
