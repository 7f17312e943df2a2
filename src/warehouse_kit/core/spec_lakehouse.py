"""The pipeline format's lakehouse output: ``destination.lakehouse``.

Gold tables published as Hive-partitioned Parquet, one folder per table and a new
version folder per publish (`warehouse_kit.core.lakehouse` says what each option does)::

    destination:
      lakehouse:
        path: lake
        compression: zstd
        target_file_size: 128MB
        keep_versions: 5
        tables:
          fact_orders:
            partition_by: [{order_month: "floor(date_key / 100)"}]
          dim_customer: {}

Part of the pipeline format (`spec`), which re-exports every name here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema, field_validator

from warehouse_kit.core.config import (
    MAX_NAME_LENGTH,
    NAME_PATTERN,
    Column,
    Expression,
    Name,
    Spec,
    one_or_many,
)

# --- sizes -----------------------------------------------------------------------------

_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_SIZE_PATTERN = r"^\s*\d+(\.\d+)?\s*([KkMmGgTt][Ii]?)?[Bb]?\s*$"
MIN_FILE_SIZE = 10**3


def parse_size(value: Any) -> int:
    """``128MB``, ``1GB``, ``512KiB`` or a number of bytes, as bytes. As in DuckDB's
    settings, KB, MB and GB are powers of 1000, KiB, MiB and GiB powers of 1024."""
    if isinstance(value, int):
        return value
    found = _SIZE.match(str(value))
    unit = found.group(2).lower() if found else ""
    unit = unit if unit.endswith("b") or not unit else f"{unit}b"  # 128M is 128MB
    if found is None or unit not in _SIZE_UNITS | {"": 1}:
        raise ValueError(
            f"{value!r} is not a size: write a number and a unit, such as 128MB, 1GB or 512KiB"
        )
    return int(float(found.group(1)) * _SIZE_UNITS.get(unit, 1))


def _size(value: Any) -> Any:
    return parse_size(value) if isinstance(value, str) else value


Size = Annotated[
    int,
    BeforeValidator(_size),
    Field(ge=MIN_FILE_SIZE),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _SIZE_PATTERN},
                {"type": "integer", "minimum": MIN_FILE_SIZE},
            ],
            "description": "A size: 128MB, 1GB, 512KiB (a number: bytes).",
        }
    ),
]
"""A number of bytes, written as a size."""


# --- partitions and tables ---------------------------------------------------------------


def _one_entry(value: Any) -> Any:
    if isinstance(value, Mapping) and len(value) != 1:
        raise ValueError(
            "a derived partition is one name and its SQL expression, "
            'such as {order_month: "floor(date_key / 100)"}'
        )
    return value


Partition = Annotated[
    dict[Name, Expression] | Column,
    AfterValidator(_one_entry),
    WithJsonSchema(
        {
            "title": "partition",
            "description": "A column, or {name: SQL expression} computed by the engine "
            "(one folder level each: name=value).",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "propertyNames": {"pattern": NAME_PATTERN, "maxLength": MAX_NAME_LENGTH},
                    "additionalProperties": {"type": "string", "minLength": 1},
                },
            ],
        }
    ),
]


class LakeTableSpec(Spec):
    """How one table is laid out in the lake."""

    partition_by: Annotated[
        list[Partition],
        BeforeValidator(one_or_many, json_schema_input_type=Column | list[Partition]),
    ] = Field(default_factory=list)
    """Folder levels, outermost first: a column of the table (``channel``), or a new
    column computed from it by a SQL expression (``{order_month: "floor(date_key / 100)"}``,
    ``{order_year: "year(order_date)"}``). Each value is a folder ``name=value``; a
    column used here is read back from the folder names, not stored in the files."""

    @field_validator("partition_by")
    @classmethod
    def _distinct_visible_names(cls, partitions: list[Any]) -> list[Any]:
        names = [p if isinstance(p, str) else next(iter(p)) for p in partitions]
        for name in names:
            if name.startswith(("_", ".")):
                raise ValueError(
                    f"partition {name!r}: Spark and pandas skip folders whose names start "
                    "with '_' or '.'; name the partition otherwise"
                )
        if len(set(names)) != len(names):
            raise ValueError(f"partition names must be unique, got {names}")
        return partitions


def _tables_entry(value: Any) -> Any:
    """``[a, b]`` is ``{a: {}, b: {}}``, and ``a:`` with nothing after it is ``a: {}``."""
    if isinstance(value, list):
        return {name: {} for name in value}
    if isinstance(value, Mapping):
        return {name: {} if spec is None else spec for name, spec in value.items()}
    return value


def _some_table(tables: dict[str, LakeTableSpec]) -> dict[str, LakeTableSpec]:
    if not tables:
        raise ValueError("name at least one table to publish")
    return tables


class LakehouseSpec(Spec):
    """Gold tables published as Hive-partitioned Parquet after each run, each publish a
    new version folder that readers see whole or not at all."""

    path: str = "lake"
    """The lake's folder, relative to the project folder; a table is ``<path>/<table>``,
    its latest version ``<path>/<table>/current``."""
    compression: Literal["zstd", "snappy"] = "zstd"
    target_file_size: Size = 128 * 10**6
    """About how large each Parquet file grows before the next is started (smaller at the
    end of a partition)."""
    keep_versions: int = Field(default=5, ge=2)
    """Versions kept for reading an earlier one; older ones are deleted when a new one is
    published. At least 2, so a reader still in the previous version keeps its files."""
    tables: Annotated[
        dict[Name, LakeTableSpec],
        BeforeValidator(
            _tables_entry, json_schema_input_type=list[Name] | dict[Name, LakeTableSpec | None]
        ),
        AfterValidator(_some_table),
    ]
    """The tables to publish (models of the last stage), each with its layout; a list of
    names publishes them unpartitioned."""


__all__ = ["LakeTableSpec", "LakehouseSpec", "Partition", "Size", "parse_size"]
