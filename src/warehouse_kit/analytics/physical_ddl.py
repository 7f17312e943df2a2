"""What a DDL script says of each gold table's physical design (`core.physical`), per dialect.

=========  ================================================================================
dialect    what it gets
=========  ================================================================================
duckdb     nothing: its zone maps skip row groups, and ART indexes slow bulk writes
postgres   CREATE INDEX after the table, for each index the primary key does not cover
snowflake  CLUSTER BY (partition_by, then cluster_by): micro-partitions follow the
           clustering key; Snowflake has no partitions of its own to declare
bigquery   PARTITION BY one DATE or TIMESTAMP column (DATE(column) for a timestamp),
           CLUSTER BY up to four columns
spark      USING parquet, PARTITIONED BY (partition_by): one folder per value
=========  ================================================================================

Clustering and partitioning are written only where declared: no default fits every
volume, and Snowflake bills the reclustering a clustering key sets off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ibis.expr.datatypes as dt
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.materialize.indexes import create_index
from warehouse_kit.core.planner import Planned


@dataclass(frozen=True)
class Layout:
    """How a dialect states a table's physical design."""

    indexes: bool = False
    """CREATE INDEX statements after the table."""
    partitions: Literal["none", "folders", "date", "clustering"] = "none"
    """What ``partition_by`` becomes: PARTITIONED BY columns (a folder per value), PARTITION
    BY one date, the first columns of the clustering key, or nothing."""
    clusters: bool = False
    """CLUSTER BY, of ``cluster_by`` (and ``partition_by`` where it is ``clustering``)."""
    max_cluster_columns: int | None = None
    """BigQuery's limit: four."""
    file_format: str | None = None
    """The USING clause (Spark's data source)."""


def table_properties(item: Planned, layout: Layout, dialect: str) -> list[sge.Expression]:
    """The CREATE TABLE properties the model's design gives in `dialect`."""
    physical = item.model.physical
    found: list[sge.Expression] = []
    if layout.file_format:
        found.append(sge.FileFormatProperty(this=sge.var(layout.file_format)))
    clustering = list(physical.cluster_by)
    if layout.partitions == "folders" and physical.partition_by:
        names = [_name(column) for column in physical.partition_by]
        found.append(sge.PartitionedByProperty(this=sge.Schema(expressions=names)))
    elif layout.partitions == "date" and physical.partition_by:
        found.append(sge.PartitionedByProperty(this=_date_partition(item, dialect)))
    elif layout.partitions == "clustering":
        clustering = list(dict.fromkeys([*physical.partition_by, *clustering]))
    if layout.clusters and clustering:
        most = layout.max_cluster_columns
        if most is not None and len(clustering) > most:
            limit = f"{dialect} clusters by {most} columns at most, not {len(clustering)}"
            raise _error(item, "cluster_by", limit)
        found.append(sge.Cluster(expressions=[_column(column) for column in clustering]))
    return found


def index_statements(item: Planned, layout: Layout, primary_key: str | None) -> list[sge.Create]:
    """CREATE INDEX for each of the model's indexes, where the dialect has them; an index on
    the primary key alone is left out (the key has one)."""
    if not layout.indexes:
        return []
    return [
        create_index(item.model.name, item.schema, index)
        for index in item.indexes
        if list(index.columns) != [primary_key]
    ]


def _date_partition(item: Planned, dialect: str) -> sge.Expression:
    """One DATE column as it is, a TIMESTAMP one by its day: what BigQuery partitions by
    without a range of its own."""
    columns = item.model.physical.partition_by
    reason = f"{dialect} partitions by one DATE or TIMESTAMP column"
    if len(columns) != 1:
        raise _error(item, "partition_by", f"{reason}, not {len(columns)}")
    (column,) = columns
    dtype = item.output[column]
    if isinstance(dtype, dt.Date):
        return _column(column)
    if isinstance(dtype, dt.Timestamp):
        return sge.Date(this=_column(column))
    raise _error(item, "partition_by", f"{reason}, and {column} is {dtype}")


def _error(item: Planned, key: str, message: str) -> ConfigError:
    return ConfigError(f"model {item.model.id}: {key}: {message}", file=item.model.origin)


def _name(name: str) -> sge.Identifier:
    return sg.to_identifier(name, quoted=True)


def _column(name: str) -> sge.Column:
    return sge.column(_name(name))
