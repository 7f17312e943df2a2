"""Data-quality checks: declared in YAML or Python, compiled to Ibis, run in the engine.

::

    from warehouse_kit import quality

    checks = quality.parse_checks(raw, file="pipelines/p.yml", key_path="pipeline.quality_checks")
    context = quality.CheckContext(model="silver.customers", warehouse=wh, tables=resolve)
    quality.validate(checks, table, context)           # before anything runs
    results = quality.evaluate(table, checks, context)  # one aggregate query (+ samples)
    good, bad = quality.quarantine_split(table, checks, context)
    print(results.to_junit())

`checks` says what each check means (NULL handling, actions), `evaluate` how
they run, `report` how results are shown.
"""

from __future__ import annotations

from warehouse_kit.core.quality.checks import (
    CHECK_TYPES,
    AcceptedValues,
    BaseCheck,
    Check,
    Expression,
    Freshness,
    NotNull,
    NullPercentage,
    Range,
    Regex,
    Relationships,
    RowCheck,
    RowCount,
    Schema,
    TableCheck,
    Unique,
    UniqueKeys,
    parse_checks,
)
from warehouse_kit.core.quality.evaluate import (
    DIVERT,
    FAILED_CHECKS,
    CheckContext,
    evaluate,
    flag,
    mark,
    quarantine_split,
    split,
    validate,
)
from warehouse_kit.core.quality.report import CheckResult, CheckResults, Status

__all__ = [
    "CHECK_TYPES",
    "DIVERT",
    "FAILED_CHECKS",
    "AcceptedValues",
    "BaseCheck",
    "Check",
    "CheckContext",
    "CheckResult",
    "CheckResults",
    "Expression",
    "Freshness",
    "NotNull",
    "NullPercentage",
    "Range",
    "Regex",
    "Relationships",
    "RowCheck",
    "RowCount",
    "Schema",
    "Status",
    "TableCheck",
    "Unique",
    "UniqueKeys",
    "evaluate",
    "flag",
    "mark",
    "parse_checks",
    "quarantine_split",
    "split",
    "validate",
]
