-- The example pipeline (pipelines/seeds-to-warehouse.yml), written by hand for DuckDB.
--
-- The baseline of benchmarks/pipeline_scale.py: the same tables, columns and
-- semantics as warehouse-kit builds (src/warehouse_kit/transforms.py and
-- materialize.py), without its bookkeeping. The caller sets three variables
-- with prepared-statement parameters, so no value is ever formatted into SQL:
--   seeds      the folder holding the four *_seed.csv files
--   loaded_at  the load timestamp (warehouse-kit: the run's start)
--   batch_id   the batch id (warehouse-kit: a sha256 of the files)
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
    'shop_files: ' || getvariable('seeds') || '/customers_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/customers_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.products AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_files: ' || getvariable('seeds') || '/products_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/products_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.orders AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_files: ' || getvariable('seeds') || '/orders_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/orders_seed.csv', all_varchar = true, header = true);

CREATE OR REPLACE TABLE bronze.order_items AS
SELECT *,
    getvariable('loaded_at')::TIMESTAMP AS _loaded_at,
    'shop_files: ' || getvariable('seeds') || '/order_items_seed.csv' AS _source,
    getvariable('batch_id')::VARCHAR AS _batch_id
FROM read_csv(getvariable('seeds') || '/order_items_seed.csv', all_varchar = true, header = true);

-- Silver: typed, rows without a key dropped, the latest row per key kept
-- (the other data columns break ties, in order), then the model's rules.
CREATE OR REPLACE TABLE silver.customers AS
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
)
SELECT * REPLACE (lower(email) AS email),
    coalesce(regexp_matches(lower(email), '^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$'), false)
        AS email_is_valid
FROM latest;

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

-- The quantity rule applies after deduplication, as in the pipeline.
CREATE OR REPLACE TABLE silver.order_items AS
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
SELECT * FROM latest WHERE quantity > 0;

CREATE OR REPLACE TABLE silver.order_lines AS
SELECT i.*, o.customer_id, o.order_date, o.status, o.channel,
    i.quantity * i.unit_price AS gross_amount,
    round(i.quantity * i.unit_price * i.discount, 2) AS discount_amount,
    gross_amount - discount_amount AS amount
FROM silver.order_items AS i
LEFT JOIN silver.orders AS o ON o.order_id = i.order_id;

-- Gold: dimensions numbered by their natural key, each with an unknown member -1.
CREATE OR REPLACE TABLE gold.dim_customer AS
SELECT row_number() OVER (ORDER BY customer_id) AS customer_key,
    customer_id, first_name, last_name, email, email_is_valid, segment, city, country, signup_date
FROM silver.customers
UNION ALL
SELECT -1, NULL, 'Unknown', 'Unknown', 'Unknown', NULL, 'Unknown', 'Unknown', 'Unknown', NULL;

CREATE OR REPLACE TABLE gold.dim_product AS
SELECT row_number() OVER (ORDER BY product_id) AS product_key,
    product_id, product_name, category, unit_price
FROM silver.products
UNION ALL
SELECT -1, NULL, 'Unknown', 'Unknown', NULL;

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

-- A fact whose member is missing points to the unknown member; the unknown
-- members' natural keys are NULL, so they never match a lookup.
CREATE OR REPLACE TABLE gold.fact_orders AS
SELECT
    coalesce(c.customer_key, -1) AS customer_key,
    coalesce(p.product_key, -1) AS product_key,
    coalesce(d.date_key, -1) AS date_key,
    l.order_item_id, l.order_id, l.status, l.channel, l.quantity, l.unit_price, l.discount,
    l.gross_amount, l.amount
FROM silver.order_lines AS l
LEFT JOIN gold.dim_customer AS c ON c.customer_id = l.customer_id
LEFT JOIN gold.dim_product AS p ON p.product_id = l.product_id
LEFT JOIN gold.dim_date AS d ON d.date = l.order_date;

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
