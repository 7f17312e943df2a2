"""Table-level checks: each measures the whole table (see `checks`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from warehouse_kit.core.config import Duration

if TYPE_CHECKING:
    from warehouse_kit.core.quality.context import CheckContext

from warehouse_kit.core.quality.base import (
    HELPER_PREFIX,
    Column,
    Columns,
    Outcome,
    TableCheck,
    _all_present,
    _utc,
    mark_duplicated,
    type_matches,
)

# --- table-level checks ---------------------------------------------------------------


class RowCount(TableCheck):
    """The table has between `min` and `max` rows, and at least `threshold` times
    the rows of the previous successful run (0.95: at least 95%).

    Without a previous run the threshold passes (there is nothing to compare).
    """

    type: Literal["row_count"] = "row_count"
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)
    threshold: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _a_bound(self) -> RowCount:
        if self.min is None and self.max is None and self.threshold is None:
            raise ValueError(f"check {self.name!r}: row_count needs min, max or threshold")
        return self

    def judge(
        self, values: Mapping[str, Any], total: int, table: ir.Table, context: CheckContext
    ) -> Outcome:
        problems = []
        if self.min is not None and total < self.min:
            problems.append(f"{total} rows, fewer than the minimum {self.min}")
        if self.max is not None and total > self.max:
            problems.append(f"{total} rows, more than the maximum {self.max}")
        previous = context.previous_rows
        if self.threshold is not None and previous and total < self.threshold * previous:
            problems.append(
                f"{total} rows is {total / previous:.1%} of the previous run's {previous} "
                f"(at least {self.threshold:.0%} expected)"
            )
        return Outcome(not problems, "; ".join(problems) or f"{total} rows", float(total))

    def describe(self) -> str:
        parts = [f"rows >= {self.min}" if self.min is not None else ""]
        parts.append(f"rows <= {self.max}" if self.max is not None else "")
        if self.threshold is not None:
            parts.append(f"rows >= {self.threshold:.0%} of the previous run")
        return ", ".join(p for p in parts if p)


class NullPercentage(TableCheck):
    """At most `max_allowed` (a share: 0.05 is 5%) of each column's values are NULL.

    Checks `fields`, or every column when none are given. An empty table passes.
    `measured` is the worst column's share; `failing_rows` its NULL count.
    """

    type: Literal["null_percentage"] = "null_percentage"
    fields: Columns | None = None
    max_allowed: float = Field(ge=0, le=1)
    spellings: ClassVar[Mapping[str, str]] = {
        "field": "fields",
        "column": "fields",
        "columns": "fields",
    }

    def columns(self, context: CheckContext) -> list[str]:
        return list(self.fields or [])

    def _targets(self, table: ir.Table) -> list[str]:
        own = [c for c in table.columns if not c.startswith(HELPER_PREFIX)]
        return list(self.fields or own)

    def measures(self, table: ir.Table, tag: str, context: CheckContext) -> dict[str, ir.Scalar]:
        return {
            f"{tag}_{i}": table.count(where=table[column].isnull())
            for i, column in enumerate(self._targets(table))
        }

    def judge(
        self, values: Mapping[str, Any], total: int, table: ir.Table, context: CheckContext
    ) -> Outcome:
        nulls = dict(zip(self._targets(table), values.values(), strict=True))
        shares = {column: (n / total if total else 0.0) for column, n in nulls.items()}
        worst = max(shares, key=lambda c: shares[c], default=None)
        over = [f"{c} {s:.1%}" for c, s in shares.items() if s > self.max_allowed]
        message = f"NULL share above {self.max_allowed:.1%}: {', '.join(over)}" if over else ""
        if worst is None:
            return Outcome(True, "no columns")
        measured = shares[worst]
        message = message or f"at most {measured:.1%} NULL ({worst})"
        return Outcome(not over, message, measured, int(nulls[worst]))

    def describe(self) -> str:
        where = ", ".join(self.fields) if self.fields else "every column"
        return f"NULL share of {where} <= {self.max_allowed:.1%}"


class UniqueKeys(TableCheck):
    """No two rows share a key: `fields`, or the model's key (from the context).

    ``enforce: true`` means action reject (``enforce: false``, warn).
    `failing_rows` counts every row of a duplicated key; a key with a NULL
    part is never a duplicate, as with SQL UNIQUE.
    """

    type: Literal["unique_keys"] = "unique_keys"
    fields: Columns | None = None
    enforce: bool = False
    spellings: ClassVar[Mapping[str, str]] = {
        "field": "fields",
        "column": "fields",
        "columns": "fields",
        "key": "fields",
    }

    @model_validator(mode="before")
    @classmethod
    def _enforce(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "enforce" not in data:
            return data
        action = "reject" if data["enforce"] is True else "warn"
        if data.get("action", action) != action:
            raise ValueError(f"enforce: {data['enforce']} contradicts action: {data['action']}")
        return {**data, "action": action}

    def key(self, context: CheckContext) -> list[str]:
        return list(self.fields or context.key)

    def columns(self, context: CheckContext) -> list[str]:
        return self.key(context)

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        if not self.key(context):
            return "unique_keys needs fields: the model declares no key"
        return None

    def prepare(self, table: ir.Table, tag: str, context: CheckContext) -> ir.Table:
        return mark_duplicated(table, self.key(context), tag)

    def measures(self, table: ir.Table, tag: str, context: CheckContext) -> dict[str, ir.Scalar]:
        return {tag: table.count(where=table[tag])}

    def judge(
        self, values: Mapping[str, Any], total: int, table: ir.Table, context: CheckContext
    ) -> Outcome:
        (duplicates,) = values.values()
        key = ", ".join(self.key(context))
        message = f"{duplicates} rows share their ({key}) with another row"
        return Outcome(duplicates == 0, message, float(duplicates), int(duplicates))

    def sample(self, table: ir.Table, context: CheckContext, size: int) -> ir.Table | None:
        key = self.key(context)
        counts = (
            table.filter(_all_present(table, key))
            .group_by(key)
            .aggregate(rows_with_key=ibis._.count())
        )
        return counts.filter(counts.rows_with_key > 1).order_by(key).limit(size)

    def describe(self) -> str:
        return f"({', '.join(self.fields)}) is unique" if self.fields else "the key is unique"


class Freshness(TableCheck):
    """The newest `field` (a timestamp or date) is at most `max_age` old.

    `max_age` is a duration: ``24h``, ``2 days``, ``1d 12h``, ``30 minutes``.
    A timestamp without a time zone is read as UTC; ``now`` comes from the
    context (default: the current UTC time). No value at all fails.
    """

    type: Literal["freshness"] = "freshness"
    field: Column
    max_age: Duration
    spellings: ClassVar[Mapping[str, str]] = {"column": "field"}

    def columns(self, context: CheckContext) -> list[str]:
        return [self.field]

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        dtype = table[self.field].type()
        if not (dtype.is_timestamp() or dtype.is_date()):
            return f"freshness needs a timestamp or date column, but {self.field!r} is {dtype}"
        return None

    def measures(self, table: ir.Table, tag: str, context: CheckContext) -> dict[str, ir.Scalar]:
        return {tag: table[self.field].max()}

    def judge(
        self, values: Mapping[str, Any], total: int, table: ir.Table, context: CheckContext
    ) -> Outcome:
        (newest,) = values.values()
        if newest is None:
            return Outcome(False, f"no {self.field} value at all")
        age = _utc(context.now or datetime.now(UTC)) - _utc(newest)
        passed = age <= self.max_age
        limit = "within" if passed else "more than"
        message = f"newest {self.field} {newest} is {age} old, {limit} {self.max_age} allowed"
        return Outcome(passed, message, age.total_seconds())

    def describe(self) -> str:
        return f"newest {self.field} at most {self.max_age} old"


class Schema(TableCheck):
    """The table has `columns` with these Ibis types (``int64``, ``decimal(10,2)``...).

    A type without parameters matches any of its kind (``decimal`` matches
    ``decimal(10,2)``, ``timestamp`` any precision); nullability is ignored.
    With ``strict: true`` other columns fail too. `measured` counts the problems.
    """

    type: Literal["schema"] = "schema"
    columns_: dict[Column, str] = Field(alias="columns", min_length=1)
    strict: bool = False

    @field_validator("columns_")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        for column, dtype in value.items():
            try:
                dt.dtype(dtype)
            except Exception:  # Ibis raises several classes for a bad type string
                raise ValueError(f"column {column!r}: unknown type {dtype!r}") from None
        return value

    def judge(
        self, values: Mapping[str, Any], total: int, table: ir.Table, context: CheckContext
    ) -> Outcome:
        actual = table.schema()
        problems = []
        for column, expected in self.columns_.items():
            if column not in actual:
                problems.append(f"missing column {column!r}")
            elif not type_matches(actual[column], expected):
                problems.append(f"{column!r} is {actual[column]}, expected {expected}")
        if self.strict:
            extra = [c for c in actual if c not in self.columns_]
            problems += [f"unexpected column {c!r}" for c in extra]
        message = "; ".join(problems) or "as expected"
        return Outcome(not problems, message, float(len(problems)))

    def describe(self) -> str:
        columns = ", ".join(f"{c} {t}" for c, t in self.columns_.items())
        return f"columns {columns}{' and no others' if self.strict else ''}"
