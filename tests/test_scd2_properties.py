"""Type-2 dimensions against a naive replay, over random sequences of batches (hypothesis).

Each example builds a fresh warehouse (DuckDB and PostgreSQL) and loads batches into
a customer dimension:

- check strategy: 2-5 full snapshots, at increasing times, of a few keys that appear,
  change (to and from NULL and the empty string), stay the same, disappear and come
  back; under each ``deletes`` mode, with and without a type-1 column;
- updated_at strategy: two batches in which a key may have several rows, some no
  newer than the key's current version (stale).

After every batch the dimension must:

- keep the invariants: surrogate keys unique, at most one current version per key,
  current means open-ended, versions that neither overlap nor leave gaps (except the
  deleted period under ``deletes: invalidate``), the first one starting at the
  beginning of time;
- keep the surrogate key of every version it already had;
- equal a replay of the batches computed naively in Python (`Replay`), version for
  version, and so also at any time T (the beginning of time, each batch's time, just
  before and just after it, the far future).

After the last batch, rerunning it must change nothing.

Settings: an example costs a few pipeline runs (0.3-0.5 s each), so the budget of
examples is small and there is no deadline. The examples are derandomized (their
seed comes from the test): CI and every machine try the same ones, so a failure
always reproduces and a green run means the same everywhere. Shrinking is off: at
that price it can take Hypothesis's full five minutes per failing test; the failing
example is printed as found (a few batches of at most five rows). To explore, set
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
from warehouse_kit.backends import connect
from warehouse_kit.runner import run

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
"""An input row: id, name, segment, city and as_of (when its state began)."""


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
    """Each key's versions, oldest first, following the documented semantics:

    - check strategy: a key's row is a change when a tracked column differs from the
      current version (Python's ``!=`` is NULL-safe: None == None, None != "");
    - a brand-new key's first version starts at the beginning of time; a later
      version starts when its change happened and ends the version before it;
    - type-1 columns hold the key's latest value on every version;
    - a key missing from a snapshot is left alone (``ignore``), has its current
      version ended (``invalidate``), or gets a current version flagged deleted,
      with the attributes it had (``new_record``); coming back is a change.
    """

    type1: tuple[str, ...] = ()
    deletes: str = "ignore"
    history: dict[int, list[Version]] = field(default_factory=dict)

    def current(self, key: int) -> Version | None:
        return next((v for v in self.history.get(key, []) if v.is_current), None)

    def open(
        self, key: int, attributes: dict[str, Any], at: datetime, deleted: bool = False
    ) -> None:
        versions = self.history.setdefault(key, [])
        start = at if versions else BEGINNING
        if (now := self.current(key)) is not None:
            now.valid_to = start
        versions.append(Version(dict(attributes), start, is_deleted=deleted))

    def overwrite_type1(self, key: int, row: Row) -> None:
        for version in self.history[key]:
            version.attributes.update({c: row[c] for c in self.type1})

    def snapshot(self, at: datetime, rows: list[Row]) -> None:
        """The check strategy: a full snapshot taken at `at`, one row per key."""
        tracked = [c for c in ATTRIBUTES if c not in self.type1]
        seen = {row["id"]: row for row in rows}
        for key, row in seen.items():
            now = self.current(key)
            if now is None or now.is_deleted or any(now.attributes[c] != row[c] for c in tracked):
                self.open(key, {c: row[c] for c in ATTRIBUTES}, at)
            self.overwrite_type1(key, row)
        for key in self.history.keys() - seen.keys():
            now = self.current(key)
            if now is None or now.is_deleted or self.deletes == "ignore":
                continue
            if self.deletes == "invalidate":
                now.valid_to = at
            else:
                self.open(key, now.attributes, at, deleted=True)

    def updates(self, rows: list[Row]) -> None:
        """The updated_at strategy: each row newer than the key's current version is a
        change that happened at its `as_of`; other rows are stale and ignored."""
        for row in sorted(rows, key=lambda r: r["as_of"]):
            now = self.current(row["id"])
            if now is None or row["as_of"] > now.attributes["as_of"]:
                self.open(row["id"], {c: row[c] for c in (*ATTRIBUTES, "as_of")}, row["as_of"])
                self.overwrite_type1(row["id"], row)

    def versions(self) -> dict[int, list[tuple]]:
        return {
            key: [
                (v.attributes, v.valid_from, v.valid_to, v.is_current, v.is_deleted)
                for v in versions
            ]
            for key, versions in self.history.items()
        }


# The warehouse: a throwaway project whose source is a Parquet file (so NULL and the
# empty string stay apart), one fresh warehouse per example.

PIPELINE = """
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
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("segment", pa.string()),
        ("city", pa.string()),
        ("as_of", pa.timestamp("us")),
    ]
)


@dataclass
class Dimension:
    root: Path
    target: str

    def load(self, rows: list[Row]) -> list[Row]:
        """Load a batch (a snapshot replacing the previous one) and return the dimension."""
        pq.write_table(pa.Table.from_pylist(rows, SCHEMA), self.root / "data/customers.parquet")
        return self.build()

    def build(self) -> list[Row]:
        """Run the pipeline on the batch in place and return the dimension's rows."""
        result = run(self.root, target=self.target)
        assert result.ok, result.failures()
        wh = connect(self.target)
        try:
            table = wh.table("dim_customer", "gold").order_by("customer_key")
            rows: list[Row] = table.to_pyarrow().to_pylist()
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


# What the warehouse holds, read back in the replay's terms.


def members(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row["customer_key"] != -1]


def versions(rows: list[Row], columns: tuple[str, ...] = ATTRIBUTES) -> dict[int, list[tuple]]:
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


def assert_invariants(rows: list[Row], *, gaps_allowed: bool) -> None:
    keys = [row["customer_key"] for row in rows]
    assert len(set(keys)) == len(keys), "surrogate keys are unique"
    [unknown] = [row for row in rows if row["customer_key"] == -1]
    assert (unknown["effective_from"], unknown["effective_to"], unknown["is_current"]) == (
        BEGINNING,
        END,
        True,
    )
    for key, history in versions(rows).items():
        assert history[0][1] == BEGINNING, f"key {key}: the first version starts at the beginning"
        assert sum(current for *_, current, _ in history) <= 1, f"key {key}: one current version"
        for _, start, end, current, _ in history:
            assert start < end, f"key {key}: an empty version"
            assert current == (end == END), f"key {key}: current means open-ended"
        for earlier, later in pairwise(history):
            assert earlier[2] <= later[1], f"key {key}: versions overlap"
            assert gaps_allowed or earlier[2] == later[1], f"key {key}: a gap between versions"


def assert_keys_kept(before: list[Row], after: list[Row]) -> None:
    """Every version keeps its surrogate key; new versions get keys never given out."""
    old = {(r["id"], r["effective_from"]): r["customer_key"] for r in members(before)}
    new = {(r["id"], r["effective_from"]): r["customer_key"] for r in members(after)}
    assert {version: new.get(version) for version in old} == old
    last = max(old.values(), default=0)
    assert all(key > last for version, key in new.items() if version not in old)


def moments(times: list[datetime]) -> list[datetime]:
    """The beginning of time, each batch's time, just before and after it, the far future."""
    minute = timedelta(minutes=1)
    return [BEGINNING, *(t + d for t in times for d in (-minute, 0 * minute, minute)), END - minute]


# The check strategy: full snapshots, each taken at its own (later) time.

attributes = st.fixed_dictionaries({c: st.sampled_from(VALUES[c]) for c in ATTRIBUTES})


@st.composite
def snapshot_sequences(draw: st.DrawFn) -> list[tuple[datetime, list[Row]]]:
    """2-5 snapshots, an hour to a month apart. In each, every key is there as it was
    last seen, there with (maybe) new attributes, or missing."""
    batches, last_seen = [], {}
    at = datetime(2024, 1, 1)
    for _ in range(draw(st.integers(2, 5))):
        at += timedelta(hours=draw(st.integers(1, 24 * 30)))
        snapshot = {}
        for key in KEYS:
            fate = draw(st.sampled_from(["as before", "changed", "missing"]))
            if fate != "missing":
                before = last_seen.get(key)
                snapshot[key] = before if fate == "as before" and before else draw(attributes)
        if not snapshot:  # the batch's time travels in its rows: a snapshot is never empty
            snapshot[KEYS[0]] = draw(attributes)
        last_seen.update(snapshot)
        batches.append((at, [{"id": k, **v, "as_of": at} for k, v in snapshot.items()]))
    return batches


def label_snapshots(batches: list[tuple[datetime, list[Row]]]) -> None:
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
        ever |= now.keys()
        previous = now


@pytest.mark.parametrize("deletes", ["ignore", "invalidate", "new_record"])
@budget(examples=4)
@given(batches=snapshot_sequences(), type1=st.sampled_from([("name",), ()]))
def test_check_strategy_matches_a_naive_replay_after_every_batch(
    warehouses, deletes, batches, type1
):
    label_snapshots(batches)
    options = (
        f"columns: [name, segment, city], type1: {list(type1)}, "
        f"strategy: check, changed_at: as_of, deletes: {deletes}"
    )
    replay = Replay(type1, deletes)
    times = [at for at, _ in batches]
    with fresh_dimension(warehouses, options) as dimension:
        rows: list[Row] = []
        for at, batch in batches:
            before, rows = rows, dimension.load(batch)
            replay.snapshot(at, batch)

            assert_invariants(rows, gaps_allowed=deletes == "invalidate")
            assert_keys_kept(before, rows)
            assert versions(rows) == replay.versions()
            for when in moments(times):
                assert valid_at(versions(rows), when) == valid_at(replay.versions(), when)

        assert dimension.build() == rows, "rerunning the last batch changes nothing"


# The updated_at strategy: a key's rows say when each of its states began.


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


def label_updates(batches: list[list[Row]]) -> None:
    """Label what the batches do, for ``--hypothesis-show-statistics``."""
    if any(len({row["id"] for row in batch}) < len(batch) for batch in batches):
        event("a key has several rows in a batch")
    first, second = batches
    newest: dict[int, datetime] = {}
    for row in first:
        newest[row["id"]] = max(newest.get(row["id"], BEGINNING), row["as_of"])
    stale = [row for row in second if row["as_of"] <= newest.get(row["id"], BEGINNING)]
    if stale:
        event("a stale row")
    if {row["id"] for row in stale} - {row["id"] for row in second if row not in stale}:
        event("a key with only stale rows")


STALE_NAME = [
    [update(1, 7, name="Alan", segment="Retail", city="Oslo")],
    [update(1, 2, name="Al", segment="Retail", city="Oslo")],  # older than the current version
]


@pytest.mark.parametrize(
    "type1",
    [
        pytest.param((), id="no-type1"),
        pytest.param(("name",), id="type1-name"),
    ],
)
@budget(examples=3)
@example(batches=STALE_NAME)
@given(batches=update_batches())
def test_updated_at_strategy_makes_versions_of_newer_rows_in_order(warehouses, type1, batches):
    label_updates(batches)
    options = (
        f"columns: [name, segment, city], type1: {list(type1)}, "
        "strategy: updated_at, updated_at: as_of"
    )
    replay = Replay(type1)
    columns = (*ATTRIBUTES, "as_of")
    times = sorted({row["as_of"] for batch in batches for row in batch})
    with fresh_dimension(warehouses, options) as dimension:
        rows: list[Row] = []
        for batch in batches:
            before, rows = rows, dimension.load(batch)
            replay.updates(batch)

            assert_invariants(rows, gaps_allowed=False)
            assert_keys_kept(before, rows)
            assert versions(rows, columns) == replay.versions()
            for when in moments(times):
                assert valid_at(versions(rows, columns), when) == valid_at(replay.versions(), when)

        assert dimension.build() == rows, "rerunning the last batch changes nothing"
