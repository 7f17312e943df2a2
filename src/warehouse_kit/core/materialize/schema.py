"""Schema contracts: what a write does when the columns it brings differ from the table's.

A source adds, drops, renames or retypes a column; a model's definition changes. A
table that keeps its rows across runs (bronze, an incremental model, a type-2
dimension, a quarantine table) must then either change or refuse. Its contract
(`schema_contract`, per source, table or model; default the pipeline's) says which:

- ``evolve`` (default): a new column is added to the table (older rows get NULL);
  a column the rows lack is NULL in them, with a warning (a rename is both); a type
  that holds the old one's values exactly widens the column (int32 -> int64,
  int32 -> double, a wider decimal, date -> timestamp); any other type change fails,
  naming the column and both types.
- ``freeze``: any new, missing or retyped column fails, naming it and the contract.
- ``discard``: new columns are left out, with a warning; missing ones are NULL; a type
  change is treated as under evolve.

A table rebuilt from its definition on every run, or a view, takes its new columns
under evolve (the definition is the contract); freeze and discard hold it as for the
others. ``--full-refresh`` rebuilds from scratch, whatever the contract.

Every set of columns a table takes is a version in ``_wk.schema_versions``
(`record_version`), written in the transaction that writes the table.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction, Warehouse, table_ref
from warehouse_kit.core.errors import ModelError
from warehouse_kit.core.materialize.dimension import HIDDEN
from warehouse_kit.core.materialize.history import BOOKKEEPING
from warehouse_kit.core.models import Dimension, Merge, Model, SourceLoad
from warehouse_kit.core.spec import SchemaContract
from warehouse_kit.core.transforms import LOAD_METADATA


@dataclass(frozen=True)
class Drift:
    """How the rows' columns differ from the table's."""

    new: dict[str, dt.DataType] = field(default_factory=dict)
    missing: dict[str, dt.DataType] = field(default_factory=dict)
    retyped: dict[str, tuple[dt.DataType, dt.DataType]] = field(default_factory=dict)
    """Column: (the table's type, the rows' type), where the table's cannot hold the rows'."""

    def __bool__(self) -> bool:
        return bool(self.new or self.missing or self.retyped)


def compare(table: ibis.Schema, rows: ibis.Schema, own: Collection[str] = ()) -> Drift:
    """The drift from `table` to `rows`, but for the columns a writer adds itself (`own`)."""
    kept = {n: t for n, t in table.items() if n not in own}
    given = {n: t for n, t in rows.items() if n not in own}
    retyped = {}
    for name in kept.keys() & given.keys():
        old, new = kept[name], given[name]
        if widen(old, new) != plain(old):
            retyped[name] = (old, new)
    return Drift(
        new={n: t for n, t in given.items() if n not in kept},
        missing={n: t for n, t in kept.items() if n not in given},
        retyped=dict(sorted(retyped.items())),
    )


_INTEGER_DIGITS = {8: 3, 16: 5, 32: 10, 64: 19}


def plain(t: dt.DataType) -> dt.DataType:
    """The type as a column holds it: nullable, and a timestamp to the microsecond, as
    both engines keep one whose precision is not given."""
    t = t.copy(nullable=True)
    if t.is_timestamp() and t.scale is None:
        return t.copy(scale=6)
    return t


def widen(old: dt.DataType, new: dt.DataType) -> dt.DataType | None:
    """The type that holds every value of both exactly, when there is one; else None."""
    old, new = plain(old), plain(new)
    if old == new:
        return old
    if old.is_integer() and new.is_integer():
        return _wider_integer(old, new)
    if old.is_numeric() and new.is_numeric():
        return _wider_number(old, new)
    if {type(old), type(new)} == {dt.Date, dt.Timestamp}:
        stamp = old if old.is_timestamp() else new
        return stamp if stamp.timezone is None else None
    return None


def _range(t: dt.DataType) -> tuple[int, int]:
    bits = t.nbytes * 8
    if t.is_unsigned_integer():
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _wider_integer(old: dt.DataType, new: dt.DataType) -> dt.DataType | None:
    low = min(_range(old)[0], _range(new)[0])
    high = max(_range(old)[1], _range(new)[1])
    for candidate in (old, new, dt.int16, dt.int32, dt.int64):
        start, end = _range(candidate)
        if start <= low and high <= end:
            return candidate.copy(nullable=True)
    return None


def _wider_number(old: dt.DataType, new: dt.DataType) -> dt.DataType | None:
    """Integers, decimals and floating point: exact only where no digit can be lost."""
    if old.is_decimal() and (old.precision is None or (new.is_decimal() and new.precision is None)):
        # An unconstrained numeric column holds any decimal; and a decimal whose precision
        # the engine does not say (PostgreSQL's arithmetic) is taken as the table's.
        return old
    if old.is_floating() or new.is_floating():
        exact = [t for t in (old, new) if t.is_floating() or _digits(t) <= 15]
        return dt.float64 if len(exact) == 2 else None
    whole = max(_digits(old), _digits(new))
    scale = max(_scale(old), _scale(new))
    if whole + scale > 38:
        return None
    return dt.Decimal(precision=whole + scale, scale=scale)


def _digits(t: dt.DataType) -> int:
    """How many digits before the decimal point the type holds."""
    if t.is_integer():
        return _INTEGER_DIGITS[t.nbytes * 8]
    if t.is_decimal() and t.precision is not None:
        return int(t.precision - (t.scale or 0))
    return 38


def _scale(t: dt.DataType) -> int:
    return int(t.scale or 0) if t.is_decimal() else 0


@dataclass(frozen=True)
class Fitted:
    """The rows reshaped to the table, and what the table must change first."""

    rows: ir.Table
    changes: tuple[sge.Expression, ...] = ()
    notes: tuple[str, ...] = ()
    """What changed, for the run record; the warnings among them come first."""
    warnings: int = 0
    """How many of the notes are warnings: data the table expects that did not come."""


@dataclass(frozen=True)
class Place:
    """The table a model writes, as planning sees it before the run."""

    warehouse: Warehouse
    schema: str
    name: str
    model: str
    """The model's id, for errors."""
    full_refresh: bool = False

    @property
    def ref(self) -> sge.Table:
        return table_ref(self.name, self.schema)

    def columns(self, *, keeps_history: bool, keeps_rows: bool) -> ibis.Schema | None:
        """The columns at the model's name now (a table's or a view's); None when absent,
        about to be rebuilt from scratch, or a view where the write keeps a table's rows
        (a view holds none to keep: the write makes a new table)."""
        if self.full_refresh and not keeps_history:
            return None
        standing = self.warehouse.relation(self.name, self.schema)
        if standing is None or (standing == "view" and keeps_rows):
            return None
        return self.warehouse.table(self.name, self.schema).schema()


def held(place: Place, model: Model, rows: ir.Table, *, where: str) -> Fitted:
    """Hold the rows a model writes to its table's contract, but for the columns its
    materialization writes itself (load metadata, surrogate keys, validity)."""
    kind = model.materialization
    if isinstance(kind, SourceLoad):
        return fit(place, rows, model, where, own=LOAD_METADATA, rebuilt=kind.mode == "replace")
    if isinstance(kind, Dimension) and model.keys is not None:
        surrogate = model.keys.surrogate
        if kind.options.scd == 1:
            return fit(place, rows, model, where, own=[surrogate], rebuilt=True, defined=True)
        names = kind.options.history_columns.model_dump().values()
        own = {surrogate, *names, *BOOKKEEPING, *HIDDEN}
        return fit(place, rows, model, where, own=own, keeps_history=True)
    if isinstance(kind, Merge):
        return fit(place, rows, model, where)
    return fit(place, rows, model, where, rebuilt=True, defined=True)


def fit(
    place: Place,
    rows: ir.Table,
    model: Model,
    where: str,
    *,
    own: Collection[str] = (),
    rebuilt: bool = False,
    defined: bool = False,
    keeps_history: bool = False,
) -> Fitted:
    """Hold `rows` to the table's columns under the model's contract (see the module's
    docstring).

    `where` names what brought the rows (a file, a model) in errors; `own` are the
    columns the writer adds or strips itself; `rebuilt` says the table is written
    anew from the rows (no ALTER needed); `defined` that its columns are what its
    definition says (a model rebuilt every run), not what data brought (a source);
    `keeps_history` that it keeps its rows even through ``--full-refresh``.
    """
    existing = place.columns(keeps_history=keeps_history, keeps_rows=not rebuilt)
    if existing is None:
        return Fitted(rows)
    drift = compare(existing, rows.schema(), own)
    contract = model.contract
    if not drift:
        return Fitted(rows)
    _refuse(place, drift, contract, where, rebuilt=rebuilt)
    if defined and contract == "evolve":
        return Fitted(rows)
    notes = [f"column {n} is missing from {where}: NULL in the new rows" for n in drift.missing]
    if drift.new and contract == "discard":
        notes.append(f"new columns left out (schema_contract: discard): {', '.join(drift.new)}")
    warnings = len(notes)
    added = drift.new if contract == "evolve" else {}
    widened = {n: widen(old, new) for n, (old, new) in drift.retyped.items()}
    changes = [] if rebuilt else alterations(place.ref, place.warehouse.kind, added, widened)
    if added:
        notes.append(f"new columns added: {', '.join(added)}")
    if widened:
        notes.append(
            "widened " + ", ".join(f"{n} {drift.retyped[n][0]} -> {t}" for n, t in widened.items())
        )
    # The table's columns in its order, then the new ones, then the writer's own.
    values = {
        n: rows[n] if n in rows.columns else ibis.null(t)
        for n, t in existing.items()
        if n not in own
    }
    values |= {n: rows[n] for n in rows.columns if n not in drift.new or n in added}
    return Fitted(rows.select(**values), tuple(changes), tuple(notes), warnings)


def alterations(
    ref: sge.Table, kind: str, added: dict[str, dt.DataType], widened: dict[str, dt.DataType | None]
) -> list[sge.Expression]:
    """The ALTER TABLE statements that add the columns `added` and widen `widened`."""
    changes: list[sge.Expression] = []
    for column in ibis.schema(added).to_sqlglot_column_defs(kind):
        changes.append(sge.Alter(this=ref, kind="TABLE", actions=[column]))
    for name, dtype in widened.items():
        assert dtype is not None  # only widening changes come here
        definition = ibis.schema({name: dtype}).to_sqlglot_column_defs(kind)[0]
        column = sge.AlterColumn(this=definition.this, dtype=definition.args["kind"])
        changes.append(sge.Alter(this=ref, kind="TABLE", actions=[column]))
    return changes


def _refuse(
    place: Place, drift: Drift, contract: SchemaContract, where: str, *, rebuilt: bool
) -> None:
    """Fail where the contract allows no change, or a type cannot widen."""
    if contract == "freeze":
        found = [
            *(f"a new column {n} ({t})" for n, t in drift.new.items()),
            *(f"no column {n}" for n in drift.missing),
            *(f"{n} as {new} where the table has {old}" for n, (old, new) in drift.retyped.items()),
        ]
        raise ModelError(
            place.model,
            f"{where} has {'; '.join(found)}, and schema_contract: freeze allows no change to "
            "the table's columns (use evolve to let them change, or --full-refresh to rebuild)",
        )
    if rebuilt:
        return
    for name, (old, new) in drift.retyped.items():
        if widen(old, new) is None:
            raise ModelError(
                place.model,
                f"column {name} is {new} in {where} but {old} in the table, and {old} cannot "
                f"hold every {new} value: cast it back to {old} upstream, or rebuild the table "
                "with --full-refresh",
            )


# --- schema versions ------------------------------------------------------------------


def columns_of(tx: Transaction, schema: str, name: str) -> list[tuple[str, str]]:
    """The table's columns as the transaction sees them: (name, Ibis type), in order."""
    return tx.columns(schema, name)


def describe(before: list[tuple[str, str]] | None, after: list[tuple[str, str]]) -> str:
    """What changed from one version's columns to the next, in words."""
    if before is None:
        return "created"
    old, new = dict(before), dict(after)
    parts = [f"added {n} ({t})" for n, t in new.items() if n not in old]
    parts += [f"removed {n}" for n in old if n not in new]
    parts += [f"{n}: {old[n]} -> {t}" for n, t in new.items() if n in old and old[n] != t]
    return "; ".join(parts) or "columns reordered"


def record_version(tx: Transaction, schema: str, name: str, run_id: str) -> str | None:
    """Record the table's columns as a new version when they differ from the latest one;
    returns the change, or None when there was none."""
    columns = columns_of(tx, schema, name)
    if not columns:
        return None
    table = f"{schema}.{name}"
    latest = state.latest_schema(tx, table)
    before = None if latest is None else [tuple(c) for c in json.loads(latest[1])]
    if before == columns:
        return None
    change = describe(before, columns)
    version = 1 if latest is None else latest[0] + 1
    row = {
        "table_name": table,
        "version": version,
        "columns": json.dumps(columns),
        "change": change,
        "run_id": run_id,
        "recorded_at": state.now(),
    }
    tx.run(state.insert("schema_versions", row))
    return change
