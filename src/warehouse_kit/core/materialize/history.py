"""Type-2 history as a function of what was observed, and when.

A dimension's input is a sequence of observations of each member: at time
``T`` it was there with these attributes, or (in a full snapshot, under
``deletes: invalidate|new_record``) it was not. `versions` turns a member's
observations, in time order, into its versions:

- a version starts where the member's state changes: a tracked column differs
  (``check``, NULL-safe) or its ``updated_at`` is newer than any before
  (``updated_at``; older ones are stale and change nothing);
- a member missing after being there is deleted then: its version ends
  (``invalidate``) or a version flagged deleted starts (``new_record``); when it
  is seen again, changed or not, a new version starts;
- the member's first version starts at the beginning of time; a later one at
  the time it was observed (``check``), or at its ``updated_at`` (``updated_at``;
  with deletes, never after the snapshot that shows it nor, for a member that
  comes back, before it went), so every version starts before it ends;
- type-1 columns hold the member's latest values on every version.

Because history is a function of the observations, one function serves the
first load, every later batch, and a late snapshot placed in time: the stored
versions are turned back into the observations they stand for
(`recorded_observations`), the new ones are added, and the member's versions
are computed again. A stored version's surrogate key stays with the
observation that opened it, so keys survive every recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from warehouse_kit.core.materialize.dimension import CHANGED_AT, HIDDEN, SEEN_AT
from warehouse_kit.core.models import BEGINNING, END, UNKNOWN_KEY, DimensionKeys
from warehouse_kit.core.operations import DimensionOptions

FIRST_SEEN = "_wk_first_seen"
"""When a version's state was first observed (its ``effective_from``, but for a member's
first version, which starts at the beginning of time, and an ``updated_at`` version)."""
RUN_ID = "_wk_run_id"
"""The run that last wrote the version; facts rebuild the rows that point to newer ones."""

DESCRIPTIONS = {
    FIRST_SEEN: "When the version's state was first seen (kept to place late snapshots).",
    RUN_ID: "The warehouse-kit run that last wrote the version.",
}

T, U = "_wk_t", "_wk_u"
"""An observation's time, and when its state began (its updated_at; T for ``check``)."""
PRESENT, ANCHOR, PRIORITY = "_wk_present", "_wk_anchor", "_wk_priority"
"""Whether the member was there; the surrogate key of the stored version the observation
opened; which of two observations at one time wins (new over stored over sampled)."""
NEW, STORED, SAMPLED = 2, 1, 0
SK = "_wk_sk"


@dataclass(frozen=True)
class Layout:
    """The columns of one type-2 dimension, by role, and how its history is kept."""

    options: DimensionOptions
    keys: DimensionKeys
    attributes: tuple[str, ...]

    @classmethod
    def of(cls, options: DimensionOptions, keys: DimensionKeys, incoming: ir.Table) -> Layout:
        skip = {*options.key, *HIDDEN}
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
    def by_check(self) -> bool:
        return self.options.strategy == "check"

    @property
    def snapshots(self) -> bool:
        """Each input is a full snapshot: a missing member was deleted."""
        return self.options.deletes != "ignore"

    @property
    def names(self) -> tuple[str, str, str, str]:
        h = self.options.history_columns
        return h.effective_from, h.effective_to, h.is_current, h.is_deleted

    @property
    def columns(self) -> list[str]:
        """The dimension's columns, in order."""
        return [self.keys.surrogate, *self.natural, *self.attributes, *self.names, *BOOKKEEPING]

    def began(self, versions: ir.Table) -> ir.TimestampValue:
        """When a stored version's state began, as its observations say (``U``)."""
        if self.by_check:
            return versions[FIRST_SEEN]
        return versions[self.options.updated_at or ""].cast("timestamp")


BOOKKEEPING = (FIRST_SEEN, RUN_ID)


# --- observations ---------------------------------------------------------------------------


def seen_at(layout: Layout, rows: ir.Table) -> ir.TimestampValue:
    """When each input row was observed: the time of its snapshot."""
    return rows[CHANGED_AT] if layout.by_check else rows[SEEN_AT]


def observations(layout: Layout, rows: ir.Table) -> ir.Table:
    """Input rows as observations: the member there, as the row says."""
    return rows.select(
        *layout.natural,
        *layout.attributes,
        **{T: seen_at(layout, rows), U: rows[CHANGED_AT], PRESENT: True},
        **{ANCHOR: ibis.null("int64"), PRIORITY: NEW},
    )


def absences(layout: Layout, members: ir.Table, like: ir.Table, at: ir.Value) -> ir.Table:
    """Observations that the `members` (natural keys) were missing at `at`."""
    nulls = {c: ibis.null(like[c].type()) for c in layout.attributes}
    return members.select(
        *layout.natural,
        **nulls,
        **{T: at, U: ibis.null("timestamp"), PRESENT: False},
        **{ANCHOR: ibis.null("int64"), PRIORITY: NEW},
    )


def segments(layout: Layout, stored: ir.Table) -> ir.Table:
    """The stretches of time each stored version was observed over, and the gaps between
    them (a member deleted under ``invalidate``), as observations over [T, ``_wk_until``)."""
    start, end, _, is_deleted = layout.names
    window = ibis.window(group_by=layout.natural, order_by=[FIRST_SEEN, layout.keys.surrogate])
    marked = stored.mutate(
        _wk_next_from=stored[start].lead().over(window),
        _wk_next_seen=stored[FIRST_SEEN].lead().over(window),
    )
    contiguous = (marked._wk_next_from == marked[end]).fill_null(False)
    versions = marked.select(
        *layout.natural,
        *layout.attributes,
        **{T: marked[FIRST_SEEN], PRESENT: ~marked[is_deleted]},
        **{U: ibis.ifelse(marked[is_deleted], ibis.null("timestamp"), layout.began(marked))},
        **{ANCHOR: marked[layout.keys.surrogate], PRIORITY: STORED},
        _wk_until=ibis.ifelse(contiguous, marked._wk_next_seen, marked[end]),
    )
    gone = marked.filter(~contiguous & (marked[end] != END) & ~marked[is_deleted])
    gaps = gone.select(
        *layout.natural,
        **{c: ibis.null(gone[c].type()) for c in layout.attributes},
        **{T: gone[end], U: ibis.null("timestamp"), PRESENT: False},
        **{ANCHOR: ibis.null("int64"), PRIORITY: STORED},
        _wk_until=gone._wk_next_seen.fill_null(END),
    )
    return _conformed_union((versions, gaps))


def recorded_observations(
    layout: Layout, stored: ir.Table, samples: ir.Table | None = None, keys: ir.Table | None = None
) -> ir.Table:
    """The observations the stored versions stand for: where each began (carrying its
    surrogate key) and each gap; and, for full snapshots, what each of the members `keys`
    was at each of the `samples` times (snapshots applied before: each saw every member,
    there or not), so a late observation between two of them ends where the next was taken."""
    stretches = segments(layout, stored)
    found = stretches.drop("_wk_until")
    if samples is None or keys is None:
        return found
    times = keys.cross_join(samples.select(_wk_at=samples.snapshot_at))
    same = [times[c] == stretches[c] for c in layout.natural]
    during = [stretches[T] <= times._wk_at, times._wk_at < stretches._wk_until]
    covered = times.left_join(stretches, [*same, *during])
    sampled = covered.select(
        *[covered[c] for c in layout.natural],
        *[covered[c] for c in layout.attributes],
        **{T: covered._wk_at, U: covered[U], PRESENT: covered[PRESENT].fill_null(False)},
        **{ANCHOR: ibis.null("int64"), PRIORITY: SAMPLED},
    )
    return _conformed_union((found, sampled))


def combined(layout: Layout, *parts: ir.Table, again: bool = True) -> ir.Table:
    """All observations of the members, one per member and time: a new observation
    replaces a stored one at the same time (a snapshot taken `again`), keeping its key."""
    union = _conformed_union(parts)
    if not again:
        return union
    same = [*layout.natural, T]
    if not layout.by_check and not layout.snapshots:
        same.append(U)  # a batch may bring several updates of a member
    ranked = union.mutate(
        _wk_rank=ibis.row_number().over(group_by=same, order_by=ibis.desc(union[PRIORITY])),
        **{ANCHOR: union[ANCHOR].max().over(group_by=same)},
    )
    return ranked.filter(ranked._wk_rank == 0).drop("_wk_rank")


def _conformed_union(parts: tuple[ir.Table, ...]) -> ir.Table:
    first = parts[0]
    union = first
    for part in parts[1:]:
        union = union.union(part.select(**{c: part[c].cast(t) for c, t in first.schema().items()}))
    return union


# --- versions -------------------------------------------------------------------------------


def versions(layout: Layout, observed: ir.Table) -> ir.Table:
    """The members' versions, given all their observations; ``_wk_sk`` is the surrogate
    key of the stored version each continues, NULL for a new one."""
    order = ibis.window(group_by=layout.natural, order_by=[T, U])
    running = ibis.window(group_by=layout.natural, order_by=[T, U], rows=(None, 0))
    if not layout.by_check:
        observed = _first_seen_states(layout, observed)
    # Everything read from the observation before, in one pass.
    before = {"_wk_before": observed[PRESENT].lag().over(order)}
    if layout.by_check:
        before |= {f"_wk_was_{c}": observed[c].lag().over(order) for c in layout.tracked}
    else:  # the stretches of time between deletions
        before["_wk_stretch"] = ibis.ifelse(observed[PRESENT], 0, 1).sum().over(running)
    marked = observed.mutate(**before)
    marked = marked.mutate(_wk_event=_events(layout, marked))
    marked = marked.mutate(_wk_run=ibis.ifelse(marked._wk_event, 1, 0).sum().over(running))
    keys = marked.group_by([*layout.natural, "_wk_run"]).aggregate(**{SK: marked[ANCHOR].max()})
    events = marked.filter(marked._wk_event)
    events = events.join(keys, [*layout.natural, "_wk_run"]).select(*events.columns, SK)
    return _with_latest_type1(layout, _bounded(layout, events), observed)


def first_versions(layout: Layout, rows: ir.Table) -> ir.Table:
    """`versions` of members observed once each: one open-ended version from the
    beginning of time, first seen when observed (what `versions` gives them, at a
    fraction of its cost)."""
    start, end, is_current, is_deleted = layout.names
    return rows.select(
        ibis.null("int64").name(SK),
        *layout.natural,
        *layout.attributes,
        **{start: ibis.literal(BEGINNING), end: ibis.literal(END)},
        **{is_current: ibis.literal(True), is_deleted: ibis.literal(False)},
        **{FIRST_SEEN: seen_at(layout, rows)},
    )


def _first_seen_states(layout: Layout, observed: ir.Table) -> ir.Table:
    """updated_at: a state is its updated_at. Seen again with other attributes (a correction
    without a newer updated_at), it keeps those it was first seen with, so a member back
    with the updated_at it had is back as it was, whatever order its snapshots came in."""
    state = ibis.window(group_by=[*layout.natural, U], order_by=T)
    first = {c: observed[c].first(include_null=True).over(state) for c in layout.attributes}
    kept = {c: ibis.ifelse(observed[PRESENT], first[c], observed[c]) for c in layout.attributes}
    return observed.mutate(**kept)


def _events(layout: Layout, marked: ir.Table) -> ir.BooleanValue:
    """Where a version starts: a change, a member new or back, or (deletes) one gone."""
    before = marked._wk_before
    there = marked[PRESENT]
    arrives = before.isnull() | ~before
    if layout.by_check:
        differs = [~marked[c].identical_to(marked[f"_wk_was_{c}"]) for c in layout.tracked]
        changed = ibis.or_(*differs) if differs else ibis.literal(False)
    else:
        stretch = ibis.window(
            group_by=[*layout.natural, "_wk_stretch"], order_by=[T, U], rows=(None, -1)
        )
        newest = marked[U].max().over(stretch)
        changed = newest.isnull() | (marked[U] > newest)
    return (there & (arrives | changed)) | (~there & before.fill_null(False))


def _bounded(layout: Layout, events: ir.Table) -> ir.Table:
    """Validity bounds: each version ends where the next event begins."""
    start, end, is_current, is_deleted = layout.names
    order = ibis.window(group_by=layout.natural, order_by=[T, U])
    first = events._wk_run == 1  # the first event opens run 1 (absences before it, none)
    went = (~events[PRESENT]).lag().over(order).fill_null(False)
    went_at = events[T].lag().over(order)
    if layout.by_check or not layout.snapshots:
        began = events[T] if layout.by_check else events[U]
    else:
        # Never after the snapshot that shows it; a member back unchanged, when seen back.
        began = ibis.least(events[U], events[T])
        began = ibis.ifelse(went & (events[U] <= went_at), events[T], began)
    begins = ibis.ifelse(events[PRESENT], began, events[T])
    kept = {}
    if layout.options.deletes == "new_record":  # a version flagged deleted keeps what it had
        kept = {
            c: ibis.ifelse(events[PRESENT], events[c], events[c].lag().over(order))
            for c in layout.attributes
        }
    opened = events.mutate(**kept, **{start: ibis.ifelse(first, BEGINNING, begins)})
    ends = opened[start].lead().over(order)
    bounded = opened.mutate(
        **{end: ends.fill_null(END), is_current: ends.isnull(), is_deleted: ~opened[PRESENT]},
        **{FIRST_SEEN: opened[T]},
    )
    if layout.options.deletes != "new_record":
        bounded = bounded.filter(bounded[PRESENT])  # a deletion only ends the version before
    return bounded.select(
        SK, *layout.natural, *layout.attributes, start, end, is_current, is_deleted, FIRST_SEEN
    )


def _with_latest_type1(layout: Layout, opened: ir.Table, observed: ir.Table) -> ir.Table:
    """Type-1 columns of every version carry the member's latest observed values."""
    if not layout.options.type1:
        return opened
    there = observed.filter(observed[PRESENT])
    # updated_at: a row no newer than one seen before changes nothing, type-1 columns included.
    newest = [ibis.desc(T)] if layout.by_check else [ibis.desc(U), T]
    rank = ibis.row_number().over(group_by=layout.natural, order_by=newest)
    ranked = there.mutate(_wk_rank=rank)
    latest = ranked.filter(ranked._wk_rank == 0).select(
        *layout.natural, **{f"_wk_t1_{c}": ranked[c] for c in layout.options.type1}
    )
    joined = opened.left_join(latest, layout.natural)
    values = {c: joined[f"_wk_t1_{c}"] for c in layout.options.type1}
    return joined.mutate(**values).select(*opened.columns)


def numbered(layout: Layout, versions: ir.Table, last_key: int, run_id: str) -> ir.Table:
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


# --- the rules every dimension keeps ----------------------------------------------------------


def violations(layout: Layout, table: ir.Table) -> ir.Table:
    """Versions breaking the rules of a type-2 dimension, each with what is wrong:
    ``effective_from < effective_to``; no overlap; no gap but where ``invalidate``
    closed a deleted member; current means open-ended, at most one per member;
    the first version starts at the beginning of time; one row per surrogate key."""
    start, end, is_current, _ = layout.names
    surrogate = layout.keys.surrogate
    members = table.filter(table[surrogate] != UNKNOWN_KEY)
    order = ibis.window(group_by=layout.natural, order_by=[start, surrogate])
    marked = members.mutate(
        _wk_next=members[start].lead().over(order),
        _wk_first=ibis.row_number().over(order) == 0,
        _wk_copies=members[surrogate].count().over(ibis.window(group_by=surrogate)),
    )
    rules = [
        (marked[start] >= marked[end], "ends before it starts"),
        (marked._wk_next < marked[end], "overlaps the next version"),
        (marked[is_current] != (marked[end] == END), "is_current disagrees with effective_to"),
        (marked._wk_first & (marked[start] != BEGINNING), "the first version starts late"),
        (marked._wk_copies > 1, f"{surrogate} is not unique"),
    ]
    if layout.options.deletes != "invalidate":
        rules.append((marked._wk_next > marked[end], "leaves a gap before the next version"))
    problem = ibis.cases(*((rule.fill_null(False), text) for rule, text in rules), else_=None)
    found = marked.mutate(_wk_problem=problem)
    return found.filter(found._wk_problem.notnull()).select(
        *layout.natural, surrogate, start, end, is_current, problem=found._wk_problem
    )
