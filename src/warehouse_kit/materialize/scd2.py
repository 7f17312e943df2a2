"""Type-2 dimensions: every change closes the current version and opens a new one.

Each version is valid over [effective_from, effective_to). A member's first
version starts at `BEGINNING` (so facts older than the first load still find
it); the current version ends at `END`. Invariants, tested: at most one
current version per natural key; a key's versions neither overlap nor leave
gaps (except while a member is deleted under ``deletes: invalidate``);
rerunning a batch changes nothing; several changes of one key in a batch
become versions in their order.

A change is found by the dimension's strategy:

- ``check``: a tracked column differs from the previous state, NULL-safe
  (a change to or from NULL is a change); it happened at the row's
  ``changed_at`` (by default the time the row was loaded).
- ``updated_at``: the row's ``updated_at`` is newer than the current
  version's; it happened then. Rows not newer are stale and ignored.

The work is proportional to the changes: new versions are computed once into
a staging table, then the dimension is updated in place (close the versions
that ended, overwrite type-1 columns) and the new versions are appended, all
in one transaction. A ``--full-refresh`` keeps a type-2 dimension's history:
drop the table to rebuild it from the input alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.errors import ModelError
from warehouse_kit.materialize.dimension import CHANGED_AT, require_present, require_unique
from warehouse_kit.materialize.table import replace_table
from warehouse_kit.materialize.target import Outcome, Record, Target
from warehouse_kit.models import DimensionKeys
from warehouse_kit.spec import DimensionOptions
from warehouse_kit.transforms import BEGINNING, END, UNKNOWN_KEY, unknown_member


@dataclass(frozen=True)
class Layout:
    """The columns of one type-2 dimension, by role."""

    options: DimensionOptions
    keys: DimensionKeys
    attributes: tuple[str, ...]

    @classmethod
    def of(cls, options: DimensionOptions, keys: DimensionKeys, incoming: ir.Table) -> Layout:
        skip = {*options.key, CHANGED_AT}
        return cls(options, keys, tuple(c for c in incoming.columns if c not in skip))

    @property
    def natural(self) -> list[str]:
        return list(self.options.key)

    @property
    def tracked(self) -> list[str]:
        if self.options.track:
            return list(self.options.track)
        untracked = {*self.options.type1, self.options.changed_at}
        return [c for c in self.attributes if c not in untracked]

    @property
    def names(self) -> tuple[str, str, str, str]:
        h = self.options.history_columns
        return h.effective_from, h.effective_to, h.is_current, h.is_deleted

    @property
    def columns(self) -> list[str]:
        """The dimension's columns, in order."""
        return [self.keys.surrogate, *self.natural, *self.attributes, *self.names]


def scd2(
    target: Target,
    incoming: ir.Table,
    options: DimensionOptions,
    keys: DimensionKeys,
    rows_in: int,
    record: Record,
) -> Outcome:
    run_time = ibis.literal(target.started_at, "timestamp")
    candidates = incoming.mutate(**{CHANGED_AT: incoming[CHANGED_AT].fill_null(run_time)})
    require_present(target, candidates, keys)
    layout = Layout.of(options, keys, incoming)
    existing = target.existing(keep_on_full_refresh=True)
    if existing is None:
        fresh = candidates.distinct()  # a row sent twice is one state
        require_unique(target, fresh, keys, order=(CHANGED_AT,))
        versions = _number(_versions(layout, fresh, None, None), layout, 0)
        versions = _with_latest_type1(layout, versions, fresh)
        table = versions.union(_unknown(layout, versions))
        return replace_table(target, table, rows_in, record)
    _require_layout(target, existing, layout)
    return _merge(target, layout, candidates, existing, rows_in, record)


def _versions(
    layout: Layout, candidates: ir.Table, current: ir.Table | None, known: ir.Table | None
) -> ir.Table:
    """The new versions the candidates open, given each key's current version.

    The candidates are the rows that may change something (`_changing`): every
    row is compared with the one before it, the current version first.
    """
    natural = layout.natural
    start, _, _, is_deleted = layout.names
    states = candidates.mutate(_wk_seq=1, _wk_deleted=False)
    if current is not None:
        before = current.semi_join(candidates, natural).mutate(
            **{CHANGED_AT: current[start]}, _wk_seq=0, _wk_deleted=current[is_deleted]
        )
        states = _conform(before, states).union(states)
    window = ibis.window(group_by=natural, order_by=["_wk_seq", CHANGED_AT])
    previous = {
        c: states[c].lag().over(window) for c in (*layout.tracked, "_wk_seq", "_wk_deleted")
    }
    first = previous["_wk_seq"].isnull()
    if layout.options.strategy == "updated_at":
        column = layout.options.updated_at
        changed = first | (states[column] > states[column].lag().over(window))
    else:
        differs = [~states[c].identical_to(previous[c]) for c in layout.tracked]
        changed = first | previous["_wk_deleted"] | ibis.or_(*differs)
    # A window in a filter compiles wrongly for PostgreSQL in Ibis 12: name it first.
    marked = states.mutate(_wk_changed=changed)
    opened = marked.filter((marked._wk_seq == 1) & marked._wk_changed).drop("_wk_changed")
    return _bound(layout, opened, known)


def _conform(table: ir.Table, like: ir.Table) -> ir.Table:
    """`table`'s columns in `like`'s order and types, for a union (stored and computed
    timestamps or decimals may differ in precision)."""
    return table.select(**{c: table[c].cast(dtype) for c, dtype in like.schema().items()})


def _fresh(layout: Layout, candidates: ir.Table, current: ir.Table | None) -> ir.Table:
    """Candidates newer than their key's current version; older ones are stale, ignored."""
    if current is None:
        return candidates
    start = layout.names[0]
    column = layout.options.updated_at if layout.options.strategy == "updated_at" else None
    last = current.select(*layout.natural, _wk_last=current[column or start])
    joined = candidates.left_join(last, layout.natural)
    newer = joined[column or CHANGED_AT] > joined._wk_last
    return joined.filter(joined._wk_last.isnull() | newer).select(*candidates.columns)


def _changing(layout: Layout, candidates: ir.Table, current: ir.Table) -> ir.Table:
    """The fresh rows of the keys that change: all the merge reads of a large input.

    updated_at: every fresh row is a change. check: the keys with a fresh row
    whose tracked or type-1 columns differ from the current version (or whose
    member is new or deleted); all their fresh rows, so a change and a change
    back within one batch both count.
    """
    if layout.options.strategy == "updated_at":
        return _fresh(layout, candidates, current)
    natural = layout.natural
    start, _, _, is_deleted = layout.names
    compared = [*layout.tracked, *[c for c in layout.options.type1 if c not in layout.tracked]]
    now = current.select(
        *natural,
        _wk_last=current[start],
        _wk_was_deleted=current[is_deleted],
        **{f"_wk_now_{c}": current[c] for c in compared},
    )
    joined = candidates.left_join(now, natural)
    absent = joined._wk_last.isnull()
    differs = [~joined[c].identical_to(joined[f"_wk_now_{c}"]) for c in compared]
    newer = absent | (joined[CHANGED_AT] > joined._wk_last)
    changed = absent | joined._wk_was_deleted | ibis.or_(*differs)
    keys = joined.filter(newer & changed).select(*natural).distinct()
    return _fresh(layout, candidates.semi_join(keys, natural), current)


def _bound(layout: Layout, opened: ir.Table, known: ir.Table | None) -> ir.Table:
    """Validity bounds: a brand-new key's first version starts at the beginning of time."""
    natural = layout.natural
    start, end, is_current, is_deleted = layout.names
    order = ibis.window(group_by=natural, order_by=CHANGED_AT)
    first = ibis.row_number().over(order) == 0
    if known is not None:
        # Only the keys opening versions: not a distinct over every member.
        seen = known.semi_join(opened, natural).select(*natural).distinct().mutate(_wk_seen=True)
        opened = opened.left_join(seen, natural).select(*opened.columns, "_wk_seen")
        new_key = opened._wk_seen.isnull()
    else:
        new_key = ibis.literal(True)
    begins = ibis.ifelse(first & new_key, BEGINNING, opened[CHANGED_AT])
    opened = opened.mutate(**{start: begins})
    ends = opened[start].lead().over(ibis.window(group_by=natural, order_by=start))
    bounded = opened.mutate(
        **{end: ends.fill_null(END), is_current: ends.isnull(), is_deleted: ibis.literal(False)}
    )
    return bounded.select(*natural, *layout.attributes, *layout.names)


def _number(versions: ir.Table, layout: Layout, last_key: int) -> ir.Table:
    """Surrogate keys for new versions, after the last one given out."""
    start = layout.names[0]
    numbered = ibis.row_number().over(order_by=[*layout.natural, start]) + 1 + last_key
    return versions.mutate(**{layout.keys.surrogate: numbered}).select(*layout.columns)


def _unknown(layout: Layout, versions: ir.Table) -> ir.Table:
    start, end, is_current, is_deleted = layout.names
    member = unknown_member(versions, layout.keys)
    flags = {start: BEGINNING, end: END, is_current: True, is_deleted: False}
    return member.mutate(**{name: ibis.literal(value) for name, value in flags.items()}).select(
        *layout.columns
    )


def _merge(
    target: Target,
    layout: Layout,
    candidates: ir.Table,
    existing: ir.Table,
    rows_in: int,
    record: Record,
) -> Outcome:
    wh = target.warehouse
    _, _, is_current, _ = layout.names
    surrogate = layout.keys.surrogate
    members = existing.filter(existing[surrogate] != UNKNOWN_KEY)
    current = members.filter(members[is_current])
    gone = _gone(layout, candidates, current, target)
    last_key = wh.scalar(members[surrogate].max()) or 0
    newer, staged, closing, latest = (target.scratch(s) for s in ("frs", "chg", "cls", "t1"))
    with wh.transaction() as tx:
        # The one pass over the whole input: the rows that change something.
        _, fresh = target.stage(tx, newer, _changing(layout, candidates, current).distinct())
        require_unique(target, fresh, layout.keys, order=(CHANGED_AT,))
        opened = _versions(layout, fresh, current, members)
        if gone is not None and layout.options.deletes == "new_record":
            opened = opened.union(_conform(_flagged(layout, gone), opened))
        opened = _with_latest_type1(layout, _number(opened, layout, last_key), fresh)
        opened_rows, new = target.stage(tx, staged, opened)
        if layout.options.type1:
            # Staged before the closes, which change the current versions `fresh` reads.
            target.stage(tx, latest, _latest(layout, fresh))
        closes = _closes(layout, new, current)
        if gone is not None and layout.options.deletes == "invalidate":
            ended = gone.select(_wk_sk=gone[surrogate], _wk_to=gone._wk_gone_at)
            closes = closes.union(_conform(ended, closes))
        target.stage(tx, closing, closes)
        closed = tx.write(_close_statement(target, layout, closing))
        if layout.options.type1:
            tx.write(_type1_statement(target, layout, latest))
        tx.write(_insert(target, layout, sg.select(*_quoted(layout.columns)).from_(staged)))
        for scratch in (newer, staged, closing, latest):
            tx.run(sge.Drop(kind="TABLE", this=scratch, exists=True))
        rows = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        outcome = Outcome(
            rows_in, int(rows), note=f"{opened_rows} versions opened, {closed} closed"
        )
        record(tx, outcome)
    return outcome


def _closes(layout: Layout, new: ir.Table, current: ir.Table) -> ir.Table:
    """Current versions that a new version follows end where the first new one starts."""
    start = layout.names[0]
    firsts = new.group_by(layout.natural).aggregate(_wk_to=new[start].min())
    ending = current.join(firsts, layout.natural)
    return ending.select(_wk_sk=ending[layout.keys.surrogate], _wk_to=ending._wk_to)


def _gone(
    layout: Layout, candidates: ir.Table, current: ir.Table, target: Target
) -> ir.Table | None:
    """Current members missing from the input (a full snapshot), and when they went."""
    if layout.options.deletes == "ignore":
        return None
    is_deleted = layout.names[3]
    when = target.warehouse.scalar(candidates[CHANGED_AT].max())
    if when is None:
        raise ModelError(
            target.id,
            f"the input is empty, and with deletes: {layout.options.deletes} an empty snapshot "
            "would delete every member; check the source (or use deletes: ignore)",
        )
    gone = current.filter(~current[is_deleted]).anti_join(candidates, layout.natural)
    return gone.mutate(_wk_gone_at=ibis.literal(when, "timestamp"))


def _flagged(layout: Layout, gone: ir.Table) -> ir.Table:
    """A version saying the member was deleted, unnumbered, like `_versions` gives."""
    start, end, is_current, is_deleted = layout.names
    flags = {start: gone._wk_gone_at, end: ibis.literal(END), is_current: True, is_deleted: True}
    return gone.mutate(**flags).select(*layout.natural, *layout.attributes, *layout.names)


def _with_latest_type1(layout: Layout, opened: ir.Table, candidates: ir.Table) -> ir.Table:
    """Type-1 columns of new versions carry the key's latest value (a deleted key keeps its own)."""
    if not layout.options.type1:
        return opened
    latest = _latest(layout, candidates)
    renamed = latest.select(
        *layout.natural, _wk_has=True, **{f"_wk_t1_{c}": latest[c] for c in layout.options.type1}
    )
    joined = opened.left_join(renamed, layout.natural)
    values = {
        c: ibis.ifelse(joined._wk_has.notnull(), joined[f"_wk_t1_{c}"], joined[c])
        for c in layout.options.type1
    }
    return joined.mutate(**values).select(*layout.columns)


def _latest(layout: Layout, candidates: ir.Table) -> ir.Table:
    """Each key's latest type-1 values."""
    rank = ibis.row_number().over(group_by=layout.natural, order_by=ibis.desc(CHANGED_AT))
    ranked = candidates.mutate(_wk_rank=rank)
    return ranked.filter(ranked._wk_rank == 0).select(*layout.natural, *layout.options.type1)


def _close_statement(target: Target, layout: Layout, closing: sge.Table) -> sge.Update:
    _, end, is_current, _ = layout.names
    return sge.Update(
        this=target.ref,
        expressions=[
            sge.EQ(
                this=sg.column(end, quoted=True),
                expression=sg.column("_wk_to", table="c", quoted=True),
            ),
            sge.EQ(this=sg.column(is_current, quoted=True), expression=sge.false()),
        ],
        from_=sge.From(this=closing.as_("c")),
        where=sge.Where(
            this=sge.EQ(
                this=sg.column(layout.keys.surrogate, table=target.name, quoted=True),
                expression=sg.column("_wk_sk", table="c", quoted=True),
            )
        ),
    )


def _type1_statement(target: Target, layout: Layout, latest: sge.Table) -> sge.Update:
    column = lambda name, table: sg.column(name, table=table, quoted=True)  # noqa: E731
    return sge.Update(
        this=target.ref,
        expressions=[
            sge.EQ(this=sg.column(c, quoted=True), expression=column(c, "u"))
            for c in layout.options.type1
        ],
        from_=sge.From(this=latest.as_("u")),
        where=sge.Where(
            this=sge.and_(
                *(
                    sge.EQ(this=column(c, target.name), expression=column(c, "u"))
                    for c in layout.natural
                )
            )
        ),
    )


def _insert(target: Target, layout: Layout, query: sge.Query) -> sge.Insert:
    return sge.insert(query, into=target.ref, columns=_quoted(layout.columns))


def _quoted(names: list[str]) -> list[sge.Identifier]:
    return [sg.to_identifier(name, quoted=True) for name in names]


def _require_layout(target: Target, existing: ir.Table, layout: Layout) -> None:
    missing = [c for c in layout.columns if c not in existing.columns]
    if missing:
        raise ModelError(
            target.id,
            f"the dimension has no column {', '.join(missing)}; its history cannot be extended "
            "with a different shape: add the columns by hand, or drop the table to rebuild it",
        )
