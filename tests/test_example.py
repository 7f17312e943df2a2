"""The example warehouse the repository builds from its seeds, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
from itertools import pairwise
from pathlib import Path

import pytest

from warehouse_kit.core.backends import connect
from warehouse_kit.core.runner import run

REPO_ROOT = Path(__file__).resolve().parent.parent

GOLD = ["dim_customer", "dim_product", "dim_date", "fact_orders", "mart_monthly_sales"]


def checksum(target: str, schema: str, name: str) -> str:
    """A digest of a table's rows, independent of their physical order."""
    wh = connect(target)
    try:
        table = wh.table(name, schema)
        rows = table.order_by(list(table.columns)).to_pyarrow().to_pylist()
    finally:
        wh.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def profile(target: str, name: str) -> dict[str, float]:
    """Row count, and per column the non-null count and (for numbers) the sum."""
    wh = connect(target)
    try:
        table = wh.table(name, "gold")
        measures = {"rows": table.count()}
        for column, dtype in table.schema().items():
            measures[f"{column}.count"] = table[column].count()
            if dtype.is_numeric():
                measures[f"{column}.sum"] = table[column].sum().cast("float64")
            if dtype.is_boolean():
                measures[f"{column}.true"] = table[column].cast("int32").sum()
        row = wh.con.execute(table.aggregate(**measures)).iloc[0].to_dict()
    finally:
        wh.close()
    return {key: round(float(value), 4) for key, value in row.items()}


@pytest.fixture(scope="module")
def duckdb_warehouse(tmp_path_factory: pytest.TempPathFactory) -> str:
    target = f"duckdb:///{tmp_path_factory.mktemp('example')}/warehouse.duckdb"
    assert run(REPO_ROOT, target=target).ok
    return target


def test_the_example_builds_every_gold_table(duckdb_warehouse):
    wh = connect(duckdb_warehouse)
    try:
        assert set(GOLD) <= set(wh.con.list_tables(database="gold"))
        facts = wh.table("fact_orders", "gold")
        lines = wh.table("order_lines", "silver")
        assert facts.count().execute() == lines.count().execute() > 1000
        assert facts.quantity.min().execute() > 0  # negative quantities do not reach the facts
        # Money stays a 64-bit decimal, as DuckDB's own arithmetic types it (128 bits is slower).
        assert facts.schema()["amount"].precision <= 18
    finally:
        wh.close()


def test_the_dirt_in_the_seeds_is_cleaned(duckdb_warehouse):
    wh = connect(duckdb_warehouse)
    try:
        bronze = wh.table("customers", "bronze")
        silver = wh.table("customers", "silver")
        assert bronze.count().execute() > silver.count().execute()  # duplicates and null keys
        assert silver.customer_id.isnull().sum().execute() == 0
        assert silver.customer_id.nunique().execute() == silver.count().execute()
        assert (silver.segment != silver.segment.strip()).sum().execute() == 0
        quarantined = wh.table("customers__quarantine", "silver")  # bad emails, set aside
        assert quarantined.count().execute() > 0
        assert set(quarantined.columns) >= {*silver.columns, "_wk_failed_checks", "_wk_run_id"}
        orders = wh.table("orders", "silver")
        assert orders.order_date.isnull().sum().execute() > 0  # unparseable dates became NULL
        facts = wh.table("fact_orders", "gold")
        assert (facts.date_key == -1).sum().execute() > 0  # and point to the unknown day
        assert (facts.customer_key == -1).sum().execute() > 0  # orders without a known customer
    finally:
        wh.close()


def test_a_second_run_leaves_every_gold_table_identical(duckdb_warehouse):
    before = {name: checksum(duckdb_warehouse, "gold", name) for name in GOLD}
    assert run(REPO_ROOT, target=duckdb_warehouse).ok
    after = {name: checksum(duckdb_warehouse, "gold", name) for name in GOLD}
    assert after == before


def test_the_history_shows_rows_in_and_out_of_each_model(duckdb_warehouse):
    wh = connect(duckdb_warehouse)
    try:
        steps = wh.table("model_runs", "_wk")
        first = steps.run_id.min().execute()
        rows = steps.filter(steps.run_id == first).to_pyarrow().to_pylist()
    finally:
        wh.close()
    by_model = {row["model"]: row for row in rows}
    assert len(by_model) == 18  # 14 of the retail pipeline, 4 of the experiments
    assert all(row["status"] == "success" and row["rows_out"] > 0 for row in rows)
    assert by_model["silver.customers"]["rows_in"] > by_model["silver.customers"]["rows_out"]


@pytest.mark.postgres
def test_postgres_builds_the_same_gold_tables(duckdb_warehouse, postgres_url):
    assert run(REPO_ROOT, target=postgres_url).ok
    for name in GOLD:
        assert profile(postgres_url, name) == profile(duckdb_warehouse, name), name


def test_the_example_seeds_are_in_the_repository():
    seeds = sorted(path.name for path in (REPO_ROOT / "seeds").glob("*_seed.csv"))
    assert seeds == [
        "customers_seed.csv",
        "order_items_seed.csv",
        "orders_seed.csv",
        "products_seed.csv",
    ]


def build_two_batches(target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(REPO_ROOT, target=target).ok
    monkeypatch.setenv("WK_SEEDS", "seeds/batch2")
    assert run(REPO_ROOT, target=target).ok


@pytest.fixture(scope="module")
def two_batches(tmp_path_factory: pytest.TempPathFactory) -> str:
    target = f"duckdb:///{tmp_path_factory.mktemp('batches')}/warehouse.duckdb"
    with pytest.MonkeyPatch.context() as monkeypatch:
        build_two_batches(target, monkeypatch)
    return target


def test_the_second_batch_adds_history_to_the_dimensions(two_batches):
    wh = connect(two_batches)
    try:
        customers = wh.table("dim_customer", "gold")
        members = customers.filter(customers.customer_key != -1)
        versions = members.group_by("customer_id").aggregate(n=members.count())
        # 31 customers moved in batch 2; one of them has a bad email and waits in quarantine.
        assert wh.scalar(versions.filter(versions.n > 1).count()) == 30
        quarantined = wh.scalar(wh.table("customers__quarantine", "silver").customer_id.nunique())
        current = wh.scalar(customers.filter(customers.is_current).count())
        assert current + quarantined == 313 + 1  # and the unknown member
        products = wh.table("dim_product", "gold")
        deleted = wh.rows(products.filter(products.is_deleted).select("product_id", "is_current"))
        assert deleted == [{"product_id": 11, "is_current": True}]
        repriced = products.filter(products.product_id.isin([9, 10, 13]))
        assert wh.scalar(repriced.unit_price.nunique()) == 6  # an old and a new price each
    finally:
        wh.close()


def test_facts_of_the_second_batch_point_to_the_versions_valid_on_their_dates(two_batches):
    wh = connect(two_batches)
    try:
        facts = wh.table("fact_orders", "gold")
        customers = wh.table("dim_customer", "gold")
        joined = facts.join(customers, "customer_key").join(
            wh.table("dim_date", "gold"), "date_key"
        )
        on_date = joined.filter(
            (joined.date.cast("timestamp") < joined.effective_from)
            | (joined.date.cast("timestamp") >= joined.effective_to)
        )
        assert wh.scalar(on_date.count()) == 0  # no fact outside its version's validity
        late = facts.filter(facts.order_id.isin([1233, 1243]))
        assert wh.scalar(late.count()) > 0
        assert wh.scalar(facts.count()) == wh.scalar(wh.table("order_lines", "silver").count())
        waiting = facts.filter(facts.order_id.isin([1206, 1316]))  # customers not sent yet
        assert {row["customer_key"] for row in wh.rows(waiting.select("customer_key"))} == {-1}
    finally:
        wh.close()


@pytest.mark.postgres
def test_postgres_builds_the_same_history_from_two_batches(two_batches, postgres_url, monkeypatch):
    build_two_batches(postgres_url, monkeypatch)
    for name in GOLD:
        assert profile(postgres_url, name) == profile(two_batches, name), name


def test_batches_in_another_order_restore_every_member_the_last_snapshot_holds(
    tmp_path, monkeypatch
):
    """The README's batches in another order (issue 13): batch 2 into an empty warehouse,
    then batch 1, then batch 2 again. The files say nothing of when they were exported, so
    each counts from when it was loaded: batch 1 is the newer snapshot when it comes second.
    At the end, what batch 2 holds is current and live; only product 11, which batch 2
    dropped, is current and flagged deleted."""
    target = f"duckdb:///{tmp_path}/warehouse.duckdb"
    for seeds in ("seeds/batch2", "seeds", "seeds/batch2"):
        monkeypatch.setenv("WK_SEEDS", seeds)
        result = run(REPO_ROOT, target=target)
        assert result.ok, [failure.error for failure in result.failures()]
    wh = connect(target)
    try:
        products = wh.table("dim_product", "gold")
        rows = wh.rows(products.filter(products.product_key != -1).order_by("effective_from"))
    finally:
        wh.close()
    history: dict[int, list[dict]] = {}
    for row in rows:
        history.setdefault(row["product_id"], []).append(row)
    current = {key: versions[-1] for key, versions in history.items()}
    assert {key for key, v in current.items() if v["is_deleted"]} == {11}
    assert all(v["is_current"] for v in current.values())
    for versions in history.values():
        assert all(v["effective_from"] < v["effective_to"] for v in versions)
        assert all(a["effective_to"] == b["effective_from"] for a, b in pairwise(versions))
    assert [v["is_deleted"] for v in history[31]] == [False, True, False]  # gone in batch 1
