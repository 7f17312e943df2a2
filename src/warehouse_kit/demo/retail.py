"""Seed CSVs for the example retail warehouse: deterministic, streaming, dirty.

`generate` writes ``customers_seed.csv``, ``products_seed.csv``,
``orders_seed.csv`` and ``order_items_seed.csv``; `generate_changes` writes
the same four files as a second batch (below). DuckDB builds every row in
SQL from ``range(n)``; each pseudo-random value comes from a hash of
(row key, seed, salt), so the same ``(orders, seed)`` (and ``changes``) gives
byte-identical files whatever the number of threads. The files depend on DuckDB's ``hash``, which
may change between DuckDB releases (DuckDB is pinned). Rows go from DuckDB
straight into the files, never through Python; DuckDB sorts each table by its
row key before writing it, which takes about 90 bytes of native memory per
order line (10M lines: about 1 GB).

Sizes: ``orders`` orders; ``max(50, orders // 4)`` customers;
``max(20, min(5000, orders // 40))`` products; 1 to 5 lines per order, about
2.55 on average. An empty CSV field is a NULL.

The data is dirty on purpose. Each kind of dirt hits about the rate below of
the clean rows, plus one row chosen by the seed, so that even a small table
shows every kind. A row sent twice adds a row.

customers
    2% of ids appear twice: the second row has an ``updated_at`` 180 days
    later and another segment or city; 0.5% of rows have an empty
    ``customer_id``; 3% bad emails (no ``@``, ``n/a``, ``first..last@@example``,
    empty); 5% of rows have stray spaces around one of first_name, last_name,
    segment, city.
products
    1.5% of ids appear twice: the second row has an ``updated_at`` 200 days
    later and a 10% higher price; 3% stray spaces around ``category``.
orders
    1% unparseable ``order_date`` (``2024-02-30``, ``31/12/2024``, ``unknown``,
    empty); 0.5% empty ``customer_id``; 0.5% rows sent twice (exact
    duplicates); 0.3% ``customer_id`` above every customer id. About 0.5% more
    refer to a customer whose only row has an empty id.
order_items
    1% negative quantities; 0.5% rows sent twice (exact duplicates, so the
    same ``order_item_id``); 0.2% ``product_id`` above every product id.
    ``unit_price`` is the product's first price.

`generate_changes` (`changes`) writes batch 2.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb

# Values depend only on (row key, seed, salt), never on thread scheduling.
# `hash` of several values combines their hashes too simply: `hash(k, seed, 'a') % 16`
# and `hash(k, seed, 'b') % 16` would move together; hashing again mixes the bits.
MACROS = """
CREATE TEMP MACRO h(k, salt) AS hash(hash(k, getvariable('seed'), salt));
CREATE TEMP MACRO rnd(k, salt) AS (h(k, salt) % 1000000) / 1000000;
-- UBIGINT % BIGINT is computed in HUGEINT, 30 times slower: keep n UBIGINT.
CREATE TEMP MACRO roll(k, salt, n) AS (h(k, salt) % n::UBIGINT)::INTEGER;
CREATE TEMP MACRO pick(k, salt, options) AS options[1 + roll(k, salt, len(options))];
-- Besides `rate`, one row chosen by the seed: key step * (0 .. n - 1); step 5 is
-- the first line of an order.
CREATE TEMP MACRO dirty(k, salt, rate, n, step := 1) AS
    rnd(k, salt) < rate OR k = step * roll(-1, salt, n);
CREATE TEMP MACRO copies(k, salt, rate, n, step := 1) AS
    CASE WHEN dirty(k, salt, rate, n, step := step) THEN [0, 1] ELSE [0] END;
CREATE TEMP MACRO spaced(k, value) AS
    [' ' || value, value || ' ', '  ' || value || ' '][1 + roll(k, 'spaces', 3)];
CREATE TEMP MACRO price(product_id) AS
    round(2 + 498 * pow(rnd(product_id, 'price'), 2), 2)::DECIMAL(10, 2);
CREATE TEMP MACRO first_names() AS
    ['Anna', 'Ben', 'Chloe', 'David', 'Emma', 'Farid', 'Grace', 'Hugo', 'Ines', 'Jonas',
     'Kira', 'Liam', 'Maya', 'Noah', 'Olga', 'Pablo', 'Quinn', 'Rosa', 'Sami', 'Tara'];
CREATE TEMP MACRO last_names() AS
    ['Smith', 'Garcia', 'Muller', 'Rossi', 'Novak', 'Dubois', 'Silva', 'Jensen', 'Kowalski',
     'Nguyen', 'Okafor', 'Tanaka', 'Larsen', 'Moreau', 'Weber', 'Costa'];
CREATE TEMP MACRO segments() AS ['Consumer', 'Small Business', 'Enterprise'];
CREATE TEMP MACRO places() AS
    [['London', 'United Kingdom'], ['Manchester', 'United Kingdom'], ['Paris', 'France'],
     ['Lyon', 'France'], ['Berlin', 'Germany'], ['Madrid', 'Spain'],
     ['New York', 'United States'], ['Chicago', 'United States']];
CREATE TEMP MACRO categories() AS ['Electronics', 'Home', 'Garden', 'Toys', 'Books', 'Apparel'];
CREATE TEMP MACRO product_names() AS
    [['Headphones', 'Charger', 'Speaker', 'Keyboard'], ['Lamp', 'Mug', 'Cushion', 'Kettle'],
     ['Rake', 'Planter', 'Hose', 'Shears'], ['Puzzle', 'Robot', 'Kite', 'Blocks'],
     ['Novel', 'Cookbook', 'Atlas', 'Journal'], ['Jacket', 'Scarf', 'Sneakers', 'Hat']];
CREATE TEMP MACRO clean_email(i, first_name, last_name) AS
    lower(first_name || '.' || last_name || (i + 1) || '@example.com');
CREATE TEMP MACRO bad_email(i, first_name, last_name) AS
    [replace(clean_email(i, first_name, last_name), '@', ''), 'n/a',
     lower(first_name || '..' || last_name || '@@example'), NULL][1 + roll(i, 'bad email how', 4)];
-- Which field of a customer row gets stray spaces: 0 to 3, or -1 for none.
CREATE TEMP MACRO spaced_field(i, is_dirty) AS
    CASE WHEN is_dirty THEN roll(i, 'spaced field', 4) ELSE -1 END;
CREATE TEMP MACRO category_no(i) AS 1 + roll(i, 'category', 6);
CREATE TEMP MACRO product_name(i) AS
    pick(i, 'adjective', ['Classic', 'Compact', 'Deluxe', 'Eco', 'Smart', 'Mini'])
        || ' ' || pick(i, 'noun', product_names()[category_no(i)]) || ' ' || (i + 1);
CREATE TEMP MACRO category(i, n) AS
    CASE WHEN dirty(i, 'category spaces', 0.03, n) THEN spaced(i, categories()[category_no(i)])
        ELSE categories()[category_no(i)] END;
CREATE TEMP MACRO product_twice(i, n) AS dirty(i, 'product twice', 0.015, n);
-- The second row of a product is a price rise; order lines keep the first price.
CREATE TEMP MACRO product_price(i, copy) AS
    CASE WHEN copy = 0 THEN price(i + 1)
        ELSE least(500, round(price(i + 1) * 1.1, 2))::DECIMAL(10, 2) END;
CREATE TEMP MACRO product_updated(i, copy) AS
    TIMESTAMP '2022-06-01' + to_days(roll(i, 'product updated', 365) + 200 * copy)
        + to_seconds(roll(i, 'product updated time', 86400));

-- Every customer row of the first batch, with the indexes batch 2 starts from.
CREATE TEMP MACRO customer_rows(n) AS TABLE
WITH base AS (
    SELECT i, unnest(copies(i, 'customer twice', 0.02, n)) AS copy,
        dirty(i, 'customer twice', 0.02, n) AS twice,
        pick(i, 'first', first_names()) AS first_name,
        pick(i, 'last', last_names()) AS last_name,
        roll(i, 'segment', 3) AS segment_no,
        roll(i, 'place', 8) AS place_no,
        DATE '2022-01-01' + roll(i, 'signup', 912) AS signup_date,
        spaced_field(i, dirty(i, 'spaces', 0.05, n)) AS spaced_field,
        rnd(i, 'moved') < 0.5 AS moved
    FROM range(n) AS r(i)
),
-- The second row of a customer is a later change of segment or of city.
changed AS (
    SELECT *,
        (segment_no + (copy = 1 AND NOT moved)::INTEGER) % 3 AS segment_index,
        (place_no + (copy = 1 AND moved)::INTEGER) % 8 AS place_index
    FROM base
)
SELECT i, copy, twice, segment_index, place_index,
    CASE WHEN copy = 0 AND dirty(i, 'no key', 0.005, n) THEN NULL ELSE i + 1 END
        AS customer_id,
    CASE WHEN spaced_field = 0 THEN spaced(i, first_name) ELSE first_name END AS first_name,
    CASE WHEN spaced_field = 1 THEN spaced(i, last_name) ELSE last_name END AS last_name,
    CASE WHEN dirty(i, 'bad email', 0.03, n) THEN bad_email(i, first_name, last_name)
        ELSE clean_email(i, first_name, last_name) END AS email,
    CASE WHEN spaced_field = 2 THEN spaced(i, segments()[1 + segment_index])
        ELSE segments()[1 + segment_index] END AS segment,
    CASE WHEN spaced_field = 3 THEN spaced(i, places()[1 + place_index][1])
        ELSE places()[1 + place_index][1] END AS city,
    places()[1 + place_index][2] AS country,
    signup_date,
    signup_date::TIMESTAMP + to_days(roll(i, 'updated', 365) + 180 * copy)
        + to_seconds(roll(i, 'updated time', 86400)) AS updated_at
FROM changed;

-- Every product row of the first batch.
CREATE TEMP MACRO product_rows(n) AS TABLE
SELECT i, i + 1 AS product_id, unnest(copies(i, 'product twice', 0.015, n)) AS copy,
    product_twice(i, n) AS twice
FROM range(n) AS r(i);
"""

CUSTOMERS = """
COPY (
SELECT customer_id, first_name, last_name, email, segment, city, country, signup_date,
    updated_at
FROM customer_rows($n)
ORDER BY i, copy
) TO $path (HEADER)
"""

PRODUCTS = """
COPY (
SELECT
    product_id,
    product_name(i) AS product_name,
    category(i, $n) AS category,
    product_price(i, copy) AS unit_price,
    product_updated(i, copy) AS updated_at
FROM product_rows($n)
ORDER BY i, copy
) TO $path (HEADER)
"""

ORDERS = """
COPY (
WITH base AS (
    SELECT i, unnest(copies(i, 'order twice', 0.005, $n)) AS copy,
        DATE '2023-01-01' + roll(i, 'date', 731) AS day,
        rnd(i, 'status') AS status,
        rnd(i, 'channel') AS channel
    FROM range($n) AS r(i)
)
SELECT
    i + 1 AS order_id,
    CASE WHEN dirty(i, 'no customer', 0.005, $n) THEN NULL
        WHEN dirty(i, 'unknown customer', 0.003, $n)
            THEN $customers + 1 + roll(i, 'unknown customer id', 1000)
        ELSE 1 + roll(i, 'customer', $customers) END AS customer_id,
    CASE WHEN dirty(i, 'bad date', 0.01, $n)
        THEN ['2024-02-30', strftime(day, '%d/%m/%Y'), 'unknown', NULL][
            1 + roll(i, 'bad date how', 4)]
        ELSE strftime(day, '%Y-%m-%d') END AS order_date,
    CASE WHEN status < 0.80 THEN 'completed'
        WHEN status < 0.90 THEN 'shipped'
        WHEN status < 0.96 THEN 'cancelled'
        ELSE 'returned' END AS status,
    CASE WHEN channel < 0.50 THEN 'web' WHEN channel < 0.85 THEN 'mobile' ELSE 'store' END
        AS channel
FROM base
ORDER BY i, copy
) TO $path (HEADER)
"""

# The key k of line j of order row i is i * 5 + j, so no numbering window has to
# see every line; order_item_id is k + 1, unique but with gaps.
ORDER_ITEMS = """
COPY (
WITH orders AS (
    SELECT i, rnd(i, 'lines') AS r FROM range($n) AS o(i)
),
lines AS (
    SELECT i, i * 5 + unnest(range(CASE WHEN r < 0.25 THEN 1 WHEN r < 0.55 THEN 2
        WHEN r < 0.75 THEN 3 WHEN r < 0.90 THEN 4 ELSE 5 END)) AS k
    FROM orders
),
base AS (
    SELECT i, k, unnest(copies(k, 'line twice', 0.005, $n, step := 5)) AS copy,
        CASE WHEN dirty(k, 'unknown product', 0.002, $n, step := 5)
            THEN $products + 1 + roll(k, 'unknown product id', 1000)
            ELSE 1 + roll(k, 'product', $products) END AS product_id,
        rnd(k, 'discount') AS discount
    FROM lines
)
SELECT
    k + 1 AS order_item_id,
    i + 1 AS order_id,
    product_id,
    (1 + floor(10 * pow(rnd(k, 'quantity'), 2)))::INTEGER
        * CASE WHEN dirty(k, 'negative', 0.01, $n, step := 5) THEN -1 ELSE 1 END AS quantity,
    price(product_id) AS unit_price,
    CASE WHEN discount < 0.80 THEN 0.00
        WHEN discount < 0.90 THEN 0.05
        WHEN discount < 0.96 THEN 0.10
        ELSE 0.15 END::DECIMAL(3, 2) AS discount
FROM base
ORDER BY k, copy
) TO $path (HEADER)
"""


def sizes(orders: int) -> tuple[int, int]:
    """Customers and products of a batch 1 with `orders` orders."""
    return max(50, orders // 4), max(20, min(5000, orders // 40))


def share(total: int, percent: float) -> int:
    """About `percent`% of `total`, rounded half up; at least 1 unless it is 0."""
    if total == 0 or percent == 0:
        return 0
    return max(1, math.floor(total * percent / 100 + 0.5))


def check_integers(**values: object) -> None:
    # The seed is a DuckDB BIGINT; checking here keeps errors in Python's words.
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise ValueError(f"{name} must be an integer from 0 to 2**63 - 1, not {value!r}")


def connect(seed: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # A library should not draw DuckDB's progress bar on the caller's terminal.
    con.execute("SET enable_progress_bar = false")
    con.execute("SET VARIABLE seed = $seed::BIGINT", {"seed": seed})
    con.execute(MACROS)
    return con


def write(
    con: duckdb.DuckDBPyConnection,
    out_dir: Path,
    copies: dict[str, tuple[str, dict[str, object]]],
) -> dict[str, int]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for table, (copy, params) in copies.items():
        path = str(out_dir / f"{table}_seed.csv")
        (written[table],) = con.execute(copy, {**params, "path": path}).fetchall()[0]
    return written


def generate(out_dir: Path, *, orders: int, seed: int = 42) -> dict[str, int]:
    """Write the four seed CSVs into `out_dir`; return the rows written per table."""
    check_integers(orders=orders, seed=seed)
    customers, products = sizes(orders)
    copies: dict[str, tuple[str, dict[str, object]]] = {
        "customers": (CUSTOMERS, {"n": customers}),
        "products": (PRODUCTS, {"n": products}),
        "orders": (ORDERS, {"n": orders, "customers": customers}),
        "order_items": (ORDER_ITEMS, {"n": orders, "products": products}),
    }
    with connect(seed) as con:
        return write(con, out_dir, copies)
