"""Ibis's PySpark backend, reading results as Arrow.

Ibis 12 reads a PySpark result through pandas and converts it back to Arrow, which turns
integer columns with NULLs into floats on the way (exact only below 2**53) and costs a
copy; its batches are that whole result cut up, in the driver's memory. PySpark 4 hands
Arrow over directly (`DataFrame.toArrow`), and a large result streams from Parquet files
the executors write.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.dataset as ds
from ibis.backends.pyspark import Backend
from ibis.formats.pyarrow import PyArrowData

from warehouse_kit.core.spark.compiler import compiler


class ArrowBackend(Backend):
    compiler = compiler
    scratch: Path
    """Where streamed results are written (`SparkEngine`'s scratch folder)."""

    def to_pyarrow(
        self,
        expr: ir.Expr,
        /,
        *,
        params: Mapping[ir.Scalar, Any] | None = None,
        limit: int | str | None = None,
        **kwargs: Any,
    ) -> pa.Table:
        self._run_pre_execute_hooks(expr)
        table_expr = expr.as_table()
        sql = self.compile(table_expr, params=params, limit=limit)
        arrow = self._session.sql(sql).toArrow()
        table = PyArrowData.convert_table(arrow, table_expr.schema())
        return expr.__pyarrow_result__(table)

    def to_pyarrow_batches(
        self,
        expr: ir.Expr,
        /,
        *,
        params: Mapping[ir.Scalar, Any] | None = None,
        limit: int | str | None = None,
        chunk_size: int = 1_000_000,
        **kwargs: Any,
    ) -> pa.RecordBatchReader:
        """The result in batches, never whole in memory: the executors write it as Parquet
        (in order: one file per partition, numbered), and the batches are read from there."""
        self._run_pre_execute_hooks(expr)
        table_expr = expr.as_table()
        folder = self.scratch / f"result-{uuid.uuid4().hex[:12]}"
        self._session.sql(self.compile(table_expr, params=params, limit=limit)).write.parquet(
            str(folder)
        )
        schema = table_expr.schema()

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                files = sorted(str(p) for p in folder.glob("*.parquet"))
                for batch in ds.dataset(files, format="parquet").to_batches(batch_size=chunk_size):
                    yield from PyArrowData.convert_table(
                        pa.Table.from_batches([batch]), schema
                    ).to_batches()
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return pa.RecordBatchReader.from_batches(schema.to_pyarrow(), batches())
