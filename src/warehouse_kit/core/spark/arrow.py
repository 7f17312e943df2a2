"""Ibis's PySpark backend, reading results as Arrow.

Ibis 12 reads a PySpark result through pandas and converts it back to Arrow, which turns
integer columns with NULLs into floats on the way (exact only below 2**53) and costs a
copy. PySpark 4 hands Arrow over directly (`DataFrame.toArrow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.pyspark import Backend
from ibis.formats.pyarrow import PyArrowData


class ArrowBackend(Backend):
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
