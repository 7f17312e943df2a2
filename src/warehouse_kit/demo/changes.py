"""Batch 2 of the example retail seeds: what the shop's systems export later.

``generate_changes(out_dir, orders=N, seed=S, changes=PCT)`` writes what the
shop's systems export later, for the batch 1 that ``generate(orders=N,
seed=S)`` writes: same ids, same names, same columns. With C customers and P
products in batch 1, it adds M = ``round(C * PCT / 200)`` customers,
``round(P * PCT / 200)`` products and ``round(N * PCT / 100)`` orders (each at
least 1 when PCT > 0; half rounds up). As in batch 1, "plus one" means one more
row chosen by the seed. ``changes=0`` sends batch 1's latest state again and no
orders. The share that changes grows with PCT: every row that changes at 10%
also changes at 20%.

customers
    A full snapshot, by id: one row per id batch 1 sent (a customer whose only
    batch-1 row had an empty id stays unknown; customers are never deleted).
    An unchanged customer's row is exactly its latest batch-1 row, dirt and
    ``updated_at`` included. PCT% (plus one) move: a new segment, a new city
    (and its country), or both; name, email and signup_date stay. Their
    ``updated_at`` is strictly after their latest batch-1 one: in 2025-01-01 ..
    2025-03-31, or 1 to 30 days after it when batch 1's is later (batch 1's
    ``updated_at`` runs to late 2025, so a few percent of the moves fall after
    March). The new
    customers, ids C + 1 .. C + M, sign up in 2025-01-01 .. 2025-03-30 and have
    batch 1's 3% bad emails and 5% stray spaces (plus one each).
products
    A full snapshot, by id. PCT% (plus one) change price by -15% to +20%
    (staying within 2 .. 500), with ``updated_at`` in 2025-01-01 .. 2025-03-31.
    PCT/10 % (plus one) are deleted: absent from the snapshot; two neighbouring
    ids are never both deleted. The new products, ids P + 1 .., come out in
    2025-01-01 .. 2025-03-01.
orders
    New orders only, ids N + 1 .., dated 2025-01-01 .. 2025-03-31, from batch-1
    customers (those who moved too) and new customers (after the day they sign
    up). 3% (plus one) are late: dated 2024-10-01 .. 2024-12-31, from batch-1
    customers. 1% (plus one) are for customers no file has sent yet (late
    dimension members): ids C + M + 1 .. C + M + K with K = ``max(3, M // 20)``,
    ordered in March 2025. Dirt: 1% unparseable ``order_date``, 0.5% empty
    ``customer_id``, 0.5% sent twice.
order_items
    The lines of the new orders; ``order_item_id`` numbers on from batch 1's.
    A 2025 line never names a deleted product (it takes the next id instead,
    or the previous one for the last) nor a new product before the day after
    it came out (it takes one of batch 1's). A late line picks among batch 1's
    products, deleted ones included: the few lines that name a product the
    snapshot no longer has. ``unit_price`` is the price on the order day: a new
    price counts from the day after its ``updated_at``, so a date-based lookup
    finds it. Dirt: 1% negative quantities, 0.5% sent twice.

Batch 1's orders naming a customer above every customer id (ids C + 1 ..
C + 1000) may name a customer that batch 2 sends: a late member resolved.

``seeds/batch2`` holds ``generate_changes(orders=1200, seed=42, changes=10)``
(C = 300, P = 30, N = 1200, M = 15): 313 customers, where 31 of batch 1's 298
moved (6 segment, 13 city, 12 both; 2 of them after March) and 15 are new
(301 .. 315); 31 products, where 11 is deleted, 9, 10 and 13 have a new price
and 31 and 32 are new; 120 new orders, 1201 .. 1320 (123 rows), 2 of them late
(1233, 1243) and 2 for customers not sent yet (1206 for customer 317, 1316 for
316; the range is 316 .. 318); 320 order lines, one of them (6162, of late
order 1233) for deleted product 11.
"""

from __future__ import annotations

from pathlib import Path

from warehouse_kit.demo.retail import check_integers, connect, share, sizes, write

# Batch 2. The variables customers, products, orders (batch 1's sizes), new_customers,
# new_products, new_orders and rate (changes / 100) are set before these are created,
# first_known and moved_row (CHOSEN_CUSTOMERS) after. New rows continue batch 1's keys
# (new customer j is row C + j, new order j is row N + j), so batch 1's salts give them
# fresh values of the same kinds (names, statuses, lines); what batch 2 decides has its
# own salts.
CHANGE_MACROS = """
CREATE TEMP MACRO n_customers() AS getvariable('customers');
CREATE TEMP MACRO n_products() AS getvariable('products');
CREATE TEMP MACRO n_new_orders() AS getvariable('new_orders');
CREATE TEMP MACRO rate() AS getvariable('rate');
-- Batch 1 sends a customer with an id unless its only row lost it.
CREATE TEMP MACRO customer_known(i) AS
    NOT dirty(i, 'no key', 0.005, n_customers()) OR dirty(i, 'customer twice', 0.02, n_customers());
-- A time strictly after ts: in 2025-01-01 .. 2025-03-31 when ts leaves room, else 1 to 30
-- days after ts.
CREATE TEMP MACRO window_start(ts) AS greatest(ts + INTERVAL 1 SECOND, TIMESTAMP '2025-01-01');
CREATE TEMP MACRO later(k, salt, ts) AS
    CASE WHEN window_start(ts) < TIMESTAMP '2025-04-01'
        THEN window_start(ts) + to_seconds(
            roll(k, salt, date_diff('second', window_start(ts), TIMESTAMP '2025-04-01')))
        ELSE ts + to_days(1 + roll(k, salt, 30)) + to_seconds(roll(k, salt || ' time', 86400))
        END;
-- New customers (index n_customers() and up) sign up in 2025-01-01 .. 2025-03-30.
CREATE TEMP MACRO new_signup(i) AS DATE '2025-01-01' + roll(i, 'new signup', 89);

-- Products: deletions are never next to each other, so a deleted product's neighbour
-- is a product that stays.
CREATE TEMP MACRO deletion_drawn(i) AS rate() > 0 AND 0 <= i AND i < n_products()
    AND (rnd(i, 'deleted') < rate() / 10 OR i = roll(-1, 'deleted', n_products()));
CREATE TEMP MACRO deleted(i) AS deletion_drawn(i) AND NOT deletion_drawn(i - 1);
CREATE TEMP MACRO kept(i) AS
    CASE WHEN NOT deleted(i) THEN i WHEN i + 1 < n_products() THEN i + 1 ELSE i - 1 END;
CREATE TEMP MACRO repriced(i) AS rate() > 0 AND i < n_products() AND NOT deleted(i)
    AND (rnd(i, 'repriced') < rate() OR i = kept(roll(-1, 'repriced', n_products())));
CREATE TEMP MACRO latest_copy(i) AS product_twice(i, n_products())::INTEGER;
CREATE TEMP MACRO latest_price(i) AS product_price(i, latest_copy(i));
CREATE TEMP MACRO scaled_price(i, percent) AS
    round(latest_price(i) * ((100 + percent) / 100)::DECIMAL(4, 2), 2)::DECIMAL(10, 2);
CREATE TEMP MACRO price_change(i) AS pick(i, 'price change', [-15, -10, -5, 5, 10, 15, 20]);
-- A change that would leave 2 .. 500 goes the other way.
CREATE TEMP MACRO new_price(i) AS
    CASE WHEN scaled_price(i, price_change(i)) BETWEEN 2 AND 500
        THEN scaled_price(i, price_change(i)) ELSE scaled_price(i, -price_change(i)) END;
CREATE TEMP MACRO repriced_at(i) AS
    later(i, 'repriced at', product_updated(i, latest_copy(i)));
-- New products (index n_products() and up) come out in 2025-01-01 .. 2025-03-01.
CREATE TEMP MACRO launched_at(i) AS
    TIMESTAMP '2025-01-01' + to_days(roll(i, 'launched', 60))
        + to_seconds(roll(i, 'launched time', 86400));
-- The price on an order day: a change counts from the day after it.
CREATE TEMP MACRO price_on(i, day) AS
    CASE WHEN i >= n_products() THEN price(i + 1)
        WHEN repriced(i) AND day > repriced_at(i)::DATE THEN new_price(i)
        ELSE latest_price(i) END;

-- New orders, by key j = 0 .. new_orders - 1. One chosen row each is late and refers to
-- a customer not sent yet; they are never the same row.
CREATE TEMP MACRO late_row() AS roll(-1, 'late', n_new_orders());
CREATE TEMP MACRO unsent_row() AS
    (late_row() + 1 + roll(-1, 'unsent customer', greatest(n_new_orders() - 1, 1)))
        % n_new_orders();
CREATE TEMP MACRO unsent(j) AS
    j != late_row() AND (rnd(j, 'unsent customer') < 0.01 OR j = unsent_row());
CREATE TEMP MACRO late(j) AS NOT unsent(j) AND (rnd(j, 'late') < 0.03 OR j = late_row());
-- The customer index: late orders come from batch 1's customers, the others also from
-- the new ones. A customer batch 1 sent without an id is drawn again, and in the
-- rare case that fails too, replaced by the first customer batch 1 sent.
CREATE TEMP MACRO drawn_customer(j, salt) AS roll(j, salt,
    n_customers() + CASE WHEN late(j) THEN 0 ELSE getvariable('new_customers') END);
CREATE TEMP MACRO usable_customer(c) AS c >= n_customers() OR customer_known(c);
CREATE TEMP MACRO order_customer(j) AS
    CASE WHEN usable_customer(drawn_customer(j, 'new order customer'))
            THEN drawn_customer(j, 'new order customer')
        WHEN usable_customer(drawn_customer(j, 'new order customer again'))
            THEN drawn_customer(j, 'new order customer again')
        ELSE getvariable('first_known') END;
-- A new customer orders after the day they sign up; unsent customers sign up in March.
CREATE TEMP MACRO order_day(j) AS
    CASE WHEN late(j) THEN DATE '2024-10-01' + roll(j, 'late day', 92)
        WHEN unsent(j) THEN DATE '2025-03-01' + roll(j, 'new order day', 31)
        WHEN order_customer(j) >= n_customers()
            THEN new_signup(order_customer(j)) + 1 + roll(j, 'new order day',
                DATE '2025-03-31' - new_signup(order_customer(j)))
        ELSE DATE '2025-01-01' + roll(j, 'new order day', 90) END;
"""

# Known customers: the latest batch-1 row of each, with a new segment, city or both for
# the customers that moved; then the new customers.
CHANGED_CUSTOMERS = """
COPY (
WITH latest AS (
    SELECT *, (rnd(i, 'moves') < rate() OR i = getvariable('moved_row')) AS moves,
        roll(i, 'moves what', 3) AS what
    FROM customer_rows($customers)
    WHERE customer_id IS NOT NULL AND copy = twice::INTEGER
),
moved AS (
    SELECT *,
        segments()[1 + (segment_index + 1 + roll(i, 'new segment', 2)) % 3] AS new_segment,
        places()[1 + (place_index + 1 + roll(i, 'new place', 7)) % 8] AS new_place
    FROM latest
),
new AS (
    SELECT $customers + j AS i, j,
        pick($customers + j, 'first', first_names()) AS first_name,
        pick($customers + j, 'last', last_names()) AS last_name,
        segments()[1 + roll($customers + j, 'segment', 3)] AS segment,
        places()[1 + roll($customers + j, 'place', 8)] AS place,
        new_signup($customers + j) AS signup_date,
        spaced_field($customers + j, dirty(j, 'new spaces', 0.05, $new)) AS spaced_field
    FROM range($new) AS r(j)
)
SELECT customer_id, first_name, last_name, email,
    CASE WHEN moves AND what != 1 THEN new_segment ELSE segment END AS segment,
    CASE WHEN moves AND what != 0 THEN new_place[1] ELSE city END AS city,
    CASE WHEN moves AND what != 0 THEN new_place[2] ELSE country END AS country,
    signup_date,
    CASE WHEN moves THEN later(i, 'moved at', updated_at) ELSE updated_at END AS updated_at
FROM moved
UNION ALL
SELECT i + 1,
    CASE WHEN spaced_field = 0 THEN spaced(i, first_name) ELSE first_name END,
    CASE WHEN spaced_field = 1 THEN spaced(i, last_name) ELSE last_name END,
    CASE WHEN dirty(j, 'new bad email', 0.03, $new) THEN bad_email(i, first_name, last_name)
        ELSE clean_email(i, first_name, last_name) END,
    CASE WHEN spaced_field = 2 THEN spaced(i, segment) ELSE segment END,
    CASE WHEN spaced_field = 3 THEN spaced(i, place[1]) ELSE place[1] END,
    place[2],
    signup_date,
    signup_date::TIMESTAMP + to_seconds(roll(i, 'updated time', 86400))
FROM new
ORDER BY customer_id
) TO $path (HEADER)
"""

CHANGED_PRODUCTS = """
COPY (
WITH snapshot AS (
    SELECT i, copy FROM product_rows($products)
    WHERE copy = twice::INTEGER AND NOT deleted(i)
    UNION ALL
    SELECT i, 0 FROM range($products, $products + $new) AS r(i)
)
SELECT
    i + 1 AS product_id,
    product_name(i) AS product_name,
    category(i, $products) AS category,
    CASE WHEN i >= $products THEN price(i + 1) WHEN repriced(i) THEN new_price(i)
        ELSE product_price(i, copy) END AS unit_price,
    CASE WHEN i >= $products THEN launched_at(i) WHEN repriced(i) THEN repriced_at(i)
        ELSE product_updated(i, copy) END AS updated_at
FROM snapshot
ORDER BY i
) TO $path (HEADER)
"""

NEW_ORDERS = """
COPY (
WITH base AS (
    SELECT j, $orders + j AS i, unnest(copies(j, 'new order twice', 0.005, $n)) AS copy,
        order_day(j) AS day
    FROM range($n) AS r(j)
)
SELECT
    i + 1 AS order_id,
    CASE WHEN unsent(j) THEN $customers + $new_customers + 1 + roll(j, 'unsent id', $unsent)
        WHEN dirty(j, 'new order no customer', 0.005, $n) THEN NULL
        ELSE order_customer(j) + 1 END AS customer_id,
    CASE WHEN dirty(j, 'new order bad date', 0.01, $n) AND j != late_row()
        THEN ['2025-02-30', strftime(day, '%d/%m/%Y'), 'unknown', NULL][
            1 + roll(j, 'bad date how', 4)]
        ELSE strftime(day, '%Y-%m-%d') END AS order_date,
    CASE WHEN rnd(i, 'status') < 0.80 THEN 'completed'
        WHEN rnd(i, 'status') < 0.90 THEN 'shipped'
        WHEN rnd(i, 'status') < 0.96 THEN 'cancelled'
        ELSE 'returned' END AS status,
    CASE WHEN rnd(i, 'channel') < 0.50 THEN 'web' WHEN rnd(i, 'channel') < 0.85 THEN 'mobile'
        ELSE 'store' END AS channel
FROM base
ORDER BY j, copy
) TO $path (HEADER)
"""

# Lines number on from batch 1: line k of order row i (i counting on from batch 1) has
# order_item_id k + 1 with k = i * 5 + line; q = j * 5 + line counts within the batch.
NEW_ORDER_ITEMS = """
COPY (
WITH orders AS (
    SELECT j, $orders + j AS i, rnd($orders + j, 'lines') AS r, late(j) AS late,
        order_day(j) AS day
    FROM range($n) AS o(j)
),
lines AS (
    SELECT *, unnest(range(CASE WHEN r < 0.25 THEN 1 WHEN r < 0.55 THEN 2
        WHEN r < 0.75 THEN 3 WHEN r < 0.90 THEN 4 ELSE 5 END)) AS line
    FROM orders
),
drawn AS (
    SELECT *, i * 5 + line AS k, j * 5 + line AS q,
        CASE WHEN late THEN roll(i * 5 + line, 'product', $products)
            ELSE roll(i * 5 + line, 'new order product', $products + $new_products) END
            AS drawn
    FROM lines
),
-- Late lines may name a product deleted since; the others skip deleted products and
-- products launched after the order day.
products AS (
    SELECT *, CASE WHEN late THEN drawn
        WHEN drawn >= $products AND day <= launched_at(drawn)::DATE
            THEN kept(roll(k, 'older product', $products))
        ELSE kept(drawn) END AS product
    FROM drawn
),
base AS (
    SELECT *, unnest(copies(q, 'new line twice', 0.005, $n, step := 5)) AS copy,
        rnd(k, 'discount') AS discount
    FROM products
)
SELECT
    k + 1 AS order_item_id,
    i + 1 AS order_id,
    product + 1 AS product_id,
    (1 + floor(10 * pow(rnd(k, 'quantity'), 2)))::INTEGER
        * CASE WHEN dirty(q, 'new negative', 0.01, $n, step := 5) THEN -1 ELSE 1 END
        AS quantity,
    price_on(product, day) AS unit_price,
    CASE WHEN discount < 0.80 THEN 0.00
        WHEN discount < 0.90 THEN 0.05
        WHEN discount < 0.96 THEN 0.10
        ELSE 0.15 END::DECIMAL(3, 2) AS discount
FROM base
ORDER BY k, copy
) TO $path (HEADER)
"""

# The first customer batch 1 sent with an id, and the customer that moves whatever the
# rate: the first one sent at or after a row chosen by the seed (none when rate is 0).
CHOSEN_CUSTOMERS = """
SET VARIABLE first_known = (
    SELECT coalesce(min(i), 0) FROM range(n_customers()) AS r(i) WHERE customer_known(i));
SET VARIABLE moved_row = CASE WHEN rate() = 0 THEN -1 ELSE coalesce((
    SELECT min(i) FROM range(n_customers()) AS r(i)
    WHERE i >= roll(-1, 'moves', n_customers()) AND customer_known(i)),
    getvariable('first_known')) END;
"""


def generate_changes(
    out_dir: Path, *, orders: int, seed: int = 42, changes: float = 10.0
) -> dict[str, int]:
    """Write batch 2 of ``generate(orders=orders, seed=seed)`` into `out_dir`.

    The same four files: full snapshots of customers and products, and only the new
    orders and their lines. About `changes` percent (0 to 100) of customers move and of
    products change price; see the module's documentation. Returns the rows written per
    table.
    """
    check_integers(orders=orders, seed=seed)
    if not isinstance(changes, int | float) or isinstance(changes, bool) or not 0 <= changes <= 100:
        raise ValueError(f"changes must be a percentage from 0 to 100, not {changes!r}")
    customers, products = sizes(orders)
    new_customers = share(customers, changes / 2)
    new_products = share(products, changes / 2)
    new_orders = share(orders, changes)
    variables: dict[str, object] = {
        "customers": customers,
        "products": products,
        "orders": orders,
        "new_customers": new_customers,
        "new_products": new_products,
        "new_orders": new_orders,
    }
    copies: dict[str, tuple[str, dict[str, object]]] = {
        "customers": (CHANGED_CUSTOMERS, {"customers": customers, "new": new_customers}),
        "products": (CHANGED_PRODUCTS, {"products": products, "new": new_products}),
        "orders": (
            NEW_ORDERS,
            {
                "n": new_orders,
                "orders": orders,
                "customers": customers,
                "new_customers": new_customers,
                "unsent": max(3, new_customers // 20),
            },
        ),
        "order_items": (
            NEW_ORDER_ITEMS,
            {"n": new_orders, "orders": orders, "products": products, "new_products": new_products},
        ),
    }
    with connect(seed) as con:
        for name, value in variables.items():
            con.execute(f"SET VARIABLE {name} = $value::BIGINT", {"value": value})
        con.execute("SET VARIABLE rate = $rate::DOUBLE", {"rate": changes / 100})
        con.execute(CHANGE_MACROS)
        con.execute(CHOSEN_CUSTOMERS)
        return write(con, out_dir, copies)
