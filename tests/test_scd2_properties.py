"""Type-2 dimensions and their facts against a naive replay, over random snapshots (hypothesis).

Each example builds a fresh warehouse (DuckDB and PostgreSQL) from a throwaway project:
a customer dimension of type 2 and an incremental fact of sales that looks it up at each
sale's time. The dimension is fed 2-5 full snapshots of a few members that appear,
change (to and from NULL and the empty string), stay the same, disappear, come back
changed or unchanged; with the ``updated_at`` strategy several members change at the
same time, some change without a newer ``updated_at`` (no change, then), some carry an
``updated_at`` after the snapshot's own time. The snapshots arrive in a random order.

After every batch the dimension must:

- keep the rules: surrogate keys unique, at most one current version per member, current
  means open-ended, no empty version, versions that neither overlap nor leave gaps (but the
  deleted stretch under ``invalidate``), the first one starting at the beginning of time;
- give every version that did not change the surrogate key it had; new keys go on from
  the largest;
- equal `Replay`, the history computed naively in Python from the snapshots applied so
  far in the order they were taken (so the arrival order does not matter), version for
  version and so at any time T;
- have one fact per sale (rows in = rows out), each pointing to the version the replay
  says was valid when it happened (the current one for an unknown time, -1 for none).

Under ``deletes: ignore`` the input need not be a full snapshot, so a batch older than
the latest applied must be refused, naming it, and change nothing. After the last batch,
running again must change nothing.

Settings: an example costs a few pipeline runs (0.3-0.5 s each), so the budget of
examples is small and there is no deadline. The examples are derandomized (their seed
comes from the test): CI and every machine try the same ones, so a failure always
reproduces. Shrinking is off: at that price it can take Hypothesis's full five minutes
per failing test; the failing example is printed as found. To explore, set
``WK_SCD2_EXAMPLES=<n>``: n random examples per test, with shrinking.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import Phase, event, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from conftest import BACKENDS, fresh_postgres_database
from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import RunResult, run

BEGINNING, END = datetime(1900, 1, 1), datetime(9999, 12, 31)
KEYS = range(1, 6)
ATTRIBUTES = ("name", "segment", "city")
VALUES = {"name": ["Al", "Alan", None], "segment": ["Retail", "", None], "city": ["Oslo", None]}

_EXPLORE = int(os.environ.get("WK_SCD2_EXAMPLES", "0"))


def budget(examples: int) -> settings:
    """Hypothesis settings: see the module's docstring."""
    if _EXPLORE:
        return settings(max_examples=_EXPLORE, deadline=None)
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
    )


Row = dict[str, Any]
"""An input row: id, name, segment, city, as_of (when its state began: updated_at) and
taken (when its snapshot was taken)."""
Snapshot = tuple[datetime, list[Row]]


# The replay: what the dimension should hold, computed naively.


@dataclass
class Version:
    attributes: dict[str, Any]
    valid_from: datetime
    valid_to: datetime = END
    is_deleted: bool = False

    @property
    def is_current(self) -> bool:
        return self.valid_to == END


@dataclass
class Replay:
    """Each member's versions, oldest first, from snapshots applied in time order:

    - a brand-new member's first version starts at the beginning of time;
    - check strategy: a member's row is a change when a tracked column differs from its
      current version (Python's ``!=`` is NULL-safe: None == None, None != ""); the
      version starts when the snapshot was taken;
    - updated_at strategy: a change when its updated_at (``as_of``) is newer than the
      current version's; the version starts then, but (with deletes) never after the
      snapshot that shows it; a row no newer changes nothing, type-1 columns included,
      and a state (an updated_at) seen again keeps the attributes it was first seen with;
    - type-1 columns hold the member's latest values on every version;
    - a member missing from a snapshot is left alone (``ignore``), has its current
      version ended (``invalidate``), or gets a current version flagged deleted, with
      the attributes it had (``new_record``); coming back, changed or not, opens a new
      version: when it was seen back, or (updated_at) at a later updated_at.
    """

    strategy: str = "check"
    type1: tuple[str, ...] = ()
    deletes: str = "ignore"
    history: dict[int, list[Version]] = field(default_factory=dict)
    latest_type1: dict[int, dict[str, Any]] = field(default_factory=dict)
    went: dict[int, datetime] = field(default_factory=dict)
    first_seen: dict[tuple[int, datetime], dict[str, Any]] = field(default_factory=dict)
    """updated_at: each member's state by its updated_at, as first seen."""

    @property
    def columns(self) -> tuple[str, ...]:
        return ATTRIBUTES if self.strategy == "check" else (*ATTRIBUTES, "as_of")

    def current(self, key: int) -> Version | None:
        return next((v for v in self.history.get(key, []) if v.is_current), None)

    def open(self, key: int, attributes: dict[str, Any], at: datetime, deleted: bool = False):
        versions = self.history.setdefault(key, [])
        start = at if versions else BEGINNING
        if (now := self.current(key)) is not None:
            now.valid_to = start
        versions.append(Version(dict(attributes), start, is_deleted=deleted))

    def snapshot(self, at: datetime, rows: list[Row]) -> None:
        seen = {row["id"]: row for row in rows}
        for key, row in seen.items():
            if self.strategy == "check":
                self._check(key, row, at)
            else:
                self._updated_at(key, row, at)
        if self.deletes == "ignore":
            return
        for key in self.history.keys() - seen.keys():
            now = self.current(key)
            if now is None or now.is_deleted:
                continue
            self.went[key] = at
            if self.deletes == "invalidate":
                now.valid_to = at
            else:
                self.open(key, now.attributes, at, deleted=True)

    def _check(self, key: int, row: Row, at: datetime) -> None:
        tracked = [c for c in ATTRIBUTES if c not in self.type1]
        now = self.current(key)
        if now is None or now.is_deleted or any(now.attributes[c] != row[c] for c in tracked):
            self.open(key, {c: row[c] for c in self.columns}, at)
        self.latest_type1[key] = {c: row[c] for c in self.type1}

    def _updated_at(self, key: int, row: Row, at: datetime) -> None:
        now, began = self.current(key), row["as_of"]
        # A state seen again keeps the attributes it was first seen with.
        row = {**row, **self.first_seen.setdefault((key, began), dict(row))}
        row["id"] = key
        capped = min(began, at) if self.deletes != "ignore" else began
        if now is not None and not now.is_deleted:
            if began <= now.attributes["as_of"]:
                return  # no newer: nothing changes
            self.open(key, {c: row[c] for c in self.columns}, capped)
        else:
            went = self.went.get(key)
            back_unchanged = went is not None and began <= went
            self.open(key, {c: row[c] for c in self.columns}, at if back_unchanged else capped)
        newest = self.latest_type1.get(key, {}).get("as_of")
        if newest is None or began > newest:
            self.latest_type1[key] = {"as_of": began, **{c: row[c] for c in self.type1}}

    def versions(self) -> dict[int, list[tuple]]:
        found = {}
        for key, versions in self.history.items():
            type1 = {c: self.latest_type1[key][c] for c in self.type1}
            found[key] = [
                (
                    {**v.attributes, **type1},
                    v.valid_from,
                    v.valid_to,
                    v.is_current,
                    v.is_deleted,
                )
                for v in versions
            ]
        return found


def replayed(strategy: str, type1: tuple[str, ...], deletes: str, batches: list[Snapshot]):
    replay = Replay(strategy, type1, deletes)
    for at, rows in sorted(batches, key=lambda batch: batch[0]):
        replay.snapshot(at, rows)
    return replay


# The warehouse: a throwaway project whose sources are Parquet files (so NULL and the
# empty string stay apart), one fresh warehouse per example.

PIPELINE = """
pipeline:
  name: p
  sources:
    - {{name: crm, type: files, path: data, tables: [customers], load: replace}}
    - {{name: shop, type: files, path: data, tables: [sales], load: replace}}
  transformations:
    - stage: bronze
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {{op: create_dimensions, key: id, scd: 2, {options}}}
        - name: fact_sales
          from: sales
          incremental: {{unique_key: sale_id}}
          operations:
            - op: build_facts
              event_time: sold_at
              dimensions: [{{dimension: dim_customer, key: id}}]
"""
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("segment", pa.string()),
        ("city", pa.string()),
        ("as_of", pa.timestamp("us")),
        ("taken", pa.timestamp("us")),
    ]
)
SALES = pa.schema([("sale_id", pa.int64()), ("id", pa.int64()), ("sold_at", pa.timestamp("us"))])


@dataclass
class Dimension:
    root: Path
    target: str

    def load(self, rows: list[Row]) -> RunResult:
        """Land a batch (a snapshot replacing the previous one) and build."""
        pq.write_table(pa.Table.from_pylist(rows, SCHEMA), self.root / "data/customers.parquet")
        return run(self.root, target=self.target)

    def sales(self, rows: list[Row]) -> None:
        pq.write_table(pa.Table.from_pylist(rows, SALES), self.root / "data/sales.parquet")

    def read(self, name: str, order: str) -> list[Row]:
        wh = connect(self.target)
        try:
            rows: list[Row] = wh.table(name, "gold").order_by(order).to_pyarrow().to_pylist()
            return rows
        finally:
            wh.close()


Warehouses = Callable[[Path], str]
"""Gives the URL of an empty warehouse, given a scratch folder."""

USER_SCHEMAS = (
    "SELECT nspname FROM pg_namespace "
    "WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')"
)


@pytest.fixture(scope="module", params=BACKENDS)
def warehouses(request: pytest.FixtureRequest) -> Iterator[Warehouses]:
    """Empty warehouses, one per example: a new DuckDB file; or, as creating a database
    costs more than an example's runs, the module's PostgreSQL database with the
    schemas the previous example made dropped."""
    if request.param == "duckdb":
        yield lambda folder: f"duckdb:///{folder}/warehouse.duckdb"
        return

    def emptied(url: str) -> str:
        with psycopg.connect(url, autocommit=True) as con:
            for (schema,) in con.execute(USER_SCHEMAS).fetchall():
                con.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        return url

    with fresh_postgres_database() as url:
        yield lambda _: emptied(url)


@contextmanager
def fresh_dimension(warehouses: Warehouses, options: str) -> Iterator[Dimension]:
    """A new project, building the dimension with `options`, into an empty warehouse."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "data").mkdir()
        (root / "pipelines").mkdir()
        (root / "pipelines/p.yml").write_text(PIPELINE.format(options=options))
        yield Dimension(root, warehouses(root))


def options_for(strategy: str, type1: tuple[str, ...], deletes: str) -> str:
    if strategy == "check":
        shape = "columns: [name, segment, city], strategy: check"
    else:
        shape = "columns: [name, segment, city, as_of], strategy: updated_at, updated_at: as_of"
    return f"{shape}, changed_at: taken, type1: {list(type1)}, deletes: {deletes}"


# What the warehouse holds, read back in the replay's terms.


def members(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row["customer_key"] != -1]


def versions(rows: list[Row], columns: tuple[str, ...]) -> dict[int, list[tuple]]:
    found: dict[int, list[tuple]] = {}
    for row in sorted(members(rows), key=lambda r: (r["id"], r["effective_from"])):
        found.setdefault(row["id"], []).append(
            (
                {c: row[c] for c in columns},
                row["effective_from"],
                row["effective_to"],
                row["is_current"],
                row["is_deleted"],
            )
        )
    return found


def valid_at(by_key: dict[int, list[tuple]], when: datetime) -> dict[int, tuple]:
    """Each key's version valid at `when` (attributes, deleted?): valid_from <= when < valid_to."""
    state = {}
    for key, history in by_key.items():
        valid = [
            (attrs, deleted) for attrs, start, end, _, deleted in history if start <= when < end
        ]
        assert len(valid) <= 1, f"key {key}: {len(valid)} versions valid at {when}"
        if valid:
            state[key] = valid[0]
    return state


def assert_rules(rows: list[Row], *, gaps_allowed: bool, columns: tuple[str, ...]) -> None:
    keys = [row["customer_key"] for row in rows]
    assert len(set(keys)) == len(keys), "surrogate keys are unique"
    [unknown] = [row for row in rows if row["customer_key"] == -1]
    assert (unknown["effective_from"], unknown["effective_to"], unknown["is_current"]) == (
        BEGINNING,
        END,
        True,
    )
    for key, history in versions(rows, columns).items():
        assert history[0][1] == BEGINNING, f"key {key}: the first version starts at the beginning"
        assert sum(current for *_, current, _ in history) <= 1, f"key {key}: one current version"
        for _, start, end, current, _ in history:
            assert start < end, f"key {key}: an empty version"
            assert current == (end == END), f"key {key}: current means open-ended"
        for earlier, later in pairwise(history):
            assert earlier[2] <= later[1], f"key {key}: versions overlap"
            assert gaps_allowed or earlier[2] == later[1], f"key {key}: a gap between versions"


def assert_keys_kept(before: list[Row], after: list[Row]) -> None:
    """A version that did not change keeps its surrogate key; new ones go on from the last."""

    def identity(row: Row) -> tuple:
        return tuple(v for c, v in sorted(row.items()) if c not in ("customer_key", "_wk_run_id"))

    old = {identity(r): r["customer_key"] for r in members(before)}
    new = {identity(r): r["customer_key"] for r in members(after)}
    assert {version: new[version] for version in old if version in new} == {
        version: key for version, key in old.items() if version in new
    }
    last = max(old.values(), default=0)
    assert all(key > last for key in set(new.values()) - set(old.values()))


def moments(times: list[datetime]) -> list[datetime]:
    """The beginning of time, each batch's time, just before and after it, the far future."""
    minute = timedelta(minutes=1)
    return [BEGINNING, *(t + d for t in times for d in (-minute, 0 * minute, minute)), END - minute]


def expected_facts(
    replay: Replay, sales: list[Row], columns: tuple[str, ...]
) -> dict[int, tuple | int]:
    """Each sale's version per the replay: valid when it happened, current if unknown."""
    history = replay.versions()
    found: dict[int, tuple | int] = {}
    for sale in sales:
        candidates = [
            (attrs, start)
            for attrs, start, end, current, _ in history.get(sale["id"], [])
            if (current if sale["sold_at"] is None else start <= sale["sold_at"] < end)
        ]
        found[sale["sale_id"]] = (sale["id"], candidates[0][1]) if candidates else -1
    return found


def actual_facts(dimension: Dimension) -> dict[int, tuple | int]:
    rows = dimension.read("dim_customer", "customer_key")
    by_key = {row["customer_key"]: row for row in rows}
    facts = dimension.read("fact_sales", "sale_id")
    return {
        fact["sale_id"]: -1
        if fact["customer_key"] == -1
        else (by_key[fact["customer_key"]]["id"], by_key[fact["customer_key"]]["effective_from"])
        for fact in facts
    }


# The snapshots: each taken at its own time; arriving in any order.

attributes = st.fixed_dictionaries({c: st.sampled_from(VALUES[c]) for c in ATTRIBUTES})


@st.composite
def snapshot_sequences(draw: st.DrawFn) -> list[Snapshot]:
    """2-5 snapshots, an hour to a month apart. In each, every key is there as it was
    last seen, there with (maybe) new attributes and a newer updated_at, there with new
    attributes but the same updated_at, or missing. A change's updated_at is shortly after
    the snapshot before, the snapshot's own time, or (rarely) an hour after it; several
    keys often share one."""
    batches: list[Snapshot] = []
    last_seen: dict[int, Row] = {}
    at = datetime(2024, 1, 1)
    for _ in range(draw(st.integers(2, 5))):
        before, at = at, at + timedelta(hours=draw(st.integers(1, 24 * 30)))
        when = [before + timedelta(minutes=1), at, at + timedelta(hours=1)]
        snapshot = {}
        for key in KEYS:
            fate = draw(st.sampled_from(["as before", "changed", "corrected", "missing"]))
            old = last_seen.get(key)
            if fate == "missing" or (fate == "corrected" and old is None):
                continue
            if fate == "as before" and old is not None:
                snapshot[key] = old
                continue
            began = old["as_of"] if fate == "corrected" and old else draw(st.sampled_from(when))
            snapshot[key] = {"id": key, **draw(attributes), "as_of": began}
        if not snapshot:  # the snapshot's time travels in its rows: it is never empty
            snapshot[KEYS[0]] = {"id": KEYS[0], **draw(attributes), "as_of": at}
        last_seen.update(snapshot)
        rows = [{**row, "taken": at} for row in snapshot.values()]
        batches.append((at, rows))
    return batches


def sales_at(draw: st.DrawFn, batches: list[Snapshot]) -> list[Row]:
    """A few sales of known and unknown members, at the snapshots' times and between them,
    before the first, long after the last, and at an unknown time."""
    when = st.sampled_from([*moments([at for at, _ in batches]), None])
    members = st.sampled_from([*KEYS, 9])
    return [
        {"sale_id": i, "id": draw(members), "sold_at": draw(when)}
        for i in range(draw(st.integers(1, 8)))
    ]


Arrival = tuple[list[Snapshot], list[int], list[Row]]
"""Snapshots, the order they arrive in, and the sales."""


@st.composite
def arrivals(draw: st.DrawFn) -> Arrival:
    batches = draw(snapshot_sequences())
    order = draw(st.permutations(range(len(batches))))
    return batches, list(order), sales_at(draw, batches)


def label(batches: list[Snapshot], order: list[int]) -> None:
    """Label what the batches do, for ``--hypothesis-show-statistics``."""
    ever: set[int] = set()
    previous: dict[int, Row] = {}
    for _, rows in batches:
        now = {row["id"]: row for row in rows}
        if previous.keys() - now.keys():
            event("a key disappears")
        if (now.keys() & ever) - previous.keys():
            event("a key comes back")
        for key in now.keys() & previous.keys():
            changed = sorted(c for c in ATTRIBUTES if previous[key][c] != now[key][c])
            event(f"a key changes: {', '.join(changed) or 'nothing'}")
            if any({previous[key][c], now[key][c]} == {None, ""} for c in ATTRIBUTES):
                event("a change between NULL and ''")
            if changed and previous[key]["as_of"] == now[key]["as_of"]:
                event("a change without a newer updated_at")
        ever |= now.keys()
        previous = now
    if order != sorted(order):
        event("snapshots arrive out of order")


def customer(key: int, name: str, segment: str | None) -> Row:
    return {"id": key, "name": name, "segment": segment, "city": None}


def snapshot(taken: datetime, *rows: Row) -> Snapshot:
    return taken, [{**row, "as_of": datetime(2023, 12, 1), "taken": taken} for row in rows]


JAN, FEB, MAR = datetime(2024, 1, 1), datetime(2024, 2, 1), datetime(2024, 3, 1)
BACK_UNCHANGED: Arrival = (  # Bo goes and comes back unchanged; the last snapshot comes first
    [
        snapshot(JAN, customer(1, "Al", "Retail"), customer(2, "Bo", "")),
        snapshot(FEB, customer(1, "Al", "Retail")),
        snapshot(MAR, customer(1, "Al", "SMB"), customer(2, "Bo", "")),
    ],
    [2, 0, 1],
    [{"sale_id": 1, "id": 2, "sold_at": datetime(2024, 2, 15)}],
)


def later(taken: datetime, *rows: Row) -> Snapshot:
    return taken, [{**row, "as_of": datetime(2024, 1, 1), "taken": taken} for row in rows]


BACK_CORRECTED: Arrival = (  # Al, gone in February, is back in March with the updated_at he
    [  # had and other attributes (a correction): back as he was; February arrives last
        later(JAN, customer(1, "Al", "Retail")),
        later(FEB, customer(2, "Bo", "")),
        later(MAR, customer(1, "Alan", None), customer(2, "Bo", "")),
    ],
    [0, 2, 1],
    [{"sale_id": 1, "id": 1, "sold_at": datetime(2024, 3, 15)}],
)


@pytest.mark.parametrize("deletes", ["invalidate", "new_record"])
@pytest.mark.parametrize("strategy", ["check", "updated_at"])
@budget(examples=1)
@example(arrived=BACK_UNCHANGED, type1=("name",))
@example(arrived=BACK_CORRECTED, type1=())
@given(arrived=arrivals(), type1=st.sampled_from([("name",), ()]))
def test_full_snapshots_give_the_history_of_their_time_order_whatever_their_arrival(
    warehouses, strategy, deletes, arrived, type1
):
    batches, order, sales = arrived
    label(batches, order)
    columns = ATTRIBUTES if strategy == "check" else (*ATTRIBUTES, "as_of")
    times = [at for at, _ in batches]
    with fresh_dimension(warehouses, options_for(strategy, type1, deletes)) as dimension:
        dimension.sales(sales)
        rows: list[Row] = []
        applied: list[Snapshot] = []
        for index in order:
            result = dimension.load(batches[index][1])
            assert result.ok, [failure.error for failure in result.failures()]
            applied.append(batches[index])
            before, rows = rows, dimension.read("dim_customer", "customer_key")
            replay = replayed(strategy, type1, deletes, applied)

            assert_rules(rows, gaps_allowed=deletes == "invalidate", columns=columns)
            assert_keys_kept(before, rows)
            assert versions(rows, columns) == replay.versions()
            for when in moments(times):
                assert valid_at(versions(rows, columns), when) == valid_at(replay.versions(), when)
            assert actual_facts(dimension) == expected_facts(replay, sales, columns)

        facts = dimension.read("fact_sales", "sale_id")
        assert dimension.load(batches[order[-1]][1]).ok
        assert dimension.read("dim_customer", "customer_key") == rows, "a rerun changes nothing"
        assert dimension.read("fact_sales", "sale_id") == facts


@pytest.mark.parametrize("strategy", ["check", "updated_at"])
@budget(examples=2)
@given(arrived=arrivals(), type1=st.sampled_from([("name",), ()]))
def test_without_full_snapshots_batches_apply_in_time_order_and_late_ones_are_refused(
    warehouses, strategy, arrived, type1
):
    batches, order, sales = arrived
    label(batches, order)
    columns = ATTRIBUTES if strategy == "check" else (*ATTRIBUTES, "as_of")
    with fresh_dimension(warehouses, options_for(strategy, type1, "ignore")) as dimension:
        dimension.sales(sales)
        rows: list[Row] = []
        applied: list[Snapshot] = []
        for index in order:
            at, batch = batches[index]
            result = dimension.load(batch)
            if applied and at < max(t for t, _ in applied):
                [failure] = result.failures()
                assert f"a snapshot of {at}, is older than the latest one" in failure.error
                assert dimension.read("dim_customer", "customer_key") == rows
                continue
            assert result.ok, [failure.error for failure in result.failures()]
            applied.append(batches[index])
            before, rows = rows, dimension.read("dim_customer", "customer_key")
            replay = replayed(strategy, type1, "ignore", applied)

            assert_rules(rows, gaps_allowed=False, columns=columns)
            assert_keys_kept(before, rows)
            assert versions(rows, columns) == replay.versions()
            assert actual_facts(dimension) == expected_facts(replay, sales, columns)


# The updated_at strategy without deletes: a key's rows say when each of its states began,
# several per batch; batches dated by when they were loaded.

UPDATES = """
pipeline:
  name: p
  sources:
    - {{name: crm, type: files, path: data, tables: [customers], load: replace}}
  transformations:
    - stage: bronze
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations:
            - {{op: create_dimensions, key: id, scd: 2, {options}}}
"""


def update(key: int, day: int, **values: Any) -> Row:
    return {"id": key, **values, "as_of": datetime(2024, 1, 1) + timedelta(days=day)}


@st.composite
def update_batches(draw: st.DrawFn) -> list[list[Row]]:
    """Two batches over keys 1-3: the first builds the dimension, the second is merged
    into it. A key has 0-3 rows at distinct days of one week, so a batch often has
    several changes of a key, and the second often has rows older than (or as old as)
    the first's."""
    batches = []
    for _ in range(2):
        days = st.lists(st.integers(0, 6), max_size=3, unique=True)
        rows = [update(key, day, **draw(attributes)) for key in (1, 2, 3) for day in draw(days)]
        batches.append(rows or [update(1, 0, **draw(attributes))])
    return batches


STALE_NAME = [
    [update(1, 7, name="Alan", segment="Retail", city="Oslo")],
    [update(1, 2, name="Al", segment="Retail", city="Oslo")],  # older than the current version
]


def updates(replay: Replay, rows: list[Row]) -> None:
    """Each row newer than its key's current version is a change that happened at its
    `as_of`; other rows are stale and ignored."""
    for row in sorted(rows, key=lambda r: r["as_of"]):
        now = replay.current(row["id"])
        if now is None or row["as_of"] > now.attributes["as_of"]:
            replay.open(row["id"], {c: row[c] for c in (*ATTRIBUTES, "as_of")}, row["as_of"])
            replay.latest_type1[row["id"]] = {c: row[c] for c in replay.type1}


@pytest.mark.parametrize(
    "type1",
    [
        pytest.param((), id="no-type1"),
        pytest.param(("name",), id="type1-name"),
    ],
)
@budget(examples=2)
@example(batches=STALE_NAME)
@given(batches=update_batches())
def test_updated_at_strategy_makes_versions_of_newer_rows_in_order(warehouses, type1, batches):
    options = (
        f"columns: [name, segment, city], type1: {list(type1)}, "
        "strategy: updated_at, updated_at: as_of"
    )
    replay = Replay("updated_at", type1)
    columns = (*ATTRIBUTES, "as_of")
    times = sorted({row["as_of"] for batch in batches for row in batch})
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "data").mkdir()
        (root / "pipelines").mkdir()
        (root / "pipelines/p.yml").write_text(UPDATES.format(options=options))
        dimension = Dimension(root, warehouses(root))
        rows: list[Row] = []
        for batch in batches:
            full = [{**row, "taken": None} for row in batch]
            assert dimension.load(full).ok
            before, rows = rows, dimension.read("dim_customer", "customer_key")
            updates(replay, batch)

            assert_rules(rows, gaps_allowed=False, columns=columns)
            assert_keys_kept(before, rows)
            assert versions(rows, columns) == replay.versions()
            for when in moments(times):
                assert valid_at(versions(rows, columns), when) == valid_at(replay.versions(), when)

        assert dimension.load(full).ok
        assert dimension.read("dim_customer", "customer_key") == rows, "a rerun changes nothing"
