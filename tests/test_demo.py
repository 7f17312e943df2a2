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

from warehouse_kit.demo import generate

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
from warehouse_kit.demo import generate
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
