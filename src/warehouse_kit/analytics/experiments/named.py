"""The tables and columns an experiment's file names, each found or refused with one line
naming the file and key (`sufficient` reads them)."""

from __future__ import annotations

import ibis.expr.types as ir

from warehouse_kit.analytics.experiments.spec import Experiment
from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError, column_hint


def events_path(experiment: Experiment, index: int) -> str:
    if experiment.metrics[index].events is not None:
        return f"experiment.metrics[{index}].events"
    return "experiment.events"


def table_named(warehouse: Warehouse, name: str, experiment: Experiment, key_path: str) -> ir.Table:
    schema, table = name.split(".")
    if not warehouse.exists(table, schema):
        raise ConfigError(
            f"no table {name} in {warehouse!r}; build it first (wk run)",
            file=experiment.file,
            key_path=key_path,
        )
    return warehouse.table(table, schema)


def column_named(table: ir.Table, name: str, experiment: Experiment, key_path: str) -> ir.Value:
    if name not in table.columns:
        raise ConfigError(
            f"unknown column {name!r}; {column_hint(name, table.columns)}",
            file=experiment.file,
            key_path=key_path,
        )
    return table[name]


def timestamp_named(table: ir.Table, name: str, experiment: Experiment, key_path: str) -> ir.Value:
    column = column_named(table, name, experiment, key_path)
    if column.type().is_date():
        return column.cast("timestamp")
    if not column.type().is_timestamp():
        raise ConfigError(
            f"column {name!r} is {column.type()}, not a timestamp or date "
            "(cast it with type_casting in the pipeline)",
            file=experiment.file,
            key_path=key_path,
        )
    return column


def require_same_type(
    exposed: ir.Value, events: ir.Value, experiment: Experiment, path: str
) -> None:
    left, right = exposed.type(), events.type()
    comparable = (left.is_integer() and right.is_integer()) or left == right
    if not comparable:
        raise ConfigError(
            f"the events' unit is {right} but the exposures' unit is {left}: "
            "they must be the same type to be joined",
            file=experiment.file,
            key_path=path,
        )
