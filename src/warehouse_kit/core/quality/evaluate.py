"""Running checks against a model's table: validate, evaluate, flag, quarantine.

- `validate` finds what would make a check fail to run (an unknown column, a
  type that does not fit, a relationships target that does not exist) before
  anything runs, and says so naming the check, the model and the columns.
- `evaluate` runs **one query** for every count and measure: a single
  aggregate over one scan of the table computes each row-level check's
  failing rows (``count(*) FILTER (WHERE <fails>)``) and each table-level
  measure (NULL counts, the newest timestamp, duplicate keys). A
  uniqueness check joins that scan to its repeated keys, found by one grouped
  read (cheaper than a window over the whole table). A schema check needs no
  query. Then, for each failing check that has something to
  show, one small ``LIMIT`` query fetches sample rows (none with
  ``sample_size=0``). Nothing pulls the table into Python.
- `flag` adds ``_wk_failed_checks`` (the names of every row-level check a
  row fails, empty when none) in one projection; `quarantine_split` splits a
  table on it. Both only build expressions: they run when the caller runs them.

Status of a result: ``pass``; ``warn`` when a warn check fails; ``fail`` when
a quarantine or reject check fails (its action diverts rows or stops the
model). `CheckResults.failed` holds the rejecting failures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.common.exceptions import IbisError

from warehouse_kit.core.errors import ConfigError, ExpressionError, first_line
from warehouse_kit.core.quality.checks import (
    HELPER_PREFIX,
    BaseCheck,
    RowCheck,
    TableCheck,
    column_hint,
)
from warehouse_kit.core.quality.context import CheckContext
from warehouse_kit.core.quality.report import CheckResult, CheckResults, Status

__all__ = [
    "FAILED_CHECKS",
    "CheckContext",
    "CheckResult",
    "CheckResults",
    "evaluate",
    "flag",
    "quarantine_split",
    "validate",
]

FAILED_CHECKS = "_wk_failed_checks"
"""The column `flag` adds: array<string> of the row-level checks a row fails."""

DIVERT = "_wk_quarantine"
_ROWS = "_wk_rows"
_BUILD_ERRORS = (IbisError, ExpressionError, TypeError, ValueError, AttributeError)


Tagged = Sequence[tuple[str, BaseCheck]]


def _tagged(checks: Sequence[BaseCheck]) -> list[tuple[str, BaseCheck]]:
    """Each check with the prefix of its helper columns and aggregates."""
    return [(f"{HELPER_PREFIX}{i}", check) for i, check in enumerate(checks)]


# --- validation -----------------------------------------------------------------------


def validate(checks: Sequence[BaseCheck], table: ir.Table, context: CheckContext) -> None:
    """Raise a `ConfigError` for any check that cannot run on `table`; runs no query."""
    repeated = [name for name, n in Counter(c.name for c in checks).items() if n > 1]
    if repeated:
        raise ConfigError(
            f"model {context.model}: two checks are named {repeated[0]!r}: "
            "give one of them another name"
        )
    for tag, check in _tagged(checks):
        _validate_one(check, tag, table, context)


def _validate_one(check: BaseCheck, tag: str, table: ir.Table, context: CheckContext) -> None:
    where = f"check {check.name!r} on model {context.model}"
    available = list(table.columns)
    for column in check.columns(context):
        if column not in available:
            hint = column_hint(column, available)
            raise ConfigError(f"{where}: unknown column {column!r}; {hint}")
    try:
        problem = check.problem(table, context)
        if problem is None:
            _build(check, tag, table, context)  # what only Ibis notices (int = string)
    except ConfigError as exc:  # from context.tables: an unknown relationships target
        raise ConfigError(f"{where}: {exc.message}", file=exc.file, key_path=exc.key_path) from None
    except _BUILD_ERRORS as exc:
        problem = first_line(exc)
    if problem:
        raise ConfigError(f"{where}: {problem}")


def _build(check: BaseCheck, tag: str, table: ir.Table, context: CheckContext) -> None:
    prepared = check.prepare(table, tag, context)
    if isinstance(check, RowCheck):
        check.fails(prepared, tag)
    elif isinstance(check, TableCheck):
        check.measures(prepared, tag, context)


# --- flags and quarantine -------------------------------------------------------------


def _prepare(table: ir.Table, tagged: Tagged, context: CheckContext) -> ir.Table:
    for tag, check in tagged:
        table = check.prepare(table, tag, context)
    return table


def _row_checks(checks: Sequence[BaseCheck]) -> list[tuple[str, RowCheck]]:
    return [(tag, check) for tag, check in _tagged(checks) if isinstance(check, RowCheck)]


def _verdicts(
    table: ir.Table, checks: Sequence[BaseCheck], context: CheckContext
) -> tuple[ir.Table, ir.Value, ir.BooleanValue]:
    """The prepared table, the array of failed checks' names, and whether to divert a row."""
    validate(checks, table, context)
    tagged = _row_checks(checks)
    prepared = _prepare(table, tagged, context)
    names, divert = [], ibis.literal(False)
    for tag, check in tagged:
        fails = check.fails(prepared, tag)
        names.append(ibis.ifelse(fails, ibis.literal(check.name), ibis.null(dt.string)))
        if check.action == "quarantine":
            divert |= fails
    # Never an empty ARRAY[]: PostgreSQL cannot type it.
    failed = ibis.array(names or [ibis.null(dt.string)]).filter(lambda name: name.notnull())
    return prepared, failed, divert


def flag(table: ir.Table, checks: Sequence[BaseCheck], context: CheckContext) -> ir.Table:
    """`table` plus ``_wk_failed_checks``: the row-level checks each row fails (any action).

    One projection computes every check's verdict; table-level checks are ignored.
    """
    prepared, failed, _ = _verdicts(table, checks, context)
    return prepared.select(*table.columns, **{FAILED_CHECKS: failed})


def quarantine_split(
    table: ir.Table, checks: Sequence[BaseCheck], context: CheckContext
) -> tuple[ir.Table, ir.Table]:
    """(good rows, bad rows): bad rows fail at least one quarantine check.

    Bad rows carry ``_wk_failed_checks`` (every row-level check they fail,
    warn and reject ones too); good rows have the table's columns only. A row
    failing only warn or reject checks stays good (a failing reject check
    fails the whole model instead). Each row lands on exactly one side. The
    caller adds ``_wk_run_id`` when it writes the bad rows to quarantine.
    """
    return split(mark(table, checks, context))


def mark(table: ir.Table, checks: Sequence[BaseCheck], context: CheckContext) -> ir.Table:
    """`table` plus ``_wk_failed_checks`` and ``_wk_quarantine`` (a quarantine check failed),
    in one projection: what a runner stages once, then splits with `split`."""
    prepared, failed, divert = _verdicts(table, checks, context)
    return prepared.select(*table.columns, **{FAILED_CHECKS: failed, DIVERT: divert})


def split(marked: ir.Table) -> tuple[ir.Table, ir.Table]:
    """(good rows, bad rows) of a `mark`ed table; bad rows keep ``_wk_failed_checks``."""
    columns = [c for c in marked.columns if c not in (FAILED_CHECKS, DIVERT)]
    good = marked.filter(~marked[DIVERT]).select(*columns)
    bad = marked.filter(marked[DIVERT]).select(*columns, FAILED_CHECKS)
    return good, bad


# --- evaluation -----------------------------------------------------------------------


def evaluate(
    table: ir.Table, checks: Sequence[BaseCheck], context: CheckContext, *, sample_size: int = 5
) -> CheckResults:
    """Run `checks` on `table`: one aggregate query, plus a sample query per failing check."""
    validate(checks, table, context)
    if not checks:
        return CheckResults([])
    tagged = _tagged(checks)
    prepared = _prepare(table, tagged, context)
    aggregates: dict[str, ir.Scalar] = {_ROWS: prepared.count()}
    measured: dict[str, list[str]] = {}
    for tag, check in tagged:
        if isinstance(check, RowCheck):
            aggregates[tag] = prepared.count(where=check.fails(prepared, tag))
        elif isinstance(check, TableCheck):
            measures = check.measures(prepared, tag, context)
            measured[tag] = list(measures)
            aggregates.update(measures)
    (values,) = context.warehouse.rows(prepared.aggregate(**aggregates))
    total = int(values[_ROWS])
    results = []
    for tag, check in tagged:
        own = {name: values[name] for name in measured.get(tag, [])}
        result = _result(check, tag, own, values.get(tag), total, table, context)
        if result.status != "pass" and sample_size > 0:
            result = _with_sample(result, check, tag, table, context, sample_size)
        results.append(result)
    return CheckResults(results)


def _result(
    check: BaseCheck,
    tag: str,
    measures: Mapping[str, Any],
    failing: Any,
    total: int,
    table: ir.Table,
    context: CheckContext,
) -> CheckResult:
    if isinstance(check, TableCheck):
        outcome = check.judge(measures, total, table, context)
        passed, failing_rows, message = outcome.passed, outcome.failing_rows, outcome.message
        measured = outcome.measured
    else:
        failing_rows = int(failing or 0)
        passed, measured = failing_rows == 0, None
        verdict = f"{failing_rows} of {total} rows fail" if failing_rows else f"all {total} pass"
        message = f"{verdict}: {check.describe()}"
    return CheckResult(
        model=context.model,
        check=check.name,
        type=check.type,
        action=check.action,
        status=_status(passed, check.action),
        failing_rows=failing_rows,
        total_rows=total,
        measured=measured,
        message=message,
    )


def _status(passed: bool, action: str) -> Status:
    if passed:
        return "pass"
    return "warn" if action == "warn" else "fail"


# --- samples --------------------------------------------------------------------------


def _with_sample(
    result: CheckResult,
    check: BaseCheck,
    tag: str,
    table: ir.Table,
    context: CheckContext,
    size: int,
) -> CheckResult:
    query = _sample_query(check, tag, table, context, size)
    if query is None:
        return result
    sample = [{k: plain(v) for k, v in row.items()} for row in context.warehouse.rows(query)]
    return replace(result, sample=sample)


def _sample_query(
    check: BaseCheck, tag: str, table: ir.Table, context: CheckContext, size: int
) -> ir.Table | None:
    if isinstance(check, TableCheck):
        return check.sample(table, context, size)
    if not isinstance(check, RowCheck):
        return None
    prepared = check.prepare(table, tag, context)  # only this check's helpers
    key = [c for c in context.key if c in table.columns]
    columns = _sample_columns(check, table, context, key)
    failing = prepared.filter(check.fails(prepared, tag)).select(*columns)
    return (failing.order_by(key) if key else failing).limit(size)


def _sample_columns(
    check: BaseCheck, table: ir.Table, context: CheckContext, key: list[str]
) -> list[str]:
    """The key and the columns the check reads when the model has a key; else all."""
    if not key:
        return list(table.columns)
    wanted = {*key, *check.columns(context)}
    return [c for c in table.columns if c in wanted]


def plain(value: Any) -> Any:
    """A JSON-safe value: decimals, dates and times become strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)
