"""Row-level checks: each gives every row a verdict (see `checks`)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from pydantic import (
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from warehouse_kit.core.errors import ExpressionError, column_hint
from warehouse_kit.core.sqlexpr import columns_used, to_ibis

if TYPE_CHECKING:
    from warehouse_kit.core.quality.context import CheckContext

from warehouse_kit.core.quality.base import (
    Column,
    Columns,
    RowCheck,
    Value,
    _all_present,
    _first,
    _incomparable,
    _literal,
    mark_duplicated,
)

# --- row-level checks -----------------------------------------------------------------


class NotNull(RowCheck):
    """`field` has a value on every row."""

    type: Literal["not_null"] = "not_null"
    field: Column
    spellings: ClassVar[Mapping[str, str]] = {"column": "field"}

    def columns(self, context: CheckContext) -> list[str]:
        return [self.field]

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        return table[self.field].isnull()

    def describe(self) -> str:
        return f"{self.field} is not NULL"


class Unique(RowCheck):
    """No two rows share a value of `fields` (one column or a composite key).

    Every row of a duplicated key fails (not only the second one). A key with
    a NULL part is never a duplicate, as with SQL UNIQUE.
    """

    type: Literal["unique"] = "unique"
    fields: Columns
    spellings: ClassVar[Mapping[str, str]] = {
        "field": "fields",
        "column": "fields",
        "columns": "fields",
    }

    def columns(self, context: CheckContext) -> list[str]:
        return list(self.fields)

    def prepare(self, table: ir.Table, tag: str, context: CheckContext) -> ir.Table:
        return mark_duplicated(table, list(self.fields), tag)

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        return table[tag]

    def describe(self) -> str:
        return f"({', '.join(self.fields)}) is unique"


class AcceptedValues(RowCheck):
    """`field` holds one of `values` (NULL passes)."""

    type: Literal["accepted_values"] = "accepted_values"
    field: Column
    values: list[Value] = Field(min_length=1)
    spellings: ClassVar[Mapping[str, str]] = {"column": "field"}

    def columns(self, context: CheckContext) -> list[str]:
        return [self.field]

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        return _first(_incomparable(v, self.field, table) for v in self.values)

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        value = table[self.field]
        literals = [_literal(v, value.type()) for v in self.values]
        return value.notnull() & ~value.isin(literals).fill_null(False)

    def describe(self) -> str:
        return f"{self.field} in ({', '.join(map(repr, self.values))})"


class Range(RowCheck):
    """`field` lies between `min` and `max` (either may be left out; NULL passes).

    Bounds are inclusive unless ``inclusive: false`` (both) or
    ``min_inclusive``/``max_inclusive`` say otherwise.
    """

    type: Literal["range"] = "range"
    field: Column
    min: Value | None = None
    max: Value | None = None
    min_inclusive: bool = True
    max_inclusive: bool = True
    spellings: ClassVar[Mapping[str, str]] = {"column": "field"}

    @model_validator(mode="before")
    @classmethod
    def _inclusive(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "inclusive" in data:
            data = dict(data)
            both = data.pop("inclusive")
            if "min_inclusive" in data or "max_inclusive" in data:
                raise ValueError("give inclusive, or min_inclusive/max_inclusive, not both")
            data.update(min_inclusive=both, max_inclusive=both)
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["properties"]["inclusive"] = {"type": "boolean", "description": "Both bounds."}
        return schema

    @model_validator(mode="after")
    def _a_bound(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError(f"check {self.name!r}: a range needs min, max or both")
        return self

    def columns(self, context: CheckContext) -> list[str]:
        return [self.field]

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        bounds = (b for b in (self.min, self.max) if b is not None)
        return _first(_incomparable(b, self.field, table) for b in bounds)

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        value = table[self.field]
        outside = ibis.literal(False)
        if self.min is not None:
            low = _literal(self.min, value.type())
            outside |= value < low if self.min_inclusive else value <= low
        if self.max is not None:
            high = _literal(self.max, value.type())
            outside |= value > high if self.max_inclusive else value >= high
        return outside.fill_null(False)

    def describe(self) -> str:
        low = "" if self.min is None else f"{self.min} {'<=' if self.min_inclusive else '<'} "
        high = "" if self.max is None else f" {'<=' if self.max_inclusive else '<'} {self.max}"
        return f"{low}{self.field}{high}"


class Regex(RowCheck):
    """`field` contains a match of `pattern` (a search: anchor with ``^...$``); NULL passes.

    The pattern runs in the database (RE2 through DuckDB's ``regexp_matches``,
    POSIX ARE through PostgreSQL's ``~``), so it must stay in their common
    subset; see `portability_problem`. Left to each engine: ``.`` matches a
    newline in PostgreSQL, not in RE2; ``\\w`` and ``[[:alpha:]]`` follow the
    database's locale in PostgreSQL (RE2: ASCII).
    """

    type: Literal["regex"] = "regex"
    field: Column
    pattern: str = Field(min_length=1)
    spellings: ClassVar[Mapping[str, str]] = {"column": "field", "regex": "pattern"}

    @model_validator(mode="after")
    def _portable(self) -> Regex:
        try:
            with warnings.catch_warnings():  # Python reads [[:alpha:]] as a nested set
                warnings.simplefilter("ignore", FutureWarning)
                re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(
                f"check {self.name!r}: pattern {self.pattern!r} does not compile: {exc}"
            ) from None
        problem = portability_problem(self.pattern)
        if problem:
            raise ValueError(f"check {self.name!r}: pattern {self.pattern!r}: {problem}")
        return self

    def columns(self, context: CheckContext) -> list[str]:
        return [self.field]

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        dtype = table[self.field].type()
        if not dtype.is_string():
            return f"a regex needs a text column, but {self.field!r} is {dtype}"
        return None

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        return (~table[self.field].re_search(self.pattern)).fill_null(False)

    def describe(self) -> str:
        return f"{self.field} matches {self.pattern!r}"


class Relationships(RowCheck):
    """Every value of `fields` exists in `to_fields` of model `to` (a foreign key).

    A key with a NULL part passes, as a SQL foreign key does. `to_fields`
    defaults to the same names as `fields`.
    """

    type: Literal["relationships"] = "relationships"
    fields: Columns
    to: str = Field(min_length=1)
    to_fields: Columns | None = None
    spellings: ClassVar[Mapping[str, str]] = {
        "field": "fields",
        "column": "fields",
        "columns": "fields",
        "to_field": "to_fields",
        "to_column": "to_fields",
        "to_columns": "to_fields",
    }

    @model_validator(mode="after")
    def _same_length(self) -> Relationships:
        if len(self.target_fields) != len(self.fields):
            raise ValueError(
                f"check {self.name!r}: fields {self.fields} and to_fields "
                f"{self.to_fields} must have as many columns"
            )
        return self

    @property
    def target_fields(self) -> list[str]:
        return list(self.to_fields or self.fields)

    def columns(self, context: CheckContext) -> list[str]:
        return list(self.fields)

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        target = context.tables(self.to)  # a ConfigError when the model is unknown
        available = list(target.columns)
        for column in self.target_fields:
            if column not in available:
                return f"unknown column {column!r} in {self.to}; {column_hint(column, available)}"
        return None

    def prepare(self, table: ir.Table, tag: str, context: CheckContext) -> ir.Table:
        # A left join on the distinct target keys keeps every row exactly once.
        target = context.tables(self.to)
        names = [f"{tag}_{i}" for i in range(len(self.fields))]
        keys = target.select(
            **{n: target[c] for n, c in zip(names, self.target_fields, strict=True)}
        ).distinct()
        keys = keys.mutate(**{tag: ibis.literal(True)})
        on = [table[f] == keys[n] for f, n in zip(self.fields, names, strict=True)]
        return table.left_join(keys, on).select(*table.columns, tag)

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        return _all_present(table, self.fields) & table[tag].isnull()

    def describe(self) -> str:
        target = ", ".join(self.target_fields)
        return f"({', '.join(self.fields)}) exists in {self.to} ({target})"


class Expression(RowCheck):
    """A SQL boolean over the row (sqlglot, as business rules); fails where it is FALSE.

    A NULL result passes, as in a SQL CHECK constraint: write
    ``coalesce(x, false)`` or add a not_null check to fail it.
    """

    type: Literal["expression"] = "expression"
    expression: str = Field(min_length=1)
    spellings: ClassVar[Mapping[str, str]] = {"condition": "expression", "sql": "expression"}

    @classmethod
    def _default_name(cls, data: Mapping[str, Any]) -> str:
        raise ValueError("an expression check needs a name")

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            columns_used(value)
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        return value

    def columns(self, context: CheckContext) -> list[str]:
        return sorted(columns_used(self.expression))

    def problem(self, table: ir.Table, context: CheckContext) -> str | None:
        try:
            dtype = to_ibis(self.expression, table).type()
        except ExpressionError as exc:
            return str(exc)
        if not (dtype.is_boolean() or dtype.is_null()):
            return f"expression {self.expression!r} is {dtype}, not a boolean"
        return None

    def fails(self, table: ir.Table, tag: str) -> ir.BooleanValue:
        condition = to_ibis(self.expression, table)
        return (~condition.cast(dt.boolean)).fill_null(False)

    def describe(self) -> str:
        return self.expression


# --- regular expressions --------------------------------------------------------------

_PORTABLE_ESCAPES = set("dDsSwWtnrfv")
"""Letter escapes RE2, PostgreSQL and Python read alike (any escaped symbol is fine)."""

_GROUPS = (
    ("?:", None),
    ("?=", "lookahead (?=...) is not supported: RE2 (DuckDB) has no lookaround"),
    ("?!", "lookahead (?!...) is not supported: RE2 (DuckDB) has no lookaround"),
    ("?<=", "lookbehind (?<=...) is not supported: RE2 (DuckDB) has no lookaround"),
    ("?<!", "lookbehind (?<!...) is not supported: RE2 (DuckDB) has no lookaround"),
    ("?P=", "backreferences are not supported: RE2 (DuckDB) has none"),
    ("?P<", "named groups are not supported: PostgreSQL has none; use (...)"),
    ("?<", "named groups are not supported: PostgreSQL has none; use (...)"),
    ("?>", "atomic groups (?>...) are not supported by RE2 (DuckDB)"),
    ("?#", "comments (?#...) are not supported by RE2 (DuckDB)"),
    ("?", "inline flags such as (?i) are not supported: spell cases out, e.g. [Ee]mail"),
)

_SUBSET = (
    "stay within what DuckDB (RE2) and PostgreSQL share: literals, ., [...] classes, "
    r"\d \s \w, ^ $, * + ? {m,n}, (...) and (?:...), |"
)


def portability_problem(pattern: str) -> str | None:
    """Why `pattern` would not mean the same in DuckDB and PostgreSQL, or None."""
    i, class_start = 0, -1  # class_start: where the [...] being read starts, -1 outside
    while i < len(pattern):
        char, rest = pattern[i], pattern[i + 1 :]
        if char == "\\":
            problem = _escape_problem(rest[:1], in_class=class_start >= 0)
            if problem:
                return f"{problem}; {_SUBSET}"
            i += 2
            continue
        if class_start >= 0:
            if pattern.startswith("[:", i) and ":]" in rest:  # [:alpha:] inside a class
                i = pattern.index(":]", i) + 2
                continue
            first = class_start + (2 if pattern.startswith("[^", class_start) else 1)
            if char == "]" and i != first:  # a ] first in the class is a literal
                class_start = -1
        elif char == "[":
            class_start = i
        elif char == "(" and rest.startswith("?"):
            message = next(m for prefix, m in _GROUPS if rest.startswith(prefix))
            if message:
                return f"{message}; {_SUBSET}"
        i += 1
    return None


def _escape_problem(char: str, in_class: bool) -> str | None:
    if not char.isalnum():
        return None
    if char.isdigit():
        return rf"backreference \{char} is not supported: RE2 (DuckDB) has none"
    if char == "b" or char == "B":
        return rf"\{char} is a word boundary in RE2 but not in PostgreSQL"
    if char in "AZzG":
        return rf"\{char} is not supported: anchor with ^ and $"
    if in_class and char in "DSW":
        return rf"\{char} inside [...] is not allowed by PostgreSQL"
    if char not in _PORTABLE_ESCAPES:
        return rf"the escape \{char} is read differently by RE2 and PostgreSQL: write the character"
    return None
