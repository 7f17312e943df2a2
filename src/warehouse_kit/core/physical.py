"""Physical design: the indexes, partitioning and clustering a model's table declares.

A model declares them in its pipeline file or in `@model`:

- ``indexes``: a list; each a column, a list of columns, or
  ``{columns: [...], unique: true}``. Left out, the model gets the defaults of its kind
  (`materialize.indexes.design`); ``indexes: []`` declares none.
- ``partition_by`` and ``cluster_by``: columns, for the engines that lay out files or
  micro-partitions by them (Spark, BigQuery, Snowflake).

Every column is checked against the model's columns when it is planned. What each
engine does with them: PostgreSQL creates the indexes when it publishes the model
(`materialize.indexes`); `wk ddl` writes each dialect's clauses; DuckDB only checks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from warehouse_kit.core.config import Column, Columns, Spec, parse


class Index(Spec):
    """An index of a model's table (`indexes:`): its columns, in order."""

    columns: Annotated[Columns, Field(min_length=1)]
    unique: bool = False
    """Declare only what the rows guarantee: a write that breaks it fails."""


def _short_form(value: Any) -> Any:
    """``customer_id`` and ``[customer_id, effective_from]`` are ``{columns: ...}``."""
    return {"columns": value} if isinstance(value, str | list) else value


Indexes = list[
    Annotated[
        Index, BeforeValidator(_short_form, json_schema_input_type=Column | list[Column] | Index)
    ]
]
"""The ``indexes:`` of a model: each a column, a list of columns or an `Index`."""


class PhysicalOptions(Spec):
    """The physical design keys of a model, as `@model` takes them."""

    indexes: Indexes | None = None
    partition_by: Columns = Field(default_factory=list)
    cluster_by: Columns = Field(default_factory=list)


@dataclass(frozen=True)
class Physical:
    """A model's declared physical design."""

    indexes: tuple[Index, ...] | None = None
    """None: the defaults of the model's kind; empty: no index."""
    partition_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()

    @classmethod
    def of(cls, options: PhysicalOptions | Any) -> Physical:
        """From a `PhysicalOptions` or a model spec with the same keys."""
        indexes = options.indexes
        return cls(
            None if indexes is None else tuple(indexes),
            tuple(options.partition_by),
            tuple(options.cluster_by),
        )

    @classmethod
    def parse(
        cls,
        indexes: Sequence[str | Sequence[str] | Mapping[str, Any] | Index] | None,
        partition_by: str | Sequence[str],
        cluster_by: str | Sequence[str],
        *,
        origin: str,
    ) -> Physical:
        """From `@model`'s arguments, validated as a pipeline file's keys are."""
        data: dict[str, Any] = {
            "partition_by": _listed(partition_by),
            "cluster_by": _listed(cluster_by),
        }
        if indexes is not None:
            data["indexes"] = [
                index if isinstance(index, Index | str | Mapping) else list(index)
                for index in indexes
            ]
        return cls.of(parse(PhysicalOptions, data, file=origin))


def _listed(value: str | Sequence[str]) -> str | list[str]:
    return value if isinstance(value, str) else list(value)
