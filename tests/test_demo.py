"""The demo seed generator: deterministic, streaming, and dirty on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import wk
from warehouse_kit.demo import generate, generate_changes

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

COLUMNS = {
    "customers": [
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "segment",
        "city",
        "country",
        "signup_date",
        "updated_at",
    ],
    "products": ["product_id", "product_name", "category", "unit_price", "updated_at"],
    "orders": ["order_id", "customer_id", "order_date", "status", "channel"],
    "order_items": [
        "order_item_id",
        "order_id",
        "product_id",
        "quantity",
        "unit_price",
        "discount",
    ],
}


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A generated set large enough to show every kind of dirt several times."""
    folder = tmp_path_factory.mktemp("demo")
    return folder, generate(folder, orders=5000, seed=42)


@pytest.fixture(scope="module")
def con(demo: tuple[Path, dict[str, int]]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The generated CSVs as text-only views: customers, products, orders, order_items."""
    folder, _ = demo
    with duckdb.connect() as con:
        for table in COLUMNS:
            csv = con.read_csv(str(folder / f"{table}_seed.csv"), header=True, all_varchar=True)
            csv.create_view(table)
        yield con


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.sql(sql).fetchone()
    assert row is not None
    return row[0]


def values(con: duckdb.DuckDBPyConnection, expression: str, table: str) -> set[Any]:
    return {row[0] for row in con.sql(f"SELECT DISTINCT {expression} FROM {table}").fetchall()}


# Determinism


def test_the_same_orders_and_seed_give_byte_identical_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", orders=2000, seed=7)
    generate(tmp_path / "b", orders=2000, seed=7)
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_another_seed_gives_other_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", orders=2000, seed=7)
    generate(tmp_path / "b", orders=2000, seed=8)
    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first)


def test_the_number_of_threads_does_not_change_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = duckdb.connect
    for threads in (1, 4):
        monkeypatch.setattr(
            duckdb, "connect", lambda threads=threads: real_connect(config={"threads": threads})
        )
        generate(tmp_path / str(threads), orders=60_000, seed=3)
    assert files(tmp_path / "1") == files(tmp_path / "4")


def test_the_committed_seeds_are_what_generate_writes(tmp_path: Path) -> None:
    generate(tmp_path, orders=1200, seed=42)
    fresh = files(tmp_path)
    assert {name: (SEEDS / name).read_bytes() for name in fresh} == fresh


# Shape


def test_it_writes_four_csv_files_with_exactly_the_pipeline_columns(
    demo: tuple[Path, dict[str, int]],
) -> None:
    folder, _ = demo
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        f"{table}_seed.csv" for table in COLUMNS
    )
    for table, columns in COLUMNS.items():
        header = (folder / f"{table}_seed.csv").read_text().splitlines()[0]
        assert header.split(",") == columns


def test_the_returned_counts_are_the_rows_in_the_files(
    demo: tuple[Path, dict[str, int]], con: duckdb.DuckDBPyConnection
) -> None:
    _, written = demo
    assert written == {table: one(con, f"SELECT count(*) FROM {table}") for table in COLUMNS}


def test_table_sizes_follow_the_number_of_orders(demo: tuple[Path, dict[str, int]]) -> None:
    _, written = demo
    # Duplicated rows come on top of the clean ones.
    assert 5000 <= written["orders"] <= 5000 * 1.02
    assert 1250 <= written["customers"] <= 1250 * 1.05
    assert 125 <= written["products"] <= 125 * 1.05
    assert 2.4 * 5000 <= written["order_items"] <= 2.7 * 5000


def test_small_order_counts_still_get_50_customers_and_20_products(tmp_path: Path) -> None:
    written = generate(tmp_path, orders=0)
    assert written["orders"] == written["order_items"] == 0
    assert written["customers"] >= 50
    assert written["products"] >= 20


def test_each_order_has_one_to_five_lines(con: duckdb.DuckDBPyConnection) -> None:
    lines = "SELECT order_id, count(DISTINCT order_item_id) AS n FROM order_items GROUP BY 1"
    assert con.sql(f"SELECT min(n), max(n) FROM ({lines})").fetchone() == (1, 5)


@pytest.mark.parametrize("bad", [-1, 2**63, 1.5, "10", True])
def test_orders_and_seed_must_be_small_non_negative_integers(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="integer"):
        generate(tmp_path, orders=bad)
    with pytest.raises(ValueError, match="integer"):
        generate(tmp_path, orders=10, seed=bad)


# Clean values


def test_clean_values_stay_in_their_domains(con: duckdb.DuckDBPyConnection) -> None:
    assert values(con, "trim(segment)", "customers") == {"Consumer", "Small Business", "Enterprise"}
    assert one(con, "SELECT min(signup_date) >= '2022-01-01' FROM customers")
    assert one(con, "SELECT max(signup_date) <= '2024-06-30' FROM customers")
    assert one(con, "SELECT bool_and(updated_at::TIMESTAMP >= signup_date::DATE) FROM customers")
    assert one(con, "SELECT count(DISTINCT trim(category)) FROM products") == 6
    assert one(con, "SELECT min(unit_price::DECIMAL(10, 2)) >= 2 FROM products")
    assert one(con, "SELECT max(unit_price::DECIMAL(10, 2)) <= 500 FROM products")
    assert values(con, "status", "orders") == {"completed", "shipped", "cancelled", "returned"}
    assert one(con, "SELECT mode(status) FROM orders") == "completed"
    assert values(con, "channel", "orders") == {"web", "mobile", "store"}
    dates = "SELECT try_strptime(order_date, '%Y-%m-%d')::DATE AS day FROM orders"
    assert con.sql(f"SELECT min(day), max(day) FROM ({dates})").fetchone() == (
        date(2023, 1, 1),
        date(2024, 12, 31),
    )
    assert one(con, "SELECT max(abs(quantity::INTEGER)) FROM order_items") == 10
    assert one(con, "SELECT min(abs(quantity::INTEGER)) FROM order_items") == 1
    assert values(con, "discount", "order_items") == {"0.00", "0.05", "0.10", "0.15"}
    assert one(con, "SELECT mode(discount) FROM order_items") == "0.00"


def test_an_order_line_has_the_first_price_of_its_product(
    con: duckdb.DuckDBPyConnection,
) -> None:
    first_price = "SELECT product_id, first(unit_price) AS price FROM products GROUP BY 1"
    mismatches = f"""
        SELECT count(*) FROM order_items JOIN ({first_price}) AS p USING (product_id)
        WHERE order_items.unit_price != p.price
    """
    assert one(con, mismatches) == 0


def test_a_clean_email_is_first_dot_last_id_at_example_com(
    con: duckdb.DuckDBPyConnection,
) -> None:
    email = "lower(trim(first_name) || '.' || trim(last_name) || customer_id || '@example.com')"
    share = f"SELECT avg((email = {email})::INTEGER) FROM customers"
    assert one(con, share) > 0.95


# Dirt: each kind is there, at about its rate


def share(con: duckdb.DuckDBPyConnection, table: str, condition: str) -> float:
    rate: float = one(con, f"SELECT avg(({condition})::INTEGER) FROM {table}")
    return rate


def test_some_customer_ids_appear_twice_with_a_later_update(
    con: duckdb.DuckDBPyConnection,
) -> None:
    twice = """
        SELECT customer_id, count(*) AS n, count(DISTINCT updated_at) AS updates,
            count(DISTINCT (segment, city)) AS versions
        FROM customers WHERE customer_id IS NOT NULL GROUP BY 1 HAVING n > 1
    """
    assert 0.01 < one(con, f"SELECT count(*) FROM ({twice})") / 1250 < 0.03
    assert one(con, f"SELECT bool_and(updates = 2 AND versions = 2) FROM ({twice})")


def test_some_customers_have_no_id(con: duckdb.DuckDBPyConnection) -> None:
    assert 0.002 < share(con, "customers", "customer_id IS NULL") < 0.01


def test_some_emails_are_bad(con: duckdb.DuckDBPyConnection) -> None:
    bad = "email IS NULL OR email = 'n/a' OR email NOT LIKE '%@%' OR email LIKE '%@@%'"
    assert 0.02 < share(con, "customers", bad) < 0.045
    kinds = f"""
        SELECT count(*) FILTER (email IS NULL), count(*) FILTER (email = 'n/a'),
            count(*) FILTER (email NOT LIKE '%@%' AND email != 'n/a'),
            count(*) FILTER (email LIKE '%..%@@example')
        FROM customers WHERE {bad}
    """
    assert all(count > 0 for count in con.sql(kinds).fetchall()[0])


def test_some_customer_names_cities_and_segments_have_stray_spaces(
    con: duckdb.DuckDBPyConnection,
) -> None:
    fields = ["first_name", "last_name", "city", "segment"]
    spaced = " OR ".join(f"{field} != trim({field})" for field in fields)
    assert 0.03 < share(con, "customers", spaced) < 0.07
    for field in fields:
        assert share(con, "customers", f"{field} != trim({field})") > 0


def test_some_product_ids_appear_twice_with_a_later_update_and_new_price(
    con: duckdb.DuckDBPyConnection,
) -> None:
    twice = """
        SELECT product_id FROM products GROUP BY 1
        HAVING count(*) = 2 AND count(DISTINCT updated_at) = 2
            AND count(DISTINCT unit_price) = 2
    """
    assert one(con, f"SELECT count(*) FROM ({twice})") >= 1
    assert one(con, "SELECT count(*) - count(DISTINCT product_id) FROM products") == one(
        con, f"SELECT count(*) FROM ({twice})"
    )


def test_some_categories_have_stray_spaces(con: duckdb.DuckDBPyConnection) -> None:
    assert share(con, "products", "category != trim(category)") > 0


def test_some_order_dates_cannot_be_parsed(con: duckdb.DuckDBPyConnection) -> None:
    unparseable = "try_strptime(order_date, '%Y-%m-%d') IS NULL"
    assert 0.005 < share(con, "orders", unparseable) < 0.02
    assert share(con, "orders", "order_date IS NULL") > 0
    assert share(con, "orders", "order_date = 'unknown'") > 0


def test_some_orders_have_no_customer_id(con: duckdb.DuckDBPyConnection) -> None:
    assert 0.002 < share(con, "orders", "customer_id IS NULL") < 0.01


def test_some_orders_are_sent_twice_as_exact_duplicates(con: duckdb.DuckDBPyConnection) -> None:
    extra = one(con, "SELECT count(*) FROM orders") - one(
        con, "SELECT count(*) FROM (SELECT DISTINCT * FROM orders)"
    )
    assert 0.002 < extra / 5000 < 0.01
    assert one(con, "SELECT count(*) - count(DISTINCT order_id) FROM orders") == extra


def test_some_orders_refer_to_no_customer(con: duckdb.DuckDBPyConnection) -> None:
    unknown = "customer_id::INTEGER > (SELECT max(customer_id::INTEGER) FROM customers)"
    assert 0.001 < share(con, "orders", unknown) < 0.008


def test_some_order_lines_have_negative_quantities(con: duckdb.DuckDBPyConnection) -> None:
    assert 0.005 < share(con, "order_items", "quantity::INTEGER < 0") < 0.02


def test_some_order_lines_are_sent_twice(con: duckdb.DuckDBPyConnection) -> None:
    extra = one(con, "SELECT count(*) - count(DISTINCT order_item_id) FROM order_items")
    assert 0.002 < extra / one(con, "SELECT count(*) FROM order_items") < 0.01


def test_some_order_lines_refer_to_no_product(con: duckdb.DuckDBPyConnection) -> None:
    unknown = "product_id NOT IN (SELECT product_id FROM products)"
    assert 0 < share(con, "order_items", unknown) < 0.005


def test_even_a_table_of_20_rows_shows_every_kind_of_dirt(tmp_path: Path) -> None:
    generate(tmp_path, orders=0)
    con = duckdb.connect()
    csv = con.read_csv(str(tmp_path / "products_seed.csv"), header=True, all_varchar=True)
    csv.create_view("products")
    assert one(con, "SELECT count(*) - count(DISTINCT product_id) FROM products") >= 1
    assert one(con, "SELECT count(*) FROM products WHERE category != trim(category)") >= 1


# Streaming

MEASURE_RSS = """
import json, resource, sys
from pathlib import Path
from warehouse_kit.demo import generate, generate_changes
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
written = generate(Path(sys.argv[1]), orders=400_000)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, "lines": written["order_items"]}))
"""


@pytest.mark.slow
def test_a_million_order_lines_stream_without_growing_the_process_much(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", MEASURE_RSS, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(run.stdout)
    assert measured["lines"] > 1_000_000
    assert measured["growth_mb"] < 300


# Batch 2: the later export, for slowly changing dimensions and incremental loads

BATCH2 = SEEDS / "batch2"


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    """Batch 1 and its change batch at 10%, large enough to measure the rates."""
    folder = tmp_path_factory.mktemp("batches")
    generate(folder / "1", orders=20_000, seed=42)
    written = generate_changes(folder / "2", orders=20_000, seed=42, changes=10)
    return folder / "1", folder / "2", written


def both(first: Path, second: Path) -> duckdb.DuckDBPyConnection:
    """Text-only views b1_<table> and b2_<table>, and b1_latest_customers and
    b1_latest_products: the latest batch-1 row of each id."""
    con = duckdb.connect()
    for batch, folder in (("b1", first), ("b2", second)):
        for table in COLUMNS:
            csv = con.read_csv(str(folder / f"{table}_seed.csv"), header=True, all_varchar=True)
            csv.create_view(f"{batch}_{table}")
    for table, key in (("customers", "customer_id"), ("products", "product_id")):
        con.sql(f"""
            CREATE VIEW b1_latest_{table} AS SELECT * FROM b1_{table}
            WHERE {key} IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY updated_at DESC) = 1
        """)
    # A known customer's or product's two rows side by side, batch 2's as new_*.
    con.sql("""
        CREATE VIEW customer_versions AS
        SELECT old.*, new.first_name AS new_first_name, new.last_name AS new_last_name,
            new.email AS new_email, new.segment AS new_segment, new.city AS new_city,
            new.country AS new_country, new.signup_date AS new_signup_date,
            new.updated_at AS new_updated_at
        FROM b1_latest_customers AS old JOIN b2_customers AS new USING (customer_id)
    """)
    con.sql("""
        CREATE VIEW product_versions AS
        SELECT old.*, new.product_name AS new_product_name, new.category AS new_category,
            new.unit_price AS new_unit_price, new.updated_at AS new_updated_at
        FROM b1_latest_products AS old JOIN b2_products AS new USING (product_id)
    """)
    return con


@pytest.fixture(scope="module")
def b12(batches: tuple[Path, Path, dict[str, int]]) -> Iterator[duckdb.DuckDBPyConnection]:
    first, second, _ = batches
    with both(first, second) as con:
        yield con


# Batch 2: determinism and shape


def test_the_same_orders_seed_and_changes_give_a_byte_identical_change_batch(
    tmp_path: Path,
) -> None:
    generate_changes(tmp_path / "a", orders=2000, seed=7, changes=10)
    generate_changes(tmp_path / "b", orders=2000, seed=7, changes=10)
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_other_changes_give_other_files(tmp_path: Path) -> None:
    generate_changes(tmp_path / "a", orders=2000, seed=7, changes=10)
    generate_changes(tmp_path / "b", orders=2000, seed=7, changes=20)
    first, second = files(tmp_path / "a"), files(tmp_path / "b")
    assert first.keys() == second.keys()
    assert all(first[name] != second[name] for name in first)


def test_the_number_of_threads_does_not_change_the_change_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_connect = duckdb.connect
    for threads in (1, 4):
        monkeypatch.setattr(
            duckdb, "connect", lambda threads=threads: real_connect(config={"threads": threads})
        )
        generate_changes(tmp_path / str(threads), orders=60_000, seed=3, changes=30)
    assert files(tmp_path / "1") == files(tmp_path / "4")


def test_the_committed_batch2_is_what_generate_changes_writes(tmp_path: Path) -> None:
    generate_changes(tmp_path, orders=1200, seed=42, changes=10)
    assert files(BATCH2) == files(tmp_path)


def test_the_change_batch_has_the_four_files_and_columns_and_counts(
    batches: tuple[Path, Path, dict[str, int]], b12: duckdb.DuckDBPyConnection
) -> None:
    _, second, written = batches
    assert sorted(path.name for path in second.iterdir()) == sorted(
        f"{table}_seed.csv" for table in COLUMNS
    )
    for table, columns in COLUMNS.items():
        header = (second / f"{table}_seed.csv").read_text().splitlines()[0]
        assert header.split(",") == columns
    assert written == {table: one(b12, f"SELECT count(*) FROM b2_{table}") for table in COLUMNS}


def test_no_changes_sends_batch_1s_latest_state_again_and_no_orders(tmp_path: Path) -> None:
    generate(tmp_path / "1", orders=3000, seed=5)
    written = generate_changes(tmp_path / "2", orders=3000, seed=5, changes=0)
    assert written["orders"] == written["order_items"] == 0
    with both(tmp_path / "1", tmp_path / "2") as con:
        for table in ("customers", "products"):
            difference = f"""
                SELECT count(*) FROM (
                    (SELECT * FROM b1_latest_{table} EXCEPT ALL SELECT * FROM b2_{table})
                    UNION ALL
                    (SELECT * FROM b2_{table} EXCEPT ALL SELECT * FROM b1_latest_{table}))
            """
            assert one(con, difference) == 0


@pytest.mark.parametrize("bad", [-1, 100.5, float("nan"), True, "10"])
def test_changes_must_be_a_percentage(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="percentage"):
        generate_changes(tmp_path, orders=10, changes=bad)


def test_wk_demo_generate_with_changes_writes_the_change_batch(tmp_path: Path) -> None:
    options = ["--orders", "1200", "--seed", "42", "--changes", "10", "--out", str(tmp_path)]
    run = wk("demo", "generate", *options)
    assert run.returncode == 0, run.stderr
    assert files(tmp_path) == files(BATCH2)
    assert "customers: 313 rows" in run.stdout
    assert "order_items: 320 rows" in run.stdout


# Batch 2: customers, a full snapshot


def test_every_customer_batch_1_sent_appears_once_plus_the_new_ones(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    assert one(b12, "SELECT count(*) = count(DISTINCT customer_id) FROM b2_customers")
    assert one(b12, "SELECT count(*) FROM b2_customers WHERE customer_id IS NULL") == 0
    missing = (
        "SELECT customer_id FROM b1_latest_customers EXCEPT SELECT customer_id FROM b2_customers"
    )
    assert one(b12, f"SELECT count(*) FROM ({missing})") == 0
    # New ids carry on from batch 1's: about changes / 2 % of its 5000 customers.
    new = """
        SELECT customer_id::INTEGER AS id FROM b2_customers
        EXCEPT SELECT customer_id::INTEGER FROM b1_customers WHERE customer_id IS NOT NULL
    """
    assert b12.sql(f"SELECT count(*), min(id), max(id) FROM ({new})").fetchone() == (
        250,
        5001,
        5250,
    )


def test_an_unchanged_customer_is_exactly_its_latest_batch_1_row(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    unchanged = "SELECT * FROM customer_versions WHERE new_updated_at = updated_at"
    same = """
        new_first_name IS NOT DISTINCT FROM first_name AND new_last_name = last_name
        AND new_email IS NOT DISTINCT FROM email AND new_segment = segment
        AND new_city = city AND new_country = country AND new_signup_date = signup_date
    """
    assert one(b12, f"SELECT count(*) FROM ({unchanged})") > 4000
    assert one(b12, f"SELECT bool_and({same}) FROM ({unchanged})")


def test_a_customer_who_moved_has_a_later_update_and_a_new_segment_or_city(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    moved = "SELECT * FROM customer_versions WHERE new_updated_at != updated_at"
    assert one(b12, f"SELECT bool_and(new_updated_at > updated_at) FROM ({moved})")
    assert one(
        b12,
        f"""SELECT bool_and(trim(new_segment) != trim(segment) OR trim(new_city) != trim(city))
        FROM ({moved})""",
    )
    # Who they are does not change.
    assert one(
        b12,
        f"""SELECT bool_and(new_first_name = first_name AND new_last_name = last_name
            AND new_email IS NOT DISTINCT FROM email AND new_signup_date = signup_date)
        FROM ({moved})""",
    )
    # Some move house, some change segment, some both.
    kinds = f"""
        SELECT count(*) FILTER (new_segment != segment AND new_city = city),
            count(*) FILTER (new_segment = segment AND new_city != city),
            count(*) FILTER (new_segment != segment AND new_city != city)
        FROM ({moved})
    """
    assert all(count > 0 for count in b12.sql(kinds).fetchall()[0])


def test_moves_are_dated_in_the_first_quarter_of_2025_when_batch_1_allows(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    moved = "SELECT * FROM customer_versions WHERE new_updated_at != updated_at"
    in_q1 = "new_updated_at BETWEEN '2025-01-01' AND '2025-03-31 23:59:59'"
    assert one(b12, f"SELECT bool_and({in_q1}) FROM ({moved}) WHERE updated_at < '2025-03-31'")
    # Batch 1's own updates run to late 2025: those customers move within 30 days after.
    later = f"SELECT * FROM ({moved}) WHERE updated_at >= '2025-03-31'"
    assert one(b12, f"SELECT count(*) FROM ({later})") > 0
    assert one(
        b12,
        f"SELECT bool_and(new_updated_at::TIMESTAMP - updated_at::TIMESTAMP <= INTERVAL 31 DAYS)"
        f" FROM ({later})",
    )


def test_about_changes_percent_of_customers_move(b12: duckdb.DuckDBPyConnection) -> None:
    moved = share(b12, "customer_versions", "new_updated_at != updated_at")
    assert 0.08 < moved < 0.12


def test_new_customers_sign_up_in_2025_with_a_little_dirt(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    new = "(SELECT * FROM b2_customers WHERE customer_id::INTEGER > 5000)"
    assert one(b12, f"SELECT min(signup_date) >= '2025-01-01' FROM {new}")
    assert one(b12, f"SELECT max(signup_date) <= '2025-03-30' FROM {new}")
    assert one(b12, f"SELECT bool_and(updated_at::DATE = signup_date::DATE) FROM {new}")
    bad = "email IS NULL OR email = 'n/a' OR email NOT LIKE '%@%' OR email LIKE '%@@%'"
    assert 0 < share(b12, new, bad) < 0.08
    assert 0 < share(b12, new, "segment != trim(segment) OR city != trim(city)") < 0.08


# Batch 2: products, a full snapshot


def test_some_products_are_deleted_never_two_neighbours(b12: duckdb.DuckDBPyConnection) -> None:
    deleted = """
        SELECT product_id::INTEGER AS id FROM b1_products
        EXCEPT SELECT product_id::INTEGER FROM b2_products
    """
    assert 0 < one(b12, f"SELECT count(*) FROM ({deleted})") < 0.03 * 500
    assert one(b12, f"SELECT count(*) FROM ({deleted}) WHERE id + 1 IN ({deleted})") == 0


def test_a_price_change_has_a_later_update_in_the_first_quarter_of_2025(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    changed = "SELECT * FROM product_versions WHERE new_updated_at != updated_at"
    assert 0.06 < one(b12, f"SELECT count(*) FROM ({changed})") / 500 < 0.14
    checks = f"""
        SELECT bool_and(new_updated_at > updated_at), bool_and(new_unit_price != unit_price),
            bool_and(new_product_name = product_name AND new_category = category),
            min(new_updated_at) >= '2025-01-01', max(new_updated_at) < '2025-04-01',
            min(new_unit_price::DECIMAL(10, 2)) >= 2, max(new_unit_price::DECIMAL(10, 2)) <= 500
        FROM ({changed})
    """
    assert b12.sql(checks).fetchone() == (True,) * 7
    unchanged = "SELECT * FROM product_versions WHERE new_updated_at = updated_at"
    assert one(b12, f"SELECT bool_and(new_unit_price = unit_price) FROM ({unchanged})")


def test_new_products_carry_on_from_batch_1s_ids(b12: duckdb.DuckDBPyConnection) -> None:
    new = "SELECT * FROM b2_products WHERE product_id::INTEGER > 500"
    assert b12.sql(f"SELECT count(*), min(product_id::INTEGER) FROM ({new})").fetchone() == (
        25,
        501,
    )
    assert one(b12, f"SELECT min(updated_at) >= '2025-01-01' FROM ({new})")


# Batch 2: new orders only


def test_new_orders_and_lines_number_on_from_batch_1(b12: duckdb.DuckDBPyConnection) -> None:
    assert one(
        b12,
        "SELECT min(order_id::INTEGER) > (SELECT max(order_id::INTEGER) FROM b1_orders)"
        " FROM b2_orders",
    )
    assert one(
        b12,
        "SELECT min(order_item_id::INTEGER)"
        " > (SELECT max(order_item_id::INTEGER) FROM b1_order_items) FROM b2_order_items",
    )
    # About changes % of batch 1's 20000 orders, each line belonging to one of them.
    assert one(b12, "SELECT count(DISTINCT order_id) FROM b2_orders") == 2000
    orphans = """
        SELECT count(*) FROM b2_order_items
        WHERE order_id NOT IN (SELECT order_id FROM b2_orders)
    """
    assert one(b12, orphans) == 0


def test_new_orders_are_from_2025_except_a_few_late_ones_from_2024(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    day = "try_strptime(order_date, '%Y-%m-%d')::DATE"
    dated = f"SELECT DISTINCT order_id, {day} AS day FROM b2_orders WHERE {day} IS NOT NULL"
    assert b12.sql(f"SELECT min(day), max(day) FROM ({dated})").fetchone() == (
        date(2024, 10, 1),
        date(2025, 3, 31),
    )
    late = one(b12, f"SELECT avg((day < '2025-01-01')::INTEGER) FROM ({dated})")
    assert 0.01 < late < 0.06


def test_some_orders_name_a_customer_no_file_has_sent_yet(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    unsent = """
        SELECT DISTINCT customer_id::INTEGER AS id FROM b2_orders
        WHERE customer_id NOT IN (
            SELECT customer_id FROM b1_customers WHERE customer_id IS NOT NULL
            UNION SELECT customer_id FROM b2_customers)
    """
    # Right after the 250 new customers: 5251 .. 5262, as max(3, 250 // 20) is 12.
    assert b12.sql(f"SELECT min(id), max(id) FROM ({unsent})").fetchone() == (5251, 5262)
    with_unsent = f"customer_id::INTEGER IN ({unsent})"
    assert 0.005 < share(b12, "b2_orders", with_unsent) < 0.02


def test_orders_come_from_known_moved_and_new_customers(b12: duckdb.DuckDBPyConnection) -> None:
    customers = """
        SELECT o.*, c.signup_date FROM b2_orders AS o JOIN b2_customers AS c USING (customer_id)
    """
    moved = """customer_id IN (
        SELECT customer_id FROM customer_versions WHERE new_updated_at != updated_at)"""
    assert share(b12, f"({customers})", moved) > 0.05
    new = f"SELECT * FROM ({customers}) WHERE customer_id::INTEGER > 5000"
    assert one(b12, f"SELECT count(*) FROM ({new})") > 0
    # A new customer orders after the day they sign up; late orders are batch 1's customers.
    day = "try_strptime(order_date, '%Y-%m-%d')::DATE"
    assert one(b12, f"SELECT bool_and({day} > signup_date::DATE) FROM ({new})")


def test_lines_of_2025_orders_name_products_of_the_snapshot_at_that_days_price(
    b12: duckdb.DuckDBPyConnection,
) -> None:
    lines = """
        SELECT i.*, p.unit_price AS price, p.updated_at AS priced_at,
            old.unit_price AS old_price, o.day
        FROM b2_order_items AS i
        JOIN (SELECT DISTINCT order_id,
                try_strptime(order_date, '%Y-%m-%d')::DATE AS day FROM b2_orders) AS o
            USING (order_id)
        LEFT JOIN b2_products AS p USING (product_id)
        LEFT JOIN b1_latest_products AS old USING (product_id)
        WHERE o.day >= '2025-01-01'
    """
    assert one(b12, f"SELECT count(*) FROM ({lines}) WHERE price IS NULL") == 0
    # A new price counts from the day after it was set; the old one before.
    on_the_day = "unit_price = CASE WHEN day > priced_at::DATE THEN price ELSE old_price END"
    changed = f"SELECT * FROM ({lines}) WHERE old_price != price"
    assert one(b12, f"SELECT count(*) FROM ({changed}) WHERE day > priced_at::DATE") > 0
    assert one(b12, f"SELECT count(*) FROM ({changed}) WHERE day <= priced_at::DATE") > 0
    assert one(b12, f"SELECT bool_and({on_the_day}) FROM ({changed})")
    # New products only after the day they came out.
    assert one(
        b12,
        f"SELECT bool_and(day > priced_at::DATE) FROM ({lines}) WHERE old_price IS NULL",
    )


def test_batch_2_keeps_a_little_dirt(b12: duckdb.DuckDBPyConnection) -> None:
    assert 0.005 < share(b12, "b2_order_items", "quantity::INTEGER < 0") < 0.02
    unparseable = "try_strptime(order_date, '%Y-%m-%d') IS NULL"
    assert 0.005 < share(b12, "b2_orders", unparseable) < 0.02
    assert one(b12, "SELECT count(*) - count(DISTINCT order_id) FROM b2_orders") > 0
    assert one(b12, "SELECT count(*) FROM b2_orders WHERE customer_id IS NULL") > 0


# The committed batch 2, as the module's documentation describes it


def test_the_committed_batch2_is_as_documented() -> None:
    with both(SEEDS, BATCH2) as con:

        def ids(sql: str) -> list[int]:
            return [row[0] for row in con.sql(sql).fetchall()]

        moved = "SELECT count(*) FROM customer_versions WHERE new_updated_at != updated_at"
        assert one(con, moved) == 31
        new_customers = "SELECT customer_id::INTEGER AS id FROM b2_customers WHERE id > 300"
        assert ids(f"{new_customers} ORDER BY id") == list(range(301, 316))
        deleted = """
            SELECT DISTINCT product_id::INTEGER FROM b1_products
            WHERE product_id NOT IN (SELECT product_id FROM b2_products)
        """
        assert ids(deleted) == [11]
        repriced = """
            SELECT product_id::INTEGER AS id FROM product_versions
            WHERE new_updated_at != updated_at ORDER BY id
        """
        assert ids(repriced) == [9, 10, 13]
        new_products = "SELECT product_id::INTEGER AS id FROM b2_products WHERE id > 30"
        assert ids(new_products) == [31, 32]
        orders = """
            SELECT count(DISTINCT order_id), min(order_id::INTEGER), max(order_id::INTEGER)
            FROM b2_orders
        """
        assert con.sql(orders).fetchone() == (120, 1201, 1320)
        late = """
            SELECT DISTINCT order_id::INTEGER AS id FROM b2_orders
            WHERE order_date LIKE '2024-%' ORDER BY id
        """
        assert ids(late) == [1233, 1243]
        unsent = """
            SELECT order_id::INTEGER AS id, customer_id::INTEGER FROM b2_orders
            WHERE customer_id::INTEGER > 315 ORDER BY id
        """
        assert con.sql(unsent).fetchall() == [(1206, 317), (1316, 316)]
        gone = """
            SELECT order_item_id::INTEGER, order_id::INTEGER FROM b2_order_items
            WHERE product_id = '11'
        """
        assert con.sql(gone).fetchall() == [(6162, 1233)]
