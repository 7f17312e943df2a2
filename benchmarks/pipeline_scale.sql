-- The example pipeline (pipelines/seeds-to-warehouse.yml), written by hand for DuckDB.
--
-- The baseline of benchmarks/pipeline_scale.py: the same tables, columns and
-- semantics as warehouse-kit builds (src/warehouse_kit/core/transforms.py and
-- materialize/), without its bookkeeping, on a first build into an empty
-- database. The caller sets four variables with prepared-statement
-- parameters, so no value is ever formatted into SQL:
--   seeds      the folder holding the four *_seed.csv files
--   loaded_at  the load timestamp (warehouse-kit: the run's start)
--   batch_id   the batch id (warehouse-kit: a sha256 of the files)
--   run_id     the run id quarantined rows carry (warehouse-kit: the run's start)
--
-- The pipeline's quality checks are computed, not stored: a model's checks
-- are counted in one aggregate query (a failing reject check would drop the
-- table rather than keep it). A model with a quarantine check is computed
-- once into a temporary table with a pass flag per check, then split into the
-- good rows (the model) and the bad rows (<model>__quarantine).
--
-- Statements end with a semicolon at the end of a line: the benchmark splits
-- the script there to time each statement.

CREATE SCHEMA IF NOT EXISTS bronze;
CREATE SCHEMA IF NOT EXISTS silver;
CREATE SCHEMA IF NOT EXISTS gold;

-- type_casting trims text with the same characters as Ibis's strip().
CREATE OR REPLACE TEMP MACRO trimmed(s) AS
    trim(s, ' ' || chr(9) || chr(10) || chr(13) || chr(11) || chr(12));
-- A text column: trimmed, and blank becomes NULL (null_handling's blank_is_null).
CREATE OR REPLACE TEMP MACRO txt(s) AS nullif(trimmed(s), '');

-- Bronze: every column as text, plus the load metadata (_source names the pipeline's source).
CREATE OR REPLACE TABLE bronze.customers AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_snapshots: ' || getvariable('seeds') || '/customers_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/customers_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.products AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_snapshots: ' || getvariable('seeds') || '/products_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/products_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.orders AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_orders: ' || getvariable('seeds') || '/orders_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/orders_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.order_items AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_orders: ' || getvariable('seeds') || '/order_items_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/order_items_seed.csv', all_varchar = true, header = true);

-- Silver: typed, rows without a key dropped, the latest row per key kept
-- (the other data columns break ties, in order), then the model's rules.
-- customers: an email that does not match is quarantined (a NULL email passes).
CREATE OR REPLACE TEMP TABLE customers_checked AS
WITH typed AS (
    SELECT
        TRY_CAST(trimmed(customer_id) AS BIGINT) AS customer_id,
        txt(first_name) AS first_name,
        txt(last_name) AS last_name,
        txt(email) AS email,
        txt(segment) AS segment,
        txt(city) AS city,
        txt(country) AS country,
        TRY_CAST(trimmed(signup_date) AS DATE) AS signup_date,
        TRY_CAST(trimmed(updated_at) AS TIMESTAMP) AS updated_at,
        _loaded_at, _source, _batch_id
    FROM bronze.customers
),
latest AS (
    SELECT * FROM typed
    WHERE customer_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY customer_id
        ORDER BY updated_at DESC, first_name, last_name, email, segment, city, country, signup_date
    ) = 1
),
lowered AS (SELECT * REPLACE (lower(email) AS email) FROM latest)
SELECT *,
    coalesce(regexp_matches(email, '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$'), true)
        AS customer_email_valid
FROM lowered;

CREATE OR REPLACE TABLE silver.customers AS
SELECT * EXCLUDE (customer_email_valid) FROM customers_checked WHERE customer_email_valid;

-- The bad rows, with the row-level checks they fail (the model has one) and the run.
CREATE OR REPLACE TABLE silver.customers__quarantine AS
SELECT * EXCLUDE (customer_email_valid),
    ['customer_email_valid'] AS _wk_failed_checks,
    getvariable('run_id')::VARCHAR AS _wk_run_id
FROM customers_checked WHERE NOT customer_email_valid;

-- checks: silver.customers (rows checked, rows failing customer_email_valid)
SELECT count(*) AS rows, count(*) FILTER (WHERE NOT customer_email_valid) AS customer_email_valid
FROM customers_checked;

CREATE OR REPLACE TABLE silver.products AS
WITH typed AS (
    SELECT
        TRY_CAST(trimmed(product_id) AS BIGINT) AS product_id,
        txt(product_name) AS product_name,
        txt(category) AS category,
        TRY_CAST(trimmed(unit_price) AS DECIMAL(10, 2)) AS unit_price,
        TRY_CAST(trimmed(updated_at) AS TIMESTAMP) AS updated_at,
        _loaded_at, _source, _batch_id
    FROM bronze.products
)
SELECT * FROM typed
WHERE product_id IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY product_id ORDER BY updated_at DESC, product_name, category, unit_price
) = 1;

CREATE OR REPLACE TABLE silver.orders AS
WITH typed AS (
    SELECT
        TRY_CAST(trimmed(order_id) AS BIGINT) AS order_id,
        TRY_CAST(trimmed(customer_id) AS BIGINT) AS customer_id,
        TRY_CAST(trimmed(order_date) AS DATE) AS order_date,
        txt(status) AS status,
        txt(channel) AS channel,
        _loaded_at, _source, _batch_id
    FROM bronze.orders
)
SELECT * FROM typed
WHERE order_id IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY order_id ORDER BY _loaded_at DESC, customer_id, order_date, status, channel
) = 1;

-- checks: silver.orders (order_date_parsed warns: its rows stay)
SELECT count(*) AS rows, count(*) FILTER (WHERE order_date IS NULL) AS order_date_parsed
FROM silver.orders;

-- order_items: the quantity check applies after deduplication; a quantity below 1
-- is quarantined (a NULL quantity passes).
CREATE OR REPLACE TEMP TABLE order_items_checked AS
WITH typed AS (
    SELECT
        TRY_CAST(trimmed(order_item_id) AS BIGINT) AS order_item_id,
        TRY_CAST(trimmed(order_id) AS BIGINT) AS order_id,
        TRY_CAST(trimmed(product_id) AS BIGINT) AS product_id,
        TRY_CAST(trimmed(quantity) AS INTEGER) AS quantity,
        TRY_CAST(trimmed(unit_price) AS DECIMAL(10, 2)) AS unit_price,
        TRY_CAST(trimmed(discount) AS DECIMAL(4, 2)) AS discount,
        _loaded_at, _source, _batch_id
    FROM bronze.order_items
),
latest AS (
    SELECT * FROM typed
    WHERE order_item_id IS NOT NULL
    QUALIFY row_number() OVER (
        PARTITION BY order_item_id
        ORDER BY _loaded_at DESC, order_id, product_id, quantity, unit_price, discount
    ) = 1
)
SELECT *, coalesce(quantity >= 1, true) AS quantity_positive FROM latest;

CREATE OR REPLACE TABLE silver.order_items AS
SELECT * EXCLUDE (quantity_positive) FROM order_items_checked WHERE quantity_positive;

CREATE OR REPLACE TABLE silver.order_items__quarantine AS
SELECT * EXCLUDE (quantity_positive),
    ['quantity_positive'] AS _wk_failed_checks,
    getvariable('run_id')::VARCHAR AS _wk_run_id
FROM order_items_checked WHERE NOT quantity_positive;

-- checks: silver.order_items (rows checked, rows failing quantity_positive)
SELECT count(*) AS rows, count(*) FILTER (WHERE NOT quantity_positive) AS quantity_positive
FROM order_items_checked;

CREATE OR REPLACE TABLE silver.order_lines AS
SELECT i.*, o.customer_id, o.order_date, o.status, o.channel,
    i.quantity * i.unit_price AS gross_amount,
    round(i.quantity * i.unit_price * i.discount, 2) AS discount_amount,
    gross_amount - discount_amount AS amount
FROM silver.order_items AS i
LEFT JOIN silver.orders AS o ON o.order_id = i.order_id;

-- Gold. The pipeline's checks run on every gold table before it is published:
-- row_count (with no previous run to compare with: the count), null_percentage
-- (each column's NULLs) and unique_keys (rows whose key another row shares; it
-- rejects). A dimension's are counted on its input, as warehouse-kit does.
--
-- checks: gold.dim_customer (on silver.customers)
SELECT count(*) AS rows,
    count(*) FILTER (WHERE customer_id IS NULL) AS customer_id_nulls,
    count(*) FILTER (WHERE first_name IS NULL) AS first_name_nulls,
    count(*) FILTER (WHERE last_name IS NULL) AS last_name_nulls,
    count(*) FILTER (WHERE email IS NULL) AS email_nulls,
    count(*) FILTER (WHERE segment IS NULL) AS segment_nulls,
    count(*) FILTER (WHERE city IS NULL) AS city_nulls,
    count(*) FILTER (WHERE country IS NULL) AS country_nulls,
    count(*) FILTER (WHERE signup_date IS NULL) AS signup_date_nulls,
    count(*) FILTER (WHERE updated_at IS NULL) AS updated_at_nulls,
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT count(*) AS n FROM silver.customers
        WHERE customer_id IS NOT NULL GROUP BY customer_id HAVING count(*) > 1
    )) AS unique_keys
FROM silver.customers;

-- Type-2 dimensions, first load: one version per member, valid from the
-- pipeline's beginning of time (1900-01-01) to its end (9999-12-31), current and
-- not deleted; surrogate keys numbered by natural key; the unknown member -1;
-- each version first seen when its row was loaded, written by this run.
-- (dim_customer's type-1 columns are each member's latest: its only row here.)
CREATE OR REPLACE TABLE gold.dim_customer AS
SELECT row_number() OVER (ORDER BY customer_id) AS customer_key,
    customer_id, first_name, last_name, email, segment, city, country, signup_date, updated_at,
    TIMESTAMP '1900-01-01' AS effective_from, TIMESTAMP '9999-12-31' AS effective_to,
    true AS is_current, false AS is_deleted,
    _loaded_at AS _wk_first_seen, getvariable('run_id')::VARCHAR AS _wk_run_id
FROM silver.customers
UNION ALL
SELECT -1, NULL, 'Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown', NULL, NULL,
    TIMESTAMP '1900-01-01', TIMESTAMP '9999-12-31', true, false,
    TIMESTAMP '1900-01-01', getvariable('run_id')::VARCHAR;

-- checks: gold.dim_product (on silver.products)
SELECT count(*) AS rows,
    count(*) FILTER (WHERE product_id IS NULL) AS product_id_nulls,
    count(*) FILTER (WHERE product_name IS NULL) AS product_name_nulls,
    count(*) FILTER (WHERE category IS NULL) AS category_nulls,
    count(*) FILTER (WHERE unit_price IS NULL) AS unit_price_nulls,
    count(*) FILTER (WHERE updated_at IS NULL) AS updated_at_nulls,
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT count(*) AS n FROM silver.products
        WHERE product_id IS NOT NULL GROUP BY product_id HAVING count(*) > 1
    )) AS unique_keys
FROM silver.products;

CREATE OR REPLACE TABLE gold.dim_product AS
SELECT row_number() OVER (ORDER BY product_id) AS product_key,
    product_id, product_name, category, unit_price, updated_at,
    TIMESTAMP '1900-01-01' AS effective_from, TIMESTAMP '9999-12-31' AS effective_to,
    true AS is_current, false AS is_deleted,
    _loaded_at AS _wk_first_seen, getvariable('run_id')::VARCHAR AS _wk_run_id
FROM silver.products
UNION ALL
SELECT -1, NULL, 'Unknown', 'Unknown', NULL, NULL,
    TIMESTAMP '1900-01-01', TIMESTAMP '9999-12-31', true, false,
    TIMESTAMP '1900-01-01', getvariable('run_id')::VARCHAR;

-- Every day of the whole years with orders; the fiscal year starts in July.
-- The unknown day -1 has "Unknown" labels, like the other dimensions' unknown members.
CREATE OR REPLACE TABLE gold.dim_date AS
WITH bounds AS (
    SELECT make_date(year(min(order_date)), 1, 1) AS first_day,
        make_date(year(max(order_date)) + 1, 1, 1) AS end_day
    FROM silver.orders
),
days AS (
    SELECT unnest(range(first_day, end_day, INTERVAL 1 DAY))::DATE AS d FROM bounds
)
SELECT
    (year(d) * 10000 + month(d) * 100 + day(d))::INTEGER AS date_key,
    d AS date,
    year(d)::SMALLINT AS year,
    quarter(d)::SMALLINT AS quarter,
    month(d)::SMALLINT AS month,
    strftime(d, '%B') AS month_name,
    day(d)::SMALLINT AS day_of_month,
    isodow(d)::SMALLINT AS day_of_week,
    dayname(d) AS weekday_name,
    isodow(d) >= 6 AS is_weekend,
    weekofyear(d)::SMALLINT AS iso_week,
    isoyear(d)::SMALLINT AS iso_year,
    year(d + INTERVAL 6 MONTH)::SMALLINT AS fiscal_year,
    quarter(d + INTERVAL 6 MONTH)::SMALLINT AS fiscal_quarter
FROM days
UNION ALL
SELECT -1, NULL, NULL, NULL, NULL, 'Unknown', NULL, NULL, 'Unknown', NULL, NULL, NULL, NULL, NULL;

-- checks: gold.dim_date
SELECT count(*) AS rows,
    count(*) FILTER (WHERE date_key IS NULL) AS date_key_nulls,
    count(*) FILTER (WHERE date IS NULL) AS date_nulls,
    count(*) FILTER (WHERE year IS NULL) AS year_nulls,
    count(*) FILTER (WHERE quarter IS NULL) AS quarter_nulls,
    count(*) FILTER (WHERE month IS NULL) AS month_nulls,
    count(*) FILTER (WHERE month_name IS NULL) AS month_name_nulls,
    count(*) FILTER (WHERE day_of_month IS NULL) AS day_of_month_nulls,
    count(*) FILTER (WHERE day_of_week IS NULL) AS day_of_week_nulls,
    count(*) FILTER (WHERE weekday_name IS NULL) AS weekday_name_nulls,
    count(*) FILTER (WHERE is_weekend IS NULL) AS is_weekend_nulls,
    count(*) FILTER (WHERE iso_week IS NULL) AS iso_week_nulls,
    count(*) FILTER (WHERE iso_year IS NULL) AS iso_year_nulls,
    count(*) FILTER (WHERE fiscal_year IS NULL) AS fiscal_year_nulls,
    count(*) FILTER (WHERE fiscal_quarter IS NULL) AS fiscal_quarter_nulls,
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT count(*) AS n FROM gold.dim_date
        WHERE date IS NOT NULL GROUP BY date HAVING count(*) > 1
    )) AS unique_keys
FROM gold.dim_date;

-- Each fact points to the member version valid at its order date: the same
-- natural key and effective_from <= t < effective_to (comparisons only, so the
-- join hashes on the key). An unknown date means the current version: the last
-- instant before the end lies in it alone. A member missing then points to the
-- unknown member, whose natural key is NULL and never matches.
CREATE OR REPLACE TABLE gold.fact_orders AS
WITH lines AS (
    SELECT *,
        coalesce(order_date::TIMESTAMP, TIMESTAMP '9999-12-30 23:59:59.999999') AS at
    FROM silver.order_lines
)
SELECT
    coalesce(c.customer_key, -1) AS customer_key,
    coalesce(p.product_key, -1) AS product_key,
    coalesce(d.date_key, -1) AS date_key,
    l.order_item_id, l.order_id, l.status, l.channel, l.quantity, l.unit_price, l.discount,
    l.gross_amount, l.amount
FROM lines AS l
LEFT JOIN gold.dim_customer AS c
    ON c.customer_id = l.customer_id AND c.effective_from <= l.at AND l.at < c.effective_to
LEFT JOIN gold.dim_product AS p
    ON p.product_id = l.product_id AND p.effective_from <= l.at AND l.at < p.effective_to
LEFT JOIN gold.dim_date AS d ON d.date = l.order_date;

-- checks: gold.fact_orders (order_amount_positive rejects too), and how many facts
-- point to each unknown member
SELECT count(*) AS rows,
    count(*) FILTER (WHERE amount < 0 OR amount > 999999) AS order_amount_positive,
    count(*) FILTER (WHERE customer_key IS NULL) AS customer_key_nulls,
    count(*) FILTER (WHERE product_key IS NULL) AS product_key_nulls,
    count(*) FILTER (WHERE date_key IS NULL) AS date_key_nulls,
    count(*) FILTER (WHERE order_item_id IS NULL) AS order_item_id_nulls,
    count(*) FILTER (WHERE order_id IS NULL) AS order_id_nulls,
    count(*) FILTER (WHERE status IS NULL) AS status_nulls,
    count(*) FILTER (WHERE channel IS NULL) AS channel_nulls,
    count(*) FILTER (WHERE quantity IS NULL) AS quantity_nulls,
    count(*) FILTER (WHERE unit_price IS NULL) AS unit_price_nulls,
    count(*) FILTER (WHERE discount IS NULL) AS discount_nulls,
    count(*) FILTER (WHERE gross_amount IS NULL) AS gross_amount_nulls,
    count(*) FILTER (WHERE amount IS NULL) AS amount_nulls,
    (SELECT coalesce(sum(n), 0) FROM (
        SELECT count(*) AS n FROM gold.fact_orders
        WHERE order_item_id IS NOT NULL GROUP BY order_item_id HAVING count(*) > 1
    )) AS unique_keys,
    count(*) FILTER (WHERE customer_key = -1) AS unknown_customers,
    count(*) FILTER (WHERE product_key = -1) AS unknown_products,
    count(*) FILTER (WHERE date_key = -1) AS unknown_dates
FROM gold.fact_orders;

CREATE OR REPLACE TABLE gold.mart_monthly_sales AS
SELECT d.year, d.month, p.category,
    count(DISTINCT f.order_id) AS orders,
    sum(f.quantity) AS units,
    sum(f.amount) AS revenue
FROM gold.fact_orders AS f
LEFT JOIN gold.dim_product AS p ON p.product_key = f.product_key
LEFT JOIN gold.dim_date AS d ON d.date_key = f.date_key
WHERE f.status IN ('completed', 'shipped')
GROUP BY ALL;

-- checks: gold.mart_monthly_sales (no key: row_count and null_percentage)
SELECT count(*) AS rows,
    count(*) FILTER (WHERE year IS NULL) AS year_nulls,
    count(*) FILTER (WHERE month IS NULL) AS month_nulls,
    count(*) FILTER (WHERE category IS NULL) AS category_nulls,
    count(*) FILTER (WHERE orders IS NULL) AS orders_nulls,
    count(*) FILTER (WHERE units IS NULL) AS units_nulls,
    count(*) FILTER (WHERE revenue IS NULL) AS revenue_nulls
FROM gold.mart_monthly_sales;
