"""Dimensions: the input a dimension is built from, and type 1 (overwrite).

Every dimension gets an integer surrogate key that never changes for a
member (type 1) or a version (type 2), and the unknown member, key -1.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from warehouse_kit.core.errors import ConfigError, ModelError
from warehouse_kit.core.materialize.table import replace_table
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.models import UNKNOWN_KEY, DimensionKeys, Model
from warehouse_kit.core.operations import DimensionOptions
from warehouse_kit.core.transforms import LOAD_METADATA, unknown_member

CHANGED_AT = "_wk_changed_at"
"""The column of a type-2 input saying when each row's state began."""
SEEN_AT = "_wk_seen_at"
"""The column of a type-2 input saying when each row was seen: the time of its snapshot."""
BATCH = "_wk_batch"
"""The column of a type-2 input naming the batch each row came in (to name it in errors)."""
HIDDEN = (CHANGED_AT, SEEN_AT, BATCH)


def prepare(model: Model, options: DimensionOptions, table: ir.Table) -> ir.Table:
    """The natural key and attributes the dimension keeps (and, for type 2, when each changed)."""
    key = _columns(model, table, list(options.key), "key")
    data = [c for c in table.columns if c not in LOAD_METADATA and c not in key]
    attributes = _columns(model, table, list(options.columns or data), "columns")
    for name, wanted in (("track", options.track or []), ("type1", options.type1)):
        _columns(model, table, list(wanted), name)
        missing = [c for c in wanted if c not in attributes]
        if missing:
            raise ConfigError(
                f"{name}: {missing} are not among the dimension's columns", file=model.origin
            )
    if options.updated_at and options.updated_at not in attributes:
        attributes.append(_columns(model, table, [options.updated_at], "updated_at")[0])
    kept = [*key, *[c for c in attributes if c not in key]]
    if options.scd == 1:
        return table.select(*kept)
    # The times may come from columns the dimension does not keep (_loaded_at).
    seen = _seen_at(model, options, table)
    if options.strategy == "updated_at":
        assert options.updated_at is not None  # the spec requires it
        began = table[options.updated_at].cast("timestamp")
    else:
        began = seen
    has_batch = "_batch_id" in table.columns
    batch = table["_batch_id"].cast("string") if has_batch else ibis.null("string")
    return table.select(*kept, **{CHANGED_AT: began, SEEN_AT: seen, BATCH: batch})


def _seen_at(model: Model, options: DimensionOptions, table: ir.Table) -> ir.Value:
    """When the row was seen: `changed_at`, else when it was loaded, else (NULL) the run."""
    if options.changed_at:
        return table[_columns(model, table, [options.changed_at], "changed_at")[0]].cast(
            "timestamp"
        )
    if "_loaded_at" in table.columns:
        return table["_loaded_at"].cast("timestamp")
    return ibis.null("timestamp")  # the materialization fills in the run's time


def _columns(model: Model, table: ir.Table, names: list[str], key: str) -> list[str]:
    from warehouse_kit.core.transforms import unknown_column

    for name in names:
        if name not in table.columns:
            raise ConfigError(
                f"create_dimensions: {key}: {unknown_column(name, table)}", file=model.origin
            )
    return names


def type1(
    target: Target, incoming: ir.Table, keys: DimensionKeys, rows_in: int, record: Record
) -> Outcome:
    """Overwrite: new members get the next keys, known members keep theirs."""
    require_keys(target, incoming, keys)
    existing = target.existing()
    if existing is None or keys.surrogate not in existing.columns:
        numbered = ibis.row_number().over(order_by=list(keys.natural)) + 1
        members = incoming.mutate(**{keys.surrogate: numbered})
    else:
        members = _merge_members(target, incoming, existing, keys)
    columns = [keys.surrogate, *incoming.columns]
    table = members.select(*columns).union(unknown_member(members.select(*columns), keys))
    return replace_table(target, table, rows_in, record)


def _merge_members(
    target: Target, incoming: ir.Table, existing: ir.Table, keys: DimensionKeys
) -> ir.Table:
    known = existing.filter(existing[keys.surrogate] != UNKNOWN_KEY)
    last_key = target.warehouse.scalar(known[keys.surrogate].max()) or 0
    lookup = known.select(
        _wk_sk=known[keys.surrogate],
        **{f"_wk_nk_{i}": known[c] for i, c in enumerate(keys.natural)},
    )
    predicates = [incoming[c] == lookup[f"_wk_nk_{i}"] for i, c in enumerate(keys.natural)]
    joined = incoming.left_join(lookup, predicates).select(*incoming.columns, "_wk_sk")
    kept = joined.filter(joined._wk_sk.notnull()).mutate(**{keys.surrogate: joined._wk_sk})
    new = joined.filter(joined._wk_sk.isnull())
    numbered = ibis.row_number().over(order_by=list(keys.natural)) + 1 + last_key
    new = new.mutate(**{keys.surrogate: numbered})
    # Members missing from this input stay, so the facts that point to them keep a home.
    gone = known.anti_join(incoming, list(keys.natural))
    gone = gone.select(
        **{
            c: gone[c].cast(dtype) if c in gone.columns else ibis.null(dtype)
            for c, dtype in kept.drop("_wk_sk").schema().items()
        }
    )
    columns = [keys.surrogate, *incoming.columns]
    return kept.select(*columns).union(new.select(*columns)).union(gone.select(*columns))


def require_keys(target: Target, incoming: ir.Table, keys: DimensionKeys) -> None:
    """No NULL natural key, and one row per key."""
    require_present(target, incoming, keys)
    require_unique(target, incoming, keys)


def require_present(target: Target, incoming: ir.Table, keys: DimensionKeys) -> None:
    natural = list(keys.natural)
    nulls = incoming.filter(ibis.or_(*(incoming[c].isnull() for c in natural))).count()
    null_rows = target.warehouse.scalar(nulls)
    if null_rows:
        raise ModelError(
            target.id,
            f"{null_rows} input rows have a NULL natural key ({', '.join(natural)}); "
            "drop or fill them before the dimension (null_handling)",
        )


def require_unique(
    target: Target, incoming: ir.Table, keys: DimensionKeys, *, order: tuple[str, ...] = ()
) -> None:
    """One row per natural key (per key and `order` columns, for type 2)."""
    natural = list(keys.natural)
    grouping = [*natural, *order]
    repeated = incoming.group_by(grouping).aggregate(_wk_rows=incoming.count())
    sample = target.warehouse.rows(
        repeated.filter(repeated._wk_rows > 1).order_by(grouping).limit(5)
    )
    if sample:
        shown = "; ".join(", ".join(str(row[c]) for c in grouping) for row in sample)
        what = f"({', '.join(natural)})" + (" at the same time" if order else "")
        raise ModelError(
            target.id,
            f"natural key {what} is not unique in the input, e.g. {shown}; "
            "deduplicate before the dimension",
        )
