"""Personal data on the way out of the warehouse.

A column holds personal data when its pipeline says so (``pii: email``) or when it is
computed from such a column and not declared safe (``pii: false``): the stored column
lineage says which (`core.lineage_graph`). What leaves the warehouse for people (exports,
`wk show`, reports) shows those columns masked unless the reader asks otherwise, and
every unmasked read is recorded in ``_wk.unmasked`` first.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir

from warehouse_kit.core import state
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.lineage import expression_lineage
from warehouse_kit.core.lineage_graph import of_rows, pii_columns

MASK = "***"


def personal_columns(warehouse: Warehouse, schema: str, name: str) -> dict[str, str]:
    """The columns of `schema.name` that hold personal data, with their kind, as the table
    was last built."""
    graph = of_rows(state.lineage_rows(warehouse))
    return {ref.column: kind for ref, kind in pii_columns(graph, f"{schema}.{name}").items()}


def personal_results(warehouse: Warehouse, expr: ir.Table) -> dict[str, str]:
    """The columns of a query's result that show personal data: text computed from a
    personal column (a group of ``--by email``). A number computed from one (a count of
    emails) says nothing about a person and is left as it is."""
    pii = pii_columns(of_rows(state.lineage_rows(warehouse)))
    if not pii:
        return {}
    found = {}
    for column, inputs in expression_lineage(expr, {}).items():
        kinds = [pii[ref] for ref in inputs if ref in pii]
        if kinds and expr[column].type().is_string():
            found[column] = kinds[0]
    return found


def masked(table: ir.Table, personal: Mapping[str, str]) -> ir.Table:
    """`table` with each personal column masked in the engine: an email keeps its domain
    (``***@example.com``: which organisation, not who), other text is ``***``, any other
    type NULL; NULL stays NULL."""
    replaced = {c: _mask(table[c], kind) for c, kind in personal.items() if c in table.columns}
    return table.mutate(**replaced) if replaced else table


def readable(
    warehouse: Warehouse, schema: str, name: str, *, unmask: bool = False, command: str = ""
) -> tuple[ir.Table, dict[str, str]]:
    """`schema.name` for people to read, and its personal columns: masked, or (`unmask`)
    as it is, once the read is recorded in ``_wk.unmasked`` (`warehouse` must be open for
    writing then)."""
    table = warehouse.table(name, schema)
    personal = personal_columns(warehouse, schema, name)
    if personal and unmask:
        record_unmasked(warehouse, f"{schema}.{name}", sorted(personal), command)
    return (table if unmask else masked(table, personal)), personal


def record_unmasked(warehouse: Warehouse, table: str, columns: list[str], command: str) -> None:
    row = {"user_name": _user(), "command": command, "table_name": table}
    state.record_unmasked(warehouse, {**row, "columns": ",".join(columns)})


def _mask(value: ir.Value, kind: str) -> ir.Value:
    if not isinstance(value, ir.StringValue):
        return ibis.null(value.type())
    if kind == "email":
        return value.re_replace(r"^[^@]*", MASK)
    return ibis.ifelse(value.isnull(), ibis.null("string"), ibis.literal(MASK))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "unknown"
