"""Data-quality checks: what each one means, and how it compiles to Ibis.

A check is a frozen pydantic model, declared in a pipeline file
(``quality_checks:`` at pipeline level or per model) or in Python::

    {name: customer_email_valid, type: regex, field: email, pattern: '^[^@]+@[^@]+$',
     action: quarantine}
    {check: row_count, threshold: 0.95}
    Range(field="amount", min=0, max=999999, action="reject")

Spellings: the type goes under ``type:`` or ``check:``, one column under
``field:`` or ``column:``, several under ``fields:`` or ``columns:``. A check
without a ``name`` gets one from its type and columns (``not_null_email``);
an expression check needs a name.

**Row-level** checks (`RowCheck`) give every row a verdict: not_null, unique,
accepted_values, range, regex, relationships, expression. **Table-level**
checks (`TableCheck`) measure the whole table: row_count, null_percentage,
unique_keys, freshness, schema.

Actions: ``warn`` (the default: record and go on), ``quarantine`` (row-level
only: failing rows are set aside with the names of the checks they failed,
the good rows go on), ``reject`` (the model fails).

NULL: a missing value is `NotNull`'s business alone. Range, regex,
accepted_values and relationships pass a NULL value (as a SQL foreign key
does); an expression check fails only where the expression is FALSE, not
NULL (as a SQL CHECK constraint); unique and unique_keys follow SQL UNIQUE:
a key with a NULL part is never a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    TypeAdapter,
    ValidationError,
)

from warehouse_kit.core.config import canonical_keys, config_error
from warehouse_kit.core.errors import ConfigError, column_hint

if TYPE_CHECKING:
    pass

from warehouse_kit.core.quality.base import (
    HELPER_PREFIX,
    Action,
    BaseCheck,
    Column,
    Columns,
    Outcome,
    RowCheck,
    TableAction,
    TableCheck,
    Value,
    mark_duplicated,
    type_matches,
)
from warehouse_kit.core.quality.rows import (
    AcceptedValues,
    Expression,
    NotNull,
    Range,
    Regex,
    Relationships,
    Unique,
    portability_problem,
)
from warehouse_kit.core.quality.tables import (
    Freshness,
    NullPercentage,
    RowCount,
    Schema,
    UniqueKeys,
)

__all__ = [
    "CHECK_TYPES",
    "HELPER_PREFIX",
    "ROW_CHECKS",
    "TABLE_CHECKS",
    "AcceptedValues",
    "Action",
    "BaseCheck",
    "Check",
    "Checks",
    "Column",
    "Columns",
    "Expression",
    "Freshness",
    "NotNull",
    "NullPercentage",
    "Outcome",
    "Range",
    "Regex",
    "Relationships",
    "RowCheck",
    "RowCount",
    "Schema",
    "TableAction",
    "TableCheck",
    "Unique",
    "UniqueKeys",
    "Value",
    "column_hint",
    "mark_duplicated",
    "parse_checks",
    "portability_problem",
    "type_matches",
]


ROW_CHECKS = (NotNull, Unique, AcceptedValues, Range, Regex, Relationships, Expression)
TABLE_CHECKS = (RowCount, NullPercentage, UniqueKeys, Freshness, Schema)
CHECK_TYPES: tuple[str, ...] = tuple(
    str(cls.model_fields["type"].default) for cls in (*ROW_CHECKS, *TABLE_CHECKS)
)

Check = Annotated[
    NotNull
    | Unique
    | AcceptedValues
    | Range
    | Regex
    | Relationships
    | Expression
    | RowCount
    | NullPercentage
    | UniqueKeys
    | Freshness
    | Schema,
    Field(discriminator="type", title="check type"),
]
"""Any check; a mapping parses into the class its ``type`` (or ``check``) names."""


def _type_key(data: Any) -> Any:
    # `check` picks the class too, so it is read before the union looks for `type`.
    if isinstance(data, Mapping) and "check" in data:
        return canonical_keys(data, {"check": "type"})
    return data


Checks = list[Annotated[Check, BeforeValidator(_type_key)]]
"""A list of checks, as a file declares them (``quality_checks:``)."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Annotated[Check, BeforeValidator(_type_key)])


# --- parsing --------------------------------------------------------------------------


def parse_checks(raw: Sequence[Any], *, file: str, key_path: str) -> list[Check]:
    """Checks from a list of mappings or checks (a file's, or Python's); names must be unique.

    A bad item is a `ConfigError` at ``key_path[i]`` (and the key inside it).
    """
    checks: list[Check] = []
    for index, item in enumerate(raw):
        where = f"{key_path}[{index}]"
        try:
            check: Check = _ADAPTER.validate_python(item)
        except ValidationError as exc:
            raise config_error(exc, Check, file=file, key_path=where) from None
        if any(c.name == check.name for c in checks):
            raise ConfigError(_duplicate_name(check.name), file=file, key_path=where)
        checks.append(check)
    return checks


def _duplicate_name(name: str) -> str:
    return f"two checks are named {name!r}: give one of them another name"
