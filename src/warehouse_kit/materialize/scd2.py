"""Type-2 dimensions: every change closes the current version and opens a new one.

Each version is valid over [effective_from, effective_to); `history` says how
versions follow from what was observed. The rules, checked before every
publish (`history.violations`): for every member, versions never overlap and
follow each other without a gap (but where ``deletes: invalidate`` closed a
deleted member), each ends after it starts, at most one is current (the
open-ended one), the first starts at the beginning of time; a version's
surrogate key never changes.

Every batch is one snapshot, taken at its latest ``changed_at`` (by default
when it was loaded; the ``updated_at`` strategy dates its rows' changes by
``updated_at``). A batch newer than the ones applied is merged; one taken at
the same time as the latest changes nothing unless it differs (it is taken
again); an older one:

- full snapshots (``deletes: invalidate|new_record``): is placed in time: the
  members it tells something new about have their history computed again
  from every snapshot applied, so the order batches arrive in does not matter;
- ``deletes: ignore``: is refused, naming it, because the input need not be a
  full snapshot then, and nothing says how long a late state lasted.

The work is proportional to the members a batch changes: one pass over the
input finds them; their versions are computed again, compared with the stored
ones, and only the versions that differ are deleted and inserted, with the
snapshot's record and the run's, in one transaction.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit import state
from warehouse_kit.backends import Transaction
from warehouse_kit.errors import ModelError
from warehouse_kit.materialize import history
from warehouse_kit.materialize.dimension import (
    BATCH,
    CHANGED_AT,
    SEEN_AT,
    require_present,
    require_unique,
)
from warehouse_kit.materialize.history import FIRST_SEEN, RUN_ID, SK, Layout
from warehouse_kit.materialize.table import replace_table
from warehouse_kit.materialize.target import Outcome, Record, Target
from warehouse_kit.models import BEGINNING, END, UNKNOWN_KEY, DimensionKeys
from warehouse_kit.spec import DimensionOptions
from warehouse_kit.transforms import unknown_member


def scd2(
    target: Target,
    incoming: ir.Table,
    options: DimensionOptions,
    keys: DimensionKeys,
    rows_in: int,
    record: Record,
) -> Outcome:
    run_time = ibis.literal(target.started_at, "timestamp")
    rows = incoming.mutate(
        **{column: incoming[column].fill_null(run_time) for column in (CHANGED_AT, SEEN_AT)}
    )
    require_present(target, rows, keys)
    layout = Layout.of(options, keys, incoming)
    rows = rows.drop(BATCH)
    taken = target.warehouse.scalar(_seen(layout, rows).max())
    existing = target.existing(keep_on_full_refresh=True)
    if existing is None:
        return _first_load(target, layout, rows, taken, rows_in, record)
    existing = _with_bookkeeping(target, existing, layout)
    _require_layout(target, existing, layout)
    latest = state.latest_snapshot(target.warehouse, target.id)
    if taken is None:
        return _nothing_new(target, layout, rows_in, record)
    if latest is not None and taken < latest and not layout.snapshots:
        raise ModelError(target.id, _refusal(target, incoming, taken, latest))
    batch = Batch(target, layout, rows, taken, latest)
    return batch.merge(existing, rows_in, record)


def _seen(layout: Layout, rows: ir.Table) -> ir.TimestampValue:
    """When each row was observed."""
    return rows[CHANGED_AT] if layout.by_check else rows[SEEN_AT]


def _first_load(
    target: Target,
    layout: Layout,
    rows: ir.Table,
    taken: datetime | None,
    rows_in: int,
    record: Record,
) -> Outcome:
    rows = rows.distinct()  # a row sent twice is one observation
    _require_unique(target, layout, rows)
    versions = history.versions(layout, history.observations(layout, rows))
    table = _numbered(layout, versions, 0, target.run_id)
    table = table.union(_unknown(layout, table, target.run_id))

    def checked(tx: Transaction, outcome: Outcome) -> None:
        _require_rules(tx, target, layout, None)
        if taken is not None:
            state.add_snapshot(tx, target.id, taken, target.run_id, rows_in)
        record(tx, outcome)

    return replace_table(target, table, rows_in, checked)


def _require_unique(target: Target, layout: Layout, rows: ir.Table) -> None:
    if layout.snapshots:  # a full snapshot has one row per member
        require_unique(target, rows, layout.keys)
    else:
        require_unique(target, rows, layout.keys, order=(CHANGED_AT,))


def _nothing_new(target: Target, layout: Layout, rows_in: int, record: Record) -> Outcome:
    if layout.snapshots:
        raise ModelError(
            target.id,
            f"the input is empty, and with deletes: {layout.options.deletes} an empty snapshot "
            "would delete every member; check the source (or use deletes: ignore)",
        )
    wh = target.warehouse
    with wh.transaction() as tx:
        rows = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
        outcome = Outcome(rows_in, int(rows), note="no input: nothing changed")
        record(tx, outcome)
    return outcome


class Batch:
    """One batch merged into a stored dimension."""

    def __init__(
        self,
        target: Target,
        layout: Layout,
        rows: ir.Table,
        taken: datetime,
        latest: datetime | None,
    ):
        self.target, self.layout, self.rows = target, layout, rows
        self.taken, self.latest = taken, latest
        self.late = latest is not None and taken < latest

    def merge(self, existing: ir.Table, rows_in: int, record: Record) -> Outcome:
        target, layout = self.target, self.layout
        wh = target.warehouse
        surrogate = layout.keys.surrogate
        members = existing.filter(existing[surrogate] != UNKNOWN_KEY)
        last_key = wh.scalar(members[surrogate].max()) or 0
        scratch = {p: target.scratch(p) for p in ("chg", "gon", "aff", "old", "ver", "same")}
        with wh.transaction() as tx:
            # The one pass over the whole input: the members this batch changes.
            _, changes = target.stage(tx, scratch["chg"], self._changing(members).distinct())
            _require_unique(target, layout, changes)
            gone = self._gone(members)
            if gone is not None:
                _, gone = target.stage(tx, scratch["gon"], gone)
            affected = changes.select(*layout.natural)
            if gone is not None:
                affected = affected.union(gone)
            touched, affected = target.stage(tx, scratch["aff"], affected.distinct())
            note = "nothing changed"
            if touched:
                _, stored = target.stage(
                    tx, scratch["old"], members.semi_join(affected, layout.natural)
                )
                versions = self._versions(tx, changes, gone, stored, affected, last_key)
                _, versions = target.stage(tx, scratch["ver"], versions)
                note = self._write(tx, versions, stored, scratch["same"], last_key)
                _require_rules(tx, target, layout, existing.semi_join(affected, layout.natural))
            for table in scratch.values():
                tx.run(sge.Drop(kind="TABLE", this=table, exists=True))
            state.add_snapshot(tx, target.id, self.taken, target.run_id, rows_in)
            rows = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
            outcome = Outcome(rows_in, int(rows), note=note)
            record(tx, outcome)
        return outcome

    def _changing(self, members: ir.Table) -> ir.Table:
        """The input rows of the members this batch tells something new: new members,
        members back, changed, with new type-1 values, or (full snapshots) observed
        before their current version began. Under ``deletes: ignore``, a row not newer
        than its member's current version is stale: it changes nothing."""
        layout, rows = self.layout, self.rows
        _, _, is_current, is_deleted = layout.names
        current = members.filter(members[is_current])
        compared = list(dict.fromkeys([*layout.tracked, *layout.options.type1]))
        now = current.select(
            *layout.natural,
            _wk_since=current[FIRST_SEEN],
            _wk_gone=current[is_deleted],
            _wk_began=layout.began(current),
            **{f"_wk_now_{c}": current[c] for c in compared},
        )
        joined = rows.left_join(now, layout.natural)
        keys = joined.filter(self._news(joined)).select(*layout.natural).distinct()
        fresh = rows.semi_join(keys, layout.natural)
        if layout.snapshots or not layout.by_check:
            return fresh
        # Rows older than the current version would be placed before it: stale.
        since = now.select(*layout.natural, "_wk_since")
        dated = fresh.left_join(since, layout.natural)
        newer = dated._wk_since.isnull() | (dated[CHANGED_AT] > dated._wk_since)
        return dated.filter(newer).select(*rows.columns)

    def _news(self, joined: ir.Table) -> ir.BooleanValue:
        layout = self.layout

        def differs(columns: list[str]) -> ir.BooleanValue:
            found = [~joined[c].identical_to(joined[f"_wk_now_{c}"]) for c in columns]
            return ibis.or_(*found) if found else ibis.literal(False)

        absent = joined._wk_since.isnull() | joined._wk_gone
        seen = _seen(layout, joined)
        newer, before = seen > joined._wk_since, seen < joined._wk_since
        if layout.by_check:
            type1 = differs(list(layout.options.type1))
            moved = differs(layout.tracked)
            if not layout.snapshots:
                return absent | (newer & (moved | type1))
            return absent | before | moved | (ibis.literal(False) if self.late else type1)
        # updated_at: a row not newer than the member's current version changes nothing.
        newer_state = joined[CHANGED_AT] > joined._wk_began
        if not layout.snapshots:
            return absent | newer_state
        return absent | before | newer_state

    def _gone(self, members: ir.Table) -> ir.Table | None:
        """Members missing from the snapshot that were there when it was taken (for a
        late one: any member seen by then; recomputing says whether it changes)."""
        layout = self.layout
        if not layout.snapshots:
            return None
        _, _, is_current, is_deleted = layout.names
        if self.late:
            there = members.filter(members[FIRST_SEEN] <= self.taken)
        else:
            there = members.filter(members[is_current] & ~members[is_deleted])
        keys = there.select(*layout.natural).distinct()
        return keys.anti_join(self.rows, layout.natural)

    def _versions(
        self,
        tx: Transaction,
        changes: ir.Table,
        gone: ir.Table | None,
        stored: ir.Table,
        affected: ir.Table,
        last_key: int,
    ) -> ir.Table:
        """The affected members' versions, computed again from all they tell."""
        layout, target = self.layout, self.target
        taken = ibis.literal(self.taken, "timestamp")
        parts = [history.observations(layout, changes)]
        if gone is not None:
            parts.append(history.absences(layout, gone, stored, taken))
        samples = self._samples(tx, changes)
        parts.append(history.recorded_observations(layout, stored, samples, affected))
        observed = history.combined(layout, *parts)
        versions = history.versions(layout, observed)
        return _numbered(layout, versions, last_key, target.run_id)

    def _samples(self, tx: Transaction, changes: ir.Table) -> ir.Table | None:
        """The snapshots applied since the earliest observation of this batch (full
        snapshots only: each of them saw every member, present or not)."""
        if not self.layout.snapshots or self.latest is None:
            return None
        earliest = _seen(self.layout, changes).min()
        found = tx.run(self.target.warehouse.to_sqlglot(earliest.as_table()))[0][0]
        since = min(found or self.taken, self.taken)
        if since > self.latest:
            return None  # a batch in order: the stored versions tell all that came before
        taken = state.snapshots(self.target.warehouse, self.target.id)
        return taken.filter(taken.snapshot_at >= ibis.literal(since, "timestamp"))

    def _write(
        self,
        tx: Transaction,
        versions: ir.Table,
        stored: ir.Table,
        unchanged: sge.Table,
        last_key: int,
    ) -> str:
        """Replace the stored versions that differ from the computed ones."""
        target, layout = self.target, self.layout
        surrogate = layout.keys.surrogate
        _, same = target.stage(tx, unchanged, _unchanged(layout, versions, stored))
        doomed = stored.anti_join(same, surrogate).select(surrogate)
        key = sg.column(surrogate, quoted=True)
        query = target.warehouse.to_sqlglot(doomed)
        doomed_keys = sge.In(this=key, query=sge.Subquery(this=query))
        replaced = tx.write(sge.Delete(this=target.ref, where=sge.Where(this=doomed_keys)))
        added = versions.anti_join(same, surrogate)
        names = [sg.to_identifier(c, quoted=True) for c in layout.columns]
        query = target.warehouse.to_sqlglot(added.select(*layout.columns))
        tx.write(sge.insert(query, into=target.ref, columns=names))
        return self._note(tx, added, stored, replaced, last_key)

    def _note(
        self, tx: Transaction, added: ir.Table, stored: ir.Table, replaced: int, last_key: int
    ) -> str:
        layout = self.layout
        surrogate, is_current = layout.keys.surrogate, layout.names[2]
        was = stored.select(_wk_old=stored[surrogate], _wk_was_current=stored[is_current])
        paired = added.left_join(was, added[surrogate] == was._wk_old)
        counts = paired.aggregate(
            opened=(paired[surrogate] > last_key).sum(),
            closed=(paired._wk_was_current & ~paired[is_current]).sum(),
        )
        opened, closed = tx.run(self.target.warehouse.to_sqlglot(counts))[0]
        opened, closed = int(opened or 0), int(closed or 0)
        note = f"{opened} versions opened, {closed} closed"
        if replaced > closed:
            note += f", {replaced - closed} rewritten"
        if self.late:
            note += f"; a late snapshot ({self.taken}) placed before {self.latest}"
        return note


def _unchanged(layout: Layout, versions: ir.Table, stored: ir.Table) -> ir.Table:
    """The surrogate keys whose computed version is the stored one, column for column."""
    surrogate = layout.keys.surrogate
    compared = [c for c in layout.columns if c != RUN_ID]
    old = stored.select(**{f"_wk_old_{c}": stored[c] for c in compared})
    paired = versions.join(old, versions[surrogate] == old[f"_wk_old_{surrogate}"])
    same = [paired[c].identical_to(paired[f"_wk_old_{c}"]) for c in compared]
    return paired.filter(ibis.and_(*same)).select(surrogate)


def _numbered(layout: Layout, versions: ir.Table, last_key: int, run_id: str) -> ir.Table:
    """Surrogate keys: a version continuing a stored one keeps its key; new versions get
    the next ones, in (natural key, effective_from) order."""
    start = layout.names[0]
    kept = versions.filter(versions[SK].notnull())
    new = versions.filter(versions[SK].isnull())
    order = ibis.row_number().over(order_by=[*layout.natural, start])
    new = new.mutate(**{SK: order + 1 + last_key})
    both = kept.union(new)
    return both.mutate(
        **{layout.keys.surrogate: both[SK], RUN_ID: ibis.literal(run_id, "string")}
    ).select(*layout.columns)


def _unknown(layout: Layout, versions: ir.Table, run_id: str) -> ir.Table:
    start, end, is_current, is_deleted = layout.names
    member = unknown_member(versions, layout.keys)
    flags = {start: BEGINNING, end: END, is_current: True, is_deleted: False}
    values = {name: ibis.literal(value) for name, value in flags.items()}
    values[FIRST_SEEN] = ibis.literal(BEGINNING)
    values[RUN_ID] = ibis.literal(run_id, "string")
    return member.mutate(**values).select(*layout.columns)


def _require_rules(tx: Transaction, target: Target, layout: Layout, table: ir.Table | None) -> None:
    """Refuse to publish versions that break the dimension's rules (rolls back)."""
    if table is None:
        table = target.warehouse.table(target.name, target.schema)
    wrong = history.violations(layout, table).limit(5)
    found = tx.run(target.warehouse.to_sqlglot(wrong))
    if not found:
        return
    start, end = layout.names[:2]
    columns = [*layout.natural, layout.keys.surrogate, start, end, "is_current", "problem"]
    shown = "; ".join(
        ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True) if c != "is_current")
        for row in found
    )
    raise ModelError(
        target.id,
        f"the history would break the dimension's rules, so nothing was written: {shown} "
        "(a bug: please report it with the batches that led here)",
    )


def _with_bookkeeping(target: Target, existing: ir.Table, layout: Layout) -> ir.Table:
    """A dimension written before versions kept when they were first seen and by which run
    gains those columns: first seen when it began, written by no run in particular."""
    missing = [c for c in history.BOOKKEEPING if c not in existing.columns]
    if not missing:
        return existing
    wh = target.warehouse
    began = layout.names[0]
    types = ibis.schema({FIRST_SEEN: "timestamp", RUN_ID: "string"})
    with wh.transaction() as tx:
        for column in types.to_sqlglot_column_defs(wh.kind):
            if column.name in missing:
                tx.run(sge.Alter(this=target.ref, kind="TABLE", actions=[column]))
        values = {RUN_ID: sge.Literal.string(""), FIRST_SEEN: sg.column(began, quoted=True)}
        tx.run(
            sge.Update(
                this=target.ref,
                expressions=[
                    sge.EQ(this=sg.column(c, quoted=True), expression=v)
                    for c, v in values.items()
                    if c in missing
                ],
            )
        )
    return wh.table(target.name, target.schema)


def _refusal(target: Target, incoming: ir.Table, taken: datetime, latest: datetime) -> str:
    batches = incoming.select(BATCH).distinct().order_by(BATCH).limit(3)
    named = [row[BATCH] for row in target.warehouse.rows(batches) if row[BATCH]]
    which = f"batch {', '.join(named)}" if named else "the input"
    return (
        f"{which}, a snapshot of {taken}, is older than the latest one the dimension has "
        f"applied ({latest}); with deletes: ignore the input need not be a full snapshot, so "
        "nothing says how long its states lasted and it is refused: load batches in time "
        "order, or declare full snapshots (deletes: invalidate or new_record) to have late "
        "ones placed in history"
    )


def _require_layout(target: Target, existing: ir.Table, layout: Layout) -> None:
    missing = [c for c in layout.columns if c not in existing.columns]
    if missing:
        raise ModelError(
            target.id,
            f"the dimension has no column {', '.join(missing)}; its history cannot be extended "
            "with a different shape: add the columns by hand, or drop the table to rebuild it",
        )
