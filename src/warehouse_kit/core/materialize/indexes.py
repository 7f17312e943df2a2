"""The indexes of a model's table: which ones (`design`), and creating them on PostgreSQL
when the model is published (`publish`).

A model that declares no ``indexes`` gets the defaults of its kind:

- a dimension: its natural key, with ``effective_from`` for type 2 (what a fact's
  point-in-time lookup reads), and its surrogate key (what facts and KPIs join on);
- a fact (``build_facts``): each dimension key it holds, the date dimension's among them
  (what KPI queries join and filter on).

Not an incremental model's unique key: on the example at 1.5M lines its index made a
merge of a batch slower and no query faster (benchmarks/README.md). Each index costs every
write that changes many rows; the defaults are the ones a query for a member, a product or
a day finds its rows by.

`publish` makes the table's warehouse-kit indexes exactly the designed ones, in the
write's transaction: it creates those missing and drops those no longer designed. Each
carries a comment that marks it as warehouse-kit's, so an index made by hand is left
alone. A table rebuilt under a staging name and swapped in has none, and gets them all
again. Names are deterministic, ``ix_<table>_<columns>`` (``ux_`` when unique), cut to
PostgreSQL's 63 bytes with a hash of the whole name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core.backends import Transaction, table_ref
from warehouse_kit.core.errors import ConfigError, column_hint
from warehouse_kit.core.models import Model
from warehouse_kit.core.physical import Index

MAX_NAME = 63
"""PostgreSQL's identifier limit, in bytes: a longer name would be cut silently."""
MARK = "warehouse-kit index"
"""The comment on every index warehouse-kit creates: what `publish` may drop."""

# The indexes on one table, with their comments. Names are literals, never formatted in.
_PRESENT = sg.parse_one(
    """
    SELECT ic.relname, obj_description(ic.oid, 'pg_class')
    FROM pg_catalog.pg_index AS i
    JOIN pg_catalog.pg_class AS ic ON ic.oid = i.indexrelid
    JOIN pg_catalog.pg_class AS tc ON tc.oid = i.indrelid
    JOIN pg_catalog.pg_namespace AS n ON n.oid = tc.relnamespace
    WHERE n.nspname = :schema AND tc.relname = :table
    """,
    read="postgres",
)


def design(
    model: Model, columns: Sequence[str], dimension_keys: Sequence[str]
) -> tuple[Index, ...]:
    """The model's indexes: as declared, else its kind's defaults (those its `columns`
    have). Checks every declared column (`partition_by` and `cluster_by` too); a column
    the model does not produce is a `ConfigError` naming the file, model and column."""
    physical = model.physical
    for key, names in (
        ("partition_by", physical.partition_by),
        ("cluster_by", physical.cluster_by),
    ):
        for name in names:
            _require(model, columns, key, name)
    if physical.indexes is not None:
        for position, index in enumerate(physical.indexes):
            for name in index.columns:
                _require(model, columns, f"indexes[{position}]", name)
        return _distinct(physical.indexes)
    found = _distinct(defaults(model, dimension_keys))
    return tuple(index for index in found if set(index.columns) <= set(columns))


def defaults(model: Model, dimension_keys: Sequence[str]) -> list[Index]:
    """The indexes of a model that declares none (see the module's docstring)."""
    found = []
    keys = model.keys
    if keys is not None:
        natural = [*keys.natural, *([keys.valid_from] if keys.valid_from else [])]
        found += [Index(columns=natural), Index(columns=[keys.surrogate])]
    found += [Index(columns=[key]) for key in dimension_keys]
    return found


def _distinct(indexes: Iterable[Index]) -> tuple[Index, ...]:
    found: dict[tuple[tuple[str, ...], bool], Index] = {}
    for index in indexes:
        found.setdefault((tuple(index.columns), index.unique), index)
    return tuple(found.values())


def _require(model: Model, columns: Sequence[str], key: str, name: str) -> None:
    if name not in columns:
        raise ConfigError(
            f"model {model.id}: {key}: it has no column {name!r}; {column_hint(name, columns)}",
            file=model.origin,
        )


def index_name(table: str, index: Index) -> str:
    """``ix_<table>_<columns>``, or (too long, or with other characters than letters,
    digits and underscores) its first 54 characters made plain and a hash of it all."""
    whole = "_".join(["ux" if index.unique else "ix", table, *index.columns])
    plain = re.sub(r"[^A-Za-z0-9_]", "_", whole)
    if plain == whole and len(whole) <= MAX_NAME:
        return whole
    digest = hashlib.sha256(whole.encode()).hexdigest()[:8]
    return f"{plain[: MAX_NAME - len(digest) - 1]}_{digest}"


def create_index(table: str, schema: str, index: Index, *, exists: bool = False) -> sge.Create:
    """CREATE [UNIQUE] INDEX on the table's columns, every name a quoted identifier."""
    columns = [sge.column(sg.to_identifier(name, quoted=True)) for name in index.columns]
    return sge.Create(
        kind="INDEX",
        this=sge.Index(
            this=sg.to_identifier(index_name(table, index), quoted=True),
            table=table_ref(table, schema),
            params=sge.IndexParameters(columns=columns),
        ),
        unique=index.unique,
        exists=exists,
    )


def publish(tx: Transaction, schema: str, table: str, indexes: Sequence[Index]) -> None:
    """Make the table's warehouse-kit indexes `indexes`, in the write's transaction."""
    wanted = {index_name(table, index): index for index in indexes}
    query = sge.replace_placeholders(
        _PRESENT.copy(), schema=sge.Literal.string(schema), table=sge.Literal.string(table)
    )
    present = {str(name): comment for name, comment in tx.run(query)}
    for name, comment in present.items():
        if comment == MARK and name not in wanted:
            tx.run(sge.Drop(kind="INDEX", this=table_ref(name, schema), exists=True))
    for name, index in wanted.items():
        if name not in present:
            tx.run(create_index(table, schema, index, exists=True))
            mark = sge.Literal.string(MARK)
            tx.run(sge.Comment(this=table_ref(name, schema), kind="INDEX", expression=mark))
