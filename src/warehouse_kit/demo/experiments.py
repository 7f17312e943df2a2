"""The example experiments' data: exposures and events with a known true effect.

`generate` writes ``exposures.parquet`` and ``events.parquet`` for two
experiments over the same users, from 2025-03-03 to 2025-03-16 (14 days).
Like `warehouse_kit.demo`, DuckDB builds every row in SQL; each pseudo-random
value is a hash of (row key, seed, salt), so the same ``(users, seed)`` gives
the same rows. Units are assigned with the documented hash of
`warehouse_kit.analytics.experiments.assignment`, written here in DuckDB SQL.

Users
    User ``i`` (ids 1 .. users) buys on each of 49 daily "slots" with
    probability ``p`` = min(0.5, 0.01 * a), ``a`` lognormal (sd 1.5 on the log
    scale, mean 1): a few users buy often, most rarely, as in a shop. An
    order's amount is lognormal around the user's own level (mean 40, sd 0.5
    on the log scale), so heavy buyers stay heavy: what CUPED exploits. Slots
    0-27 fall in the 28 days before the user's first exposure to
    ``checkout_redesign`` (the pre-period), 28-41 between that exposure and the
    end, 42-48 in the 14 days after the end (which no analysis may count).
    Support tickets: 2 slots (one before, one after the exposure), 3% each.

``checkout_redesign`` (50/50): the known effect
    The treatment multiplies ``p`` by 1.15 on slots 28-41, nothing else. The
    true effects (`true_effects`) follow: conversion and revenue per user rise
    (by ``mean(1 - (1 - 1.15 p)^14) - mean(1 - (1 - p)^14)`` and ``14 * 0.15 *
    mean(p * amount level)``); order value and support tickets do not change
    (the same factor on every user's orders leaves the ratio as it was). Each
    user's first exposure is uniform over the 14 days; 25% are exposed again
    later (the analysis keeps the first).

``new_onboarding`` (50/50): a sample ratio mismatch
    No effect at all, but 7% of the treatment's users never reach the
    exposure log (a logging bug), so the split is about 50/46.5.

40 QA exposures (users 1,000,001 ..) are logged the day before the start, and
must be left out by the analysis window.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

START = datetime(2025, 3, 3)
DAYS = 14
LIFT = 1.15
PRE_DAYS = 28
EXPERIMENTS = ("checkout_redesign", "new_onboarding")
SEED = 17
"""The seed of ``seeds/experiments``."""
LOST = 0.07
"""The share of new_onboarding's treatment units whose exposures are lost."""

MACROS = """
CREATE TEMP MACRO h(k, salt) AS hash(hash(k, getvariable('seed'), salt));
-- A uniform number in (0, 1) from 53 bits of the hash.
CREATE TEMP MACRO rnd(k, salt) AS ((h(k, salt) >> 11)::DOUBLE + 0.5) / 9007199254740992;
CREATE TEMP MACRO normal(k, salt) AS
    sqrt(-2 * ln(rnd(k, salt || ' radius'))) * cos(2 * pi() * rnd(k, salt || ' angle'));
CREATE TEMP MACRO seconds(x) AS to_seconds(floor(x)::BIGINT);
-- The documented assignment hash (warehouse_kit.analytics.experiments.assignment), 50/50.
CREATE TEMP MACRO bucket(key, unit) AS
    ('0x' || substr(md5(key || ':' || unit::VARCHAR), 1, 7))::INTEGER % 10000;
CREATE TEMP MACRO half(key, unit) AS
    CASE WHEN bucket(key, unit) < 5000 THEN 'control' ELSE 'treatment' END;
"""

USERS = """
CREATE TEMP TABLE users AS
SELECT i + 1 AS user_id,
    least(0.5, 0.01 * exp(1.5 * normal(i, 'activity') - 1.125)) AS p,
    40 * exp(0.5 * normal(i, 'value') - 0.125) AS level,
    half('checkout_redesign', i + 1) AS checkout,
    half('new_onboarding', i + 1) AS onboarding,
    $start + seconds(rnd(i, 'checkout at') * $days * 86400) AS checkout_at,
    $start + seconds(rnd(i, 'onboarding at') * $days * 86400) AS onboarding_at
FROM range($users) AS r(i)
"""

EXPOSURES = """
COPY (
WITH ends AS (SELECT *, $start + to_days($days) AS stop FROM users),
onboarded AS (
    SELECT * FROM ends WHERE NOT (onboarding = 'treatment' AND rnd(user_id, 'lost') < $lost)
),
rows AS (
    SELECT 'checkout_redesign' AS experiment, user_id, checkout AS variant,
        checkout_at AS exposed_at
    FROM ends
    UNION ALL
    SELECT 'checkout_redesign', user_id, checkout,
        checkout_at + seconds(rnd(user_id, 'again') * date_diff('second', checkout_at, stop))
    FROM ends WHERE rnd(user_id, 'checkout twice') < 0.25
    UNION ALL
    SELECT 'new_onboarding', user_id, onboarding, onboarding_at FROM onboarded
    UNION ALL
    SELECT 'new_onboarding', user_id, onboarding,
        onboarding_at + seconds(rnd(user_id, 'again 2') * date_diff('second', onboarding_at, stop))
    FROM onboarded WHERE rnd(user_id, 'onboarding twice') < 0.25
    UNION ALL
    SELECT 'checkout_redesign', 1000001 + j,
        CASE WHEN j % 2 = 0 THEN 'control' ELSE 'treatment' END, $start - to_days(1) + to_minutes(j)
    FROM range(40) AS q(j)
)
SELECT * FROM rows ORDER BY experiment, user_id, exposed_at
) TO $path (FORMAT parquet, COMPRESSION zstd)
"""

EVENTS = """
COPY (
WITH slots AS (
    SELECT u.*, k, u.user_id * 64 + k AS key,
        CASE WHEN k < 28 THEN 'pre' WHEN k < 42 THEN 'during' ELSE 'after' END AS period
    FROM users AS u, range(49) AS s(k)
),
orders AS (
    SELECT * FROM slots
    WHERE rnd(key, 'order') < p * CASE
        WHEN period = 'during' AND checkout = 'treatment' THEN $lift ELSE 1 END
),
tickets AS (
    SELECT u.*, 60 + k AS k, u.user_id * 64 + 60 + k AS key,
        CASE WHEN k = 0 THEN 'pre' ELSE 'during' END AS period
    FROM users AS u, range(2) AS s(k)
    WHERE rnd(u.user_id * 64 + 60 + k, 'ticket') < 0.03
),
events AS (
    SELECT key, user_id, 'purchase' AS event_type, period, checkout_at,
        round(level * exp(0.6 * normal(key, 'amount') - 0.18), 2)::DECIMAL(10, 2) AS amount
    FROM orders
    UNION ALL
    SELECT key, user_id, 'support_ticket', period, checkout_at, NULL FROM tickets
)
SELECT key AS event_id, user_id, event_type,
    CASE period
        WHEN 'pre' THEN checkout_at - to_days($pre_days)
            + seconds(rnd(key, 'at') * $pre_days * 86400)
        WHEN 'during' THEN checkout_at + seconds(rnd(key, 'at')
            * date_diff('second', checkout_at, $start + to_days($days)))
        ELSE $start + to_days($days) + seconds(rnd(key, 'at') * 14 * 86400)
    END AS event_at,
    amount
FROM events
ORDER BY event_id
) TO $path (FORMAT parquet, COMPRESSION zstd)
"""

TRUTH = """
SELECT
    avg(1 - pow(1 - $lift * p, $days)) - avg(1 - pow(1 - p, $days)) AS conversion,
    avg(1 - pow(1 - $lift * p, $days)) / avg(1 - pow(1 - p, $days)) - 1 AS conversion_relative,
    $days * ($lift - 1) * avg(p * level) AS revenue_per_user,
    $lift - 1 AS revenue_per_user_relative
FROM users
"""


def _connect(users: int, seed: int) -> duckdb.DuckDBPyConnection:
    if not isinstance(users, int) or not 1 <= users < 2**40:
        raise ValueError(f"users must be a positive integer, not {users!r}")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET VARIABLE seed = $seed::BIGINT", {"seed": seed})
    con.execute(MACROS)
    con.execute(USERS, {"start": START, "days": DAYS, "users": users})
    return con


def generate(out_dir: Path, *, users: int = 20_000, seed: int = SEED) -> dict[str, int]:
    """Write ``exposures.parquet``, ``events.parquet`` and ``truth.json`` into `out_dir`;
    return the rows written per table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    common = {"start": START, "days": DAYS}
    with _connect(users, seed) as con:
        exposures = {**common, "lost": LOST, "path": str(out_dir / "exposures.parquet")}
        events = {
            **common,
            "lift": LIFT,
            "pre_days": PRE_DAYS,
            "path": str(out_dir / "events.parquet"),
        }
        counts = {
            "exposures": _rows(con.execute(EXPOSURES, exposures)),
            "events": _rows(con.execute(EVENTS, events)),
        }
        truth = _truth(con)
    text = json.dumps(truth, indent=2, sort_keys=True) + "\n"
    (out_dir / "truth.json").write_text(text, encoding="utf-8")
    return counts


def true_effects(
    *, users: int = 20_000, seed: int = SEED
) -> dict[str, dict[str, dict[str, float]]]:
    """Experiment -> metric -> the true absolute and relative lift of the treatment."""
    with _connect(users, seed) as con:
        return _truth(con)


def _truth(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, float]]]:
    row = con.execute(TRUTH, {"lift": LIFT, "days": DAYS}).fetchone()
    assert row is not None
    conversion, conversion_rel, revenue, revenue_rel = (float(value) for value in row)
    none = {"absolute": 0.0, "relative": 0.0}
    checkout = {
        "conversion": {"absolute": round(conversion, 8), "relative": round(conversion_rel, 8)},
        "revenue_per_user": {"absolute": round(revenue, 8), "relative": round(revenue_rel, 8)},
        "order_value": none,
        "support_tickets": none,
    }
    onboarding = dict.fromkeys(["conversion", "revenue_per_user", "order_value"], none)
    return {"checkout_redesign": checkout, "new_onboarding": onboarding}


def _rows(result: Any) -> int:
    (count,) = result.fetchone()
    return int(count)


def window() -> tuple[date, date]:
    """The example experiments' first and last day."""
    return START.date(), (START + timedelta(days=DAYS - 1)).date()
