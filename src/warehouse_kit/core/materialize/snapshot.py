"""Merge one batch, a snapshot, into a stored type-2 dimension.

One pass over the input finds the members the batch tells something new
(`Batch._changing`, `Batch._gone`); their versions are computed again from
what the stored versions stand for and what the batch adds (`history`);
only the versions that differ are deleted and inserted, the rules are
checked on the members written, and the snapshot is recorded, in one
transaction with the model's run record.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import sqlglot as sg
import sqlglot.expressions as sge

from warehouse_kit.core import state
from warehouse_kit.core.backends import Transaction
from warehouse_kit.core.materialize import history, rules
from warehouse_kit.core.materialize.dimension import CHANGED_AT, require_unique
from warehouse_kit.core.materialize.history import FIRST_SEEN, RUN_ID, Layout
from warehouse_kit.core.materialize.target import Outcome, Record, Target
from warehouse_kit.core.models import UNKNOWN_KEY


def require_unique_rows(target: Target, layout: Layout, rows: ir.Table) -> None:
    """One row per member in a full snapshot; else one per member and time."""
    if layout.snapshots:
        require_unique(target, rows, layout.keys)
    else:
        require_unique(target, rows, layout.keys, order=(CHANGED_AT,))


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
        scratch = {p: target.scratch(p) for p in ("chg", "gon", "aff", "old", "obs", "ver", "same")}
        with target.transaction() as tx:
            changes, gone = self._news(tx, members, scratch["chg"], scratch["gon"])
            require_unique_rows(target, layout, changes)
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
                # What the affected members now hold: the computed versions, written or kept.
                rules.require(tx, target, layout, versions)
            for table in scratch.values():
                tx.run(sge.Drop(kind="TABLE", this=table, exists=True))
            state.add_snapshot(tx, target.id, self.taken, target.run_id, rows_in)
            rows = tx.run(sg.select("count(*)").from_(target.ref))[0][0]
            outcome = Outcome(rows_in, int(rows), note=note)
            record(tx, outcome)
        return outcome

    def _news(
        self, tx: Transaction, members: ir.Table, changing: sge.Table, missing: sge.Table
    ) -> tuple[ir.Table, ir.Table | None]:
        """The input rows of the members this batch changes, and (full snapshots) the
        members it deletes: for a batch in order, both in one pass over the input."""
        target = self.target
        if not self.layout.snapshots or self.late:
            _, changes = target.stage(tx, changing, self._changing(members).distinct())
            gone = self._gone(members)
            if gone is not None:
                _, gone = target.stage(tx, missing, gone)
            return changes, gone
        _, both = target.stage(tx, changing, self._changing_or_gone(members).distinct())
        changes = both.filter(~both._wk_missing).drop("_wk_missing")
        return changes, both.filter(both._wk_missing).select(*self.layout.natural)

    def _current(self, members: ir.Table) -> ir.Table:
        """Each member's current version, as `_is_news` compares rows with it."""
        layout = self.layout
        _, _, is_current, is_deleted = layout.names
        current = members.filter(members[is_current])
        compared = list(dict.fromkeys([*layout.tracked, *layout.options.type1]))
        return current.select(
            *layout.natural,
            _wk_since=current[FIRST_SEEN],
            _wk_gone=current[is_deleted],
            _wk_began=layout.began(current),
            **{f"_wk_now_{c}": current[c] for c in compared},
        )

    def _changing_or_gone(self, members: ir.Table) -> ir.Table:
        """A full snapshot in order: its rows with news, and the live members it lacks
        (``_wk_missing``), from one outer join of the input with the current versions."""
        layout, rows = self.layout, self.rows
        now = self._current(members)
        keyed = now.rename({f"_wk_nk_{i}": c for i, c in enumerate(layout.natural)})
        same = [rows[c] == keyed[f"_wk_nk_{i}"] for i, c in enumerate(layout.natural)]
        joined = rows.outer_join(keyed, same)
        absent = joined[layout.natural[0]].isnull()  # a natural key is never NULL in the input
        marked = joined.mutate(_wk_missing=absent, _wk_news=~absent & self._is_news(joined))
        kept = marked.filter(marked._wk_news | (marked._wk_missing & ~marked._wk_gone))
        keys = {
            c: ibis.coalesce(kept[c], kept[f"_wk_nk_{i}"]) for i, c in enumerate(layout.natural)
        }
        others = [c for c in rows.columns if c not in layout.natural]
        return kept.select(**keys, **{c: kept[c] for c in others}, _wk_missing=kept._wk_missing)

    def _changing(self, members: ir.Table) -> ir.Table:
        """The input rows of the members this batch tells something new: new members,
        members back, changed, with new type-1 values, or (full snapshots) observed
        before their current version began. Under ``deletes: ignore``, a row not newer
        than its member's current version is stale: it changes nothing."""
        layout, rows = self.layout, self.rows
        now = self._current(members)
        joined = rows.left_join(now, layout.natural)
        news = joined.filter(self._is_news(joined))
        if layout.snapshots:  # one row per member: the rows with news are all it brings
            return news.select(*rows.columns)
        keys = news.select(*layout.natural).distinct()
        fresh = rows.semi_join(keys, layout.natural)
        if not layout.by_check:
            return fresh
        # Rows older than the current version would be placed before it: stale.
        since = now.select(*layout.natural, "_wk_since")
        dated = fresh.left_join(since, layout.natural)
        newer = dated._wk_since.isnull() | (dated[CHANGED_AT] > dated._wk_since)
        return dated.filter(newer).select(*rows.columns)

    def _is_news(self, joined: ir.Table) -> ir.BooleanValue:
        layout = self.layout

        def differs(columns: list[str]) -> ir.BooleanValue:
            found = [~joined[c].identical_to(joined[f"_wk_now_{c}"]) for c in columns]
            return ibis.or_(*found) if found else ibis.literal(False)

        absent = joined._wk_since.isnull() | joined._wk_gone
        seen = history.seen_at(layout, joined)
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
            seen = members.filter(members[FIRST_SEEN] <= self.taken)
            keys = seen.select(*layout.natural).distinct()
        else:  # one current version per member: its keys are distinct already
            live = members.filter(members[is_current] & ~members[is_deleted])
            keys = live.select(*layout.natural)
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
        since = self._earliest(tx, changes)
        # A batch whose observations all come after the snapshots applied: the stored
        # versions tell all that came before, and no observation is made again.
        in_order = self.latest is not None and since > self.latest
        samples = None if in_order else self._samples(since)
        parts.append(history.recorded_observations(layout, stored, samples, affected))
        observed = history.combined(layout, *parts, again=not in_order)
        # Staged: the versions' windows read it several times.
        _, observed = target.stage(tx, target.scratch("obs"), observed)
        versions = history.versions(layout, observed)
        return history.numbered(layout, versions, last_key, target.run_id)

    def _earliest(self, tx: Transaction, changes: ir.Table) -> datetime:
        """When the earliest observation this batch brings was made."""
        earliest = history.seen_at(self.layout, changes).min()
        found = tx.run(self.target.warehouse.to_sqlglot(earliest.as_table()))[0][0]
        return min(found or self.taken, self.taken)

    def _samples(self, since: datetime) -> ir.Table | None:
        """The snapshots applied since `since` (full snapshots only: each of them saw every
        member, present or not)."""
        if not self.layout.snapshots:
            return None
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
