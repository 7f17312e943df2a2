"""Arrow batches written as Hive-partitioned Parquet files: one folder level per partition
(``name=value``, NULL as ``__HIVE_DEFAULT_PARTITION__``), files of about a target size.

The files are what DuckDB, Spark and pandas read alike: Parquet with timestamps in
microseconds (Spark reads no nanoseconds), partition folders escaped as Hive escapes them
(``channel=web%20shop``), and at least one file, even for no rows, so that readers know
the columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from warehouse_kit.core.errors import WarehouseKitError, first_line

BATCH_ROWS = 256 * 1024
"""Rows per Arrow batch to read from the warehouse: what the writer holds in memory."""
SAMPLE_ROWS = 16 * 1024
"""Rows of the first batch encoded to learn how large a row is on disk."""
MAX_PARTITIONS = 10_000
"""Partitions one batch may fall into; more is a partition finer than anyone reads by."""
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""The folder value of NULL, as Hive, Spark, DuckDB and pyarrow all spell it."""


def write(
    reader: pa.RecordBatchReader,
    folder: Path,
    partitions: list[str],
    *,
    compression: str,
    target_file_size: int,
    progress: Callable[[int], None],
) -> list[dict[str, Any]]:
    """Stream `reader` into Parquet files under `folder`, partitioned by the columns
    `partitions` (in that order; best with each partition's rows together); each file's
    path (relative to `folder`), rows and bytes. `progress` gets the rows read so far."""
    options = {
        "compression": compression,
        # Spark reads timestamps in micro- or milliseconds only.
        "coerce_timestamps": "us",
        "allow_truncated_timestamps": True,
    }
    batches = _counted(reader, progress)
    first = next(batches, None)
    data_columns = [name for name in reader.schema.names if name not in partitions]
    sample = first.select(data_columns) if first else None
    per_file = _rows_per_file(sample, options, target_file_size)
    files: list[dict[str, Any]] = []

    def visit(written: Any) -> None:
        path = Path(written.path).relative_to(folder).as_posix()
        files.append({"path": path, "rows": written.metadata.num_rows, "bytes": written.size})

    stream = pa.RecordBatchReader.from_batches(
        reader.schema, chain([first] if first else [], batches)
    )
    try:
        ds.write_dataset(
            stream,
            folder,
            format="parquet",
            partitioning=_hive(reader.schema, partitions),
            file_options=ds.ParquetFileFormat().make_write_options(**options),
            basename_template="part-{i}.parquet",
            max_rows_per_file=per_file,
            max_rows_per_group=min(per_file, BATCH_ROWS),
            max_partitions=MAX_PARTITIONS,
            existing_data_behavior="overwrite_or_ignore",  # the folder is new
            file_visitor=visit,
        )
    except pa.ArrowInvalid as exc:
        if "partitions" not in str(exc):
            raise
        raise WarehouseKitError(
            f"{first_line(exc)}: partition_by makes more folders than anyone reads by; "
            "partition by something coarser"
        ) from None
    if not files:  # readers need one file to know the columns, even with no rows
        files.append(_empty_file(folder, reader.schema, partitions, options))
    return files


def _counted(reader: pa.RecordBatchReader, progress: Callable[[int], None]) -> Iterator[Any]:
    rows = 0
    for batch in reader:
        rows += batch.num_rows
        progress(rows)
        yield batch


def _rows_per_file(sample: pa.RecordBatch | None, options: dict[str, Any], size: int) -> int:
    """How many rows make a file of about `target_file_size`: the first rows, encoded as
    the files will be, say how large a row is on disk."""
    if sample is None or sample.num_rows == 0:
        return BATCH_ROWS
    sample = sample.slice(0, SAMPLE_ROWS)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_batches([sample]), sink, **options)
    row_bytes = sink.getvalue().size / sample.num_rows
    return max(1, int(size / row_bytes))


def _hive(schema: pa.Schema, partitions: list[str]) -> ds.Partitioning | None:
    if not partitions:
        return None
    fields = pa.schema([schema.field(name) for name in partitions])
    return ds.HivePartitioning(fields, null_fallback=NULL_PARTITION)


def _empty_file(
    folder: Path, schema: pa.Schema, partitions: list[str], options: dict[str, Any]
) -> dict[str, Any]:
    inner = folder.joinpath(*(f"{name}={NULL_PARTITION}" for name in partitions))
    inner.mkdir(parents=True, exist_ok=True)
    path = inner / "part-0.parquet"
    pq.write_table(schema.empty_table().drop_columns(partitions), path, **options)
    return {"path": path.relative_to(folder).as_posix(), "rows": 0, "bytes": path.stat().st_size}
