"""Counts of a table's rows, and of each column's NULLs and distinct values, in one query.

The warehouse computes them all in a single aggregate over the table (one scan), and
only those few numbers come back: a column at a time would scan a wide table once per
column.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse


@dataclass(frozen=True)
class Profile:
    rows: int
    nulls: dict[str, int]
    distinct: dict[str, int]
    """Only the columns whose type can be counted distinct (not arrays, maps, structs)."""


def profile(warehouse: Warehouse, table: ir.Table) -> Profile:
    """The row count, and each column's NULL and distinct counts, of `table`.

    Columns are aliased by position (``n0``, ``d0``...), so no column name, whatever it
    holds, is written into the query as anything but a quoted identifier.
    """
    measures: dict[str, ir.Scalar] = {"rows": table.count()}
    schema = table.schema()
    for index, name in enumerate(schema.names):
        column = table[name]
        measures[f"n{index}"] = table.count() - column.count()
        if _countable(schema[name]):
            measures[f"d{index}"] = column.nunique()
    (values,) = warehouse.rows(table.aggregate(**measures))
    nulls = {name: int(values[f"n{i}"]) for i, name in enumerate(schema.names)}
    distinct = {
        name: int(values[f"d{i}"]) for i, name in enumerate(schema.names) if f"d{i}" in values
    }
    return Profile(int(values["rows"]), nulls, distinct)


def _countable(dtype: dt.DataType) -> bool:
    return not (dtype.is_nested() or dtype.is_json() or dtype.is_binary())
