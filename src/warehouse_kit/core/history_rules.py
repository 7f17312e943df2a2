"""`wk check` on a type-2 dimension: its whole history against the rules every publish keeps
(`materialize.rules`), as one check result."""

from __future__ import annotations

import json

import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.materialize import history, rules
from warehouse_kit.core.models import Dimension, Model
from warehouse_kit.core.operations import DimensionOptions
from warehouse_kit.core.quality.report import CheckResult


def of(model: Model) -> DimensionOptions | None:
    """A type-2 dimension's options, or None for any other model."""
    materialization = model.materialization
    if isinstance(materialization, Dimension) and materialization.options.scd == 2:
        return materialization.options
    return None


def check(warehouse: Warehouse, model: Model, table: ir.Table) -> list[CheckResult]:
    """A type-2 dimension's versions against the rules; nothing for another model."""
    options = of(model)
    if options is None or model.keys is None:
        return []
    layout = history.Layout.of(options, model.keys, table)
    verdict = rules.judge(warehouse.rows, layout, table, model.id)
    return [
        CheckResult(
            model=model.id,
            check=rules.CHECK,
            type="history",
            action="reject",
            status="pass" if verdict.ok else "fail",
            failing_rows=verdict.failing,
            total_rows=verdict.checked,
            measured=float(verdict.failing),
            message=verdict.message,
            sample=json.loads(json.dumps(verdict.sample, default=str)),
        )
    ]
