"""The options of each operation, as a pipeline file declares them.

An operation is a discriminated union on ``op``: ``{op: deduplicate, key:
[order_id]}`` parses into `Deduplicate`. One whose options all have defaults
may be written by its name alone (``operations: [deduplicate, null_handling]``).
`warehouse_kit.core.transforms` says what each one does to a table.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator

from warehouse_kit.core.config import Column, Columns, Expression, Name, Spec


class Deduplicate(Spec):
    """Keep one row per key: the last by `order_by` (or the first, with keep: first).

    Without a key, exact duplicate rows (ignoring load metadata) collapse to one.
    Rows with a NULL in the key are not duplicates of each other and pass through.
    """

    op: Literal["deduplicate"]
    key: Columns | None = None
    order_by: Columns | None = None
    keep: Literal["last", "first"] = "last"


class TypeCasting(Spec):
    """Cast columns to declared types; a value that does not parse becomes NULL.

    Text is trimmed before it is cast. Types are Ibis type names: int64,
    float64, decimal(12,2), date, timestamp, boolean, string.
    """

    op: Literal["type_casting"]
    columns: dict[Column, str] = Field(min_length=1)
    max_unparsed: float = Field(default=0.05, ge=0, le=1)
    """The share of a column's non-empty values that may fail to parse before the run
    warns with the count (and, under ``schema_contract: freeze``, fails the model)."""


class Fill(Spec):
    fill: Any


NullRule = Literal["drop", "keep"] | Fill


class NullHandling(Spec):
    """Per column: drop the row, keep the NULL, or fill a value.

    Blank text is treated as NULL first (``blank_is_null``), since a CSV cannot
    tell the two apart. The short form only does that.
    """

    op: Literal["null_handling"]
    columns: dict[Column, NullRule] = Field(default_factory=dict)
    blank_is_null: bool = True


class JoinTables(Spec):
    """Join another model; `on` names shared columns or maps this side to that side."""

    op: Literal["join_tables"]
    with_: str = Field(alias="with")
    on: Columns | dict[Column, Column]
    how: Literal["inner", "left", "right", "outer"] = "left"
    columns: Columns | None = None
    """Columns to take from the joined model (default: all but the join keys)."""


class Select(Spec):
    """Keep these columns, in this order; the others are dropped."""

    op: Literal["select"]
    columns: Columns = Field(min_length=1)


class Rename(Spec):
    """Rename columns: ``{old: new}``; the others keep their names and places."""

    op: Literal["rename"]
    columns: dict[Column, Name] = Field(min_length=1)


class DropColumns(Spec):
    """Drop these columns; with ``load_metadata: true``, also bronze's ``_loaded_at``,
    ``_source`` and ``_batch_id`` (those the table has)."""

    op: Literal["drop_columns"]
    columns: Columns = Field(default_factory=list)
    load_metadata: bool = False

    @model_validator(mode="after")
    def _drops_something(self) -> DropColumns:
        if not self.columns and not self.load_metadata:
            raise ValueError("name the columns to drop, or say load_metadata: true")
        return self


class Rule(Spec):
    name: Name
    condition: Expression
    action: Literal["filter", "flag"] = "filter"
    """filter keeps the rows where the condition is true; flag adds a boolean column."""


class ApplyBusinessRules(Spec):
    op: Literal["apply_business_rules"]
    rules: list[Rule] = Field(min_length=1)


class CalculateMetrics(Spec):
    """Add (or replace) columns computed from SQL expressions, in order."""

    op: Literal["calculate_metrics"]
    columns: dict[Column, Expression] = Field(min_length=1)


class AggregateMetrics(Spec):
    """Group by columns and compute measures (SQL aggregate expressions)."""

    op: Literal["aggregate_metrics"]
    group_by: Columns = Field(default_factory=list)
    measures: dict[Column, Expression] = Field(min_length=1)


class HistoryColumns(Spec):
    """The names of a type-2 dimension's bookkeeping columns."""

    effective_from: Name = "effective_from"
    effective_to: Name = "effective_to"
    is_current: Name = "is_current"
    is_deleted: Name = "is_deleted"


class DimensionOptions(Spec):
    """A dimension keyed by an integer surrogate key that never changes for a version.

    Type 1 (``scd: 1``) overwrites: attributes follow the latest data, and
    members that disappear from the input stay, so old facts keep their key.
    Type 2 (``scd: 2``) keeps history: a change closes the current version
    and opens a new one, each valid over [effective_from, effective_to).
    Row -1 is the unknown member that facts with no match point to.
    """

    key: Columns
    surrogate_key: Name | None = None
    """Default: the model name without ``dim_``, plus ``_key`` (dim_customer -> customer_key)."""
    columns: Columns | None = None
    """Attribute columns (default: all but load metadata)."""
    scd: Literal[1, 2] = 1
    strategy: Literal["check", "updated_at"] = "check"
    """check: a change is a tracked column whose value differs (NULL-safe);
    updated_at: a change is a newer value of the `updated_at` column."""
    updated_at: Column | None = None
    track: Columns | None = None
    """Columns whose change opens a version (check strategy; default: every attribute but type1)."""
    type1: Columns = Field(default_factory=list)
    """Columns overwritten on every version of the member (a corrected name, say)."""
    deletes: Literal["ignore", "invalidate", "new_record"] = "ignore"
    """What a member missing from the input means: nothing (the input need not be a full
    snapshot); or, the input being a full snapshot, the end of its current version, or a
    new version flagged deleted."""
    changed_at: Column | None = None
    """When each snapshot was taken: changes happen then (check strategy), deletes and
    returns too (both strategies). Default ``_loaded_at`` when the input has it, else the
    time of the run."""
    history_columns: HistoryColumns = Field(default_factory=HistoryColumns)

    @model_validator(mode="after")
    def _consistent(self) -> DimensionOptions:
        history_only = {"type1": self.type1, "track": self.track, "updated_at": self.updated_at}
        if self.scd == 1:
            given = [name for name, value in history_only.items() if value]
            if given or self.deletes != "ignore" or self.strategy != "check":
                raise ValueError(f"{', '.join(given) or 'strategy/deletes'} need scd: 2")
        if self.strategy == "updated_at" and not self.updated_at:
            raise ValueError("the updated_at strategy needs updated_at: the column to compare")
        if self.track and set(self.track) & set(self.type1):
            raise ValueError("a column is either tracked (type 2) or type1, not both")
        return self


class CreateDimensions(DimensionOptions):
    op: Literal["create_dimensions"]


class FactDimension(Spec):
    dimension: str
    """The dimension model (``dim_customer`` or ``gold.dim_customer``)."""
    key: Columns
    """The fact's columns that hold the dimension's natural key."""
    at: Column | None = None
    """The fact's event time, to pick the version valid then (default: the op's event_time)."""


class BuildFacts(Spec):
    """Replace natural keys with the dimensions' surrogate keys.

    A fact row whose member is not in the dimension (or has no version valid
    at the fact's event time) gets key -1, the unknown member.
    """

    op: Literal["build_facts"]
    dimensions: list[FactDimension] = Field(min_length=1)
    event_time: Column | None = None
    """When each fact happened: a type-2 dimension is joined to the version valid then.
    Without it, or where it is NULL, facts take each member's current version."""
    columns: Columns | None = None
    """Columns to keep besides the surrogate keys (default: all the others)."""


class CreateDateDimension(Spec):
    """A date dimension covering the dates of a column of the input, whole years."""

    op: Literal["create_date_dimension"]
    column: Column
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)


Operation = Annotated[
    Deduplicate
    | TypeCasting
    | NullHandling
    | JoinTables
    | Select
    | Rename
    | DropColumns
    | ApplyBusinessRules
    | CalculateMetrics
    | AggregateMetrics
    | CreateDimensions
    | BuildFacts
    | CreateDateDimension,
    Field(discriminator="op", title="operation"),
]

OPERATIONS: tuple[type[Spec], ...] = get_args(get_args(Operation)[0])
SHORT_FORMS = tuple(
    str(get_args(cls.model_fields["op"].annotation)[0])
    for cls in OPERATIONS
    if all(not field.is_required() for key, field in cls.model_fields.items() if key != "op")
)
"""The operations that may be written by name alone: every option has a default."""


def _short_form(value: Any) -> Any:
    """``deduplicate`` is ``{op: deduplicate}``."""
    return {"op": value} if isinstance(value, str) else value


Operations = list[
    Annotated[
        Operation,
        BeforeValidator(_short_form, json_schema_input_type=Literal[SHORT_FORMS] | Operation),
    ]
]
