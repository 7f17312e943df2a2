"""Checks evaluated on DuckDB and PostgreSQL: the specification.

``orders`` is 1,000 generated rows (fixed seed) with a known number of
violations of each rule: exactly 37 emails fail the regex, 12 are NULL, and
so on. Every count the engine gives is compared with the same rule computed
independently, in plain Python over the same rows.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from warehouse_kit.core.backends import Warehouse
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.quality import (
    AcceptedValues,
    BaseCheck,
    CheckContext,
    CheckResults,
    Expression,
    Freshness,
    NotNull,
    NullPercentage,
    Range,
    Regex,
    Relationships,
    RowCount,
    Schema,
    Unique,
    UniqueKeys,
    evaluate,
    flag,
    quarantine_split,
)

N = 1000
EMAIL = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"
STATUSES = ["new", "paid", "shipped"]
NEWEST = datetime(2024, 6, 1, 12, 0)
CUSTOMER_IDS = range(1, 201)

# The violations planted in the generated rows.
BAD_EMAILS, NULL_EMAILS = 37, 12
BAD_STATUSES, NULL_STATUSES = 23, 8
NEGATIVE_AMOUNTS, HUGE_AMOUNTS, NULL_AMOUNTS = 6, 4, 7
UNKNOWN_CUSTOMERS, NULL_CUSTOMERS = 15, 11
COPIED_IDS, NULL_IDS = 5, 3  # 5 rows copy another row's id: 10 rows share an id
COPIED_LINES = 9  # 9 orders get two line 1s: 18 rows share (order_id, line_no)
BAD_QUANTITIES, NULL_QUANTITIES = 14, 5

SCHEMA = pa.schema(
    [
        ("row_no", pa.int64()),
        ("id", pa.int64()),
        ("order_id", pa.int64()),
        ("line_no", pa.int64()),
        ("email", pa.string()),
        ("status", pa.string()),
        ("amount", pa.decimal128(10, 2)),
        ("customer_id", pa.int64()),
        ("quantity", pa.int64()),
        ("updated_at", pa.timestamp("us")),
        ("order_date", pa.date32()),
    ]
)


def generate(seed: int = 7) -> list[dict[str, Any]]:
    """N order lines, valid but for the planted violations (disjoint draws per column)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(N):
        updated = NEWEST - timedelta(minutes=rnd.randrange(0, 60 * 24 * 90))
        rows.append(
            {
                "row_no": i,
                "id": i + 1,
                "order_id": i // 2 + 1,
                "line_no": i % 2 + 1,
                "email": f"user{i}@example.com",
                "status": rnd.choice(STATUSES),
                "amount": Decimal(rnd.randrange(0, 500_000)) / 100,
                "customer_id": rnd.choice(CUSTOMER_IDS),
                "quantity": rnd.randint(1, 10),
                "updated_at": updated,
                "order_date": updated.date(),
            }
        )
    rows[0]["updated_at"], rows[0]["order_date"] = NEWEST, NEWEST.date()
    rows[1]["amount"], rows[2]["amount"] = Decimal("0.00"), Decimal("999999.00")  # bounds pass

    def plant(column: str, count: int, value: Callable[[int], Any]) -> None:
        for i in rnd.sample(range(3, N), count):
            rows[i][column] = value(i)

    bad_emails = [lambda i: f"user{i}example.com", lambda i: f"user{i}@example", lambda i: ""]
    plant("email", BAD_EMAILS, lambda i: bad_emails[i % 3](i))
    free = [i for i in range(3, N) if re.search(EMAIL, rows[i]["email"])]
    for i in rnd.sample(free, NULL_EMAILS):
        rows[i]["email"] = None
    plant("status", BAD_STATUSES, lambda i: ["lost", "PAID", "shipped "][i % 3])
    _plant_disjoint(rnd, rows, "status", NULL_STATUSES, STATUSES, None)
    plant("amount", NEGATIVE_AMOUNTS, lambda i: Decimal("-0.01") * (i + 1))
    _plant_disjoint(rnd, rows, "amount", HUGE_AMOUNTS, None, Decimal("1000000.00"))
    _plant_disjoint(rnd, rows, "amount", NULL_AMOUNTS, None, None)
    plant("customer_id", UNKNOWN_CUSTOMERS, lambda i: 9000 + i)
    _plant_disjoint(rnd, rows, "customer_id", NULL_CUSTOMERS, CUSTOMER_IDS, None)
    plant("quantity", BAD_QUANTITIES, lambda i: -(i % 3))
    _plant_disjoint(rnd, rows, "quantity", NULL_QUANTITIES, range(1, 11), None)
    ids = rnd.sample(range(3, N), 2 * COPIED_IDS + NULL_IDS)
    for source, target in zip(ids[:COPIED_IDS], ids[COPIED_IDS : 2 * COPIED_IDS], strict=True):
        rows[target]["id"] = rows[source]["id"]
    for i in ids[2 * COPIED_IDS :]:
        rows[i]["id"] = None
    for order in rnd.sample(range(2, N // 2), COPIED_LINES):  # line 2 becomes a second line 1
        rows[2 * order + 1]["line_no"] = 1
    return rows


def _plant_disjoint(
    rnd: random.Random, rows: list[dict[str, Any]], column: str, count: int, valid: Any, value: Any
) -> None:
    """Set `value` on `count` rows whose `column` is still valid (not already planted)."""

    def still_valid(v: Any) -> bool:
        if valid is None:  # amounts: valid means within [0, 999999]
            return v is not None and 0 <= v <= 999999
        return v in valid

    candidates = [i for i in range(3, N) if still_valid(rows[i][column])]
    for i in rnd.sample(candidates, count):
        rows[i][column] = value


ROWS = generate()


# --- the rules, computed independently in Python ---------------------------------------


def failing_regex(row: dict[str, Any]) -> bool:
    return row["email"] is not None and re.search(EMAIL, row["email"]) is None


def shared(columns: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    keys = Counter(tuple(r[c] for c in columns) for r in ROWS)

    def fails(row: dict[str, Any]) -> bool:
        key = tuple(row[c] for c in columns)
        return None not in key and keys[key] > 1

    return fails


RULES: list[tuple[BaseCheck, Callable[[dict[str, Any]], bool], int]] = [
    (NotNull(field="email"), lambda r: r["email"] is None, NULL_EMAILS),
    (Regex(name="email_valid", field="email", pattern=EMAIL), failing_regex, BAD_EMAILS),
    (
        AcceptedValues(field="status", values=STATUSES),
        lambda r: r["status"] is not None and r["status"] not in STATUSES,
        BAD_STATUSES,
    ),
    (
        Range(name="amount_range", field="amount", min=0, max=999999),
        lambda r: r["amount"] is not None and not 0 <= r["amount"] <= 999999,
        NEGATIVE_AMOUNTS + HUGE_AMOUNTS,
    ),
    (
        Range(name="amount_open", field="amount", min=0, max=999999, inclusive=False),
        lambda r: r["amount"] is not None and not 0 < r["amount"] < 999999,
        NEGATIVE_AMOUNTS + HUGE_AMOUNTS + 2,  # the two rows exactly on the bounds
    ),
    (
        Range(name="recent", field="order_date", min="2024-05-01"),
        lambda r: r["order_date"] is not None and r["order_date"] < date(2024, 5, 1),
        None,
    ),
    (Unique(fields="id"), shared(("id",)), 2 * COPIED_IDS),
    (Unique(fields=["order_id", "line_no"]), shared(("order_id", "line_no")), 2 * COPIED_LINES),
    (
        Relationships(name="customer_exists", fields="customer_id", to="customers", to_fields="id"),
        lambda r: r["customer_id"] is not None and r["customer_id"] not in CUSTOMER_IDS,
        UNKNOWN_CUSTOMERS,
    ),
    (
        Expression(name="quantity_positive", expression="quantity > 0"),
        lambda r: r["quantity"] is not None and not r["quantity"] > 0,
        BAD_QUANTITIES,
    ),
]
RULE_IDS = [check.name for check, _, _ in RULES]


def expected_failures(check: BaseCheck) -> set[int]:
    rule = next(rule for c, rule, _ in RULES if c.name == check.name)
    return {r["row_no"] for r in ROWS if rule(r)}


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders(shared_warehouse: Warehouse) -> ir.Table:
    con = shared_warehouse.con
    con.create_table("orders", ibis.memtable(pa.Table.from_pylist(ROWS, SCHEMA)))
    customers = [{"id": i, "name": f"customer {i}"} for i in CUSTOMER_IDS]
    con.create_table("customers", ibis.memtable(pa.Table.from_pylist(customers)))
    # Two lines of one order for composite relationships.
    lines = [{"order_id": r["order_id"], "line_no": r["line_no"]} for r in ROWS[:100]]
    con.create_table("order_lines", ibis.memtable(pa.Table.from_pylist(lines)))
    return con.table("orders")


@pytest.fixture
def context(shared_warehouse: Warehouse, orders: ir.Table) -> Callable[..., CheckContext]:
    known = {name: shared_warehouse.con.table(name) for name in ("customers", "order_lines")}

    def tables(ref: str) -> ir.Table:
        if ref not in known:
            raise ConfigError(f"unknown model {ref!r}")
        return known[ref]

    def make(**options: Any) -> CheckContext:
        return CheckContext(
            **{
                "model": "silver.orders",
                "warehouse": shared_warehouse,
                "tables": tables,
                "key": ("row_no",),
                **options,
            }
        )

    return make


@pytest.fixture
def queries(shared_warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The expressions sent to the engine (every query goes through to_pyarrow)."""
    sent: list[Any] = []
    con = shared_warehouse.con
    run = con.to_pyarrow

    def counted(expr: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(expr)
        return run(expr, *args, **kwargs)

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("checks query through Warehouse.rows only")

    monkeypatch.setattr(con, "to_pyarrow", counted)
    for name in ("execute", "to_pandas"):
        monkeypatch.setattr(con, name, refused)
    return sent


def by_name(results: CheckResults) -> dict[str, Any]:
    return {r.check: r for r in results}


# --- row-level checks -----------------------------------------------------------------


def test_the_generated_rows_hold_the_planted_violations():
    for check, rule, planted in RULES:
        if planted is not None:
            assert sum(map(rule, ROWS)) == planted, check.name


@pytest.mark.parametrize(("check", "rule", "planted"), RULES, ids=RULE_IDS)
def test_a_row_check_counts_exactly_the_rows_that_fail_its_rule(
    orders, context, check, rule, planted
):
    (result,) = evaluate(orders, [check], context())
    expected = expected_failures(check)
    assert result.failing_rows == len(expected) > 0
    assert result.total_rows == N
    assert (result.status, result.action) == ("warn", "warn")
    assert result.message.startswith(f"{len(expected)} of {N} rows fail")
    assert len(result.sample) == 5
    assert {row["row_no"] for row in result.sample} <= expected


def test_all_row_checks_in_one_query_give_the_same_counts(orders, context, queries):
    checks = [check for check, _, _ in RULES]
    results = evaluate(orders, checks, context(), sample_size=0)
    assert len(queries) == 1
    for check in checks:
        assert by_name(results)[check.name].failing_rows == len(expected_failures(check))


def test_the_row_level_part_is_one_aggregate_over_one_scan(orders, context, queries):
    checks = [
        check for check, _, _ in RULES if not isinstance(check, Relationships | Unique | UniqueKeys)
    ]
    evaluate(orders, checks, context(), sample_size=0)
    (query,) = queries
    sql = ibis.to_sql(query)
    assert sql.count('"orders"') == 1  # the table is read once
    assert sql.upper().count("GROUP BY") == 0  # one row: every count in one aggregate


def test_a_uniqueness_check_adds_one_grouped_read_of_its_keys(orders, context, queries):
    checks = [check for check, _, _ in RULES if not isinstance(check, Relationships)]
    evaluate(orders, checks, context(), sample_size=0)
    (query,) = queries
    sql = ibis.to_sql(query)
    uniqueness = [c for c in checks if isinstance(c, Unique | UniqueKeys)]
    assert sql.upper().count("GROUP BY") == len(uniqueness)  # the keys that repeat, once each


def test_samples_are_one_limited_query_per_failing_check(orders, context, queries):
    checks = [NotNull(field="email"), NotNull(field="row_no"), Regex(field="email", pattern=EMAIL)]
    results = evaluate(orders, checks, context(), sample_size=3)
    assert [r.status for r in results] == ["warn", "pass", "warn"]
    assert len(queries) == 1 + 2
    assert all(len(r.sample) == 3 for r in results if r.status != "pass")


def test_a_sample_shows_the_key_and_the_checked_column_in_key_order(orders, context):
    (result,) = evaluate(orders, [Regex(field="email", pattern=EMAIL)], context())
    failing = sorted(expected_failures(RULES[1][0]))[:5]
    assert result.sample == [{"row_no": i, "email": ROWS[i]["email"]} for i in failing]


def test_without_a_key_a_sample_shows_whole_rows_as_json_safe_values(orders, context):
    (result,) = evaluate(orders, [Range(field="amount", max=999999)], context(key=()))
    row = result.sample[0]
    assert set(row) == set(SCHEMA.names)
    original = ROWS[row["row_no"]]
    assert row["amount"] == str(original["amount"])
    assert row["updated_at"] == original["updated_at"].isoformat()
    assert row["order_date"] == original["order_date"].isoformat()


def test_relationships_on_a_composite_key(orders, context):
    check = Relationships(fields=["order_id", "line_no"], to="order_lines")
    (result,) = evaluate(orders, [check], context())
    present = {(r["order_id"], r["line_no"]) for r in ROWS[:100]}
    expected = [
        r for r in ROWS if None not in (r["order_id"], r["line_no"])
        and (r["order_id"], r["line_no"]) not in present
    ]  # fmt: skip
    assert result.failing_rows == len(expected)


@pytest.mark.parametrize(
    "pattern", [r"^user\d+@", r"^[[:alpha:]]+[0-9]+@", r"(?:\.com|\.org)$", r"\s", r"^$", "e.a"]
)
def test_a_portable_regex_finds_the_same_rows_as_python(orders, context, pattern):
    (result,) = evaluate(orders, [Regex(field="email", pattern=pattern)], context())
    posix = pattern.replace("[[:alpha:]]", "[a-zA-Z]")
    expected = [r for r in ROWS if r["email"] is not None and not re.search(posix, r["email"])]
    assert result.failing_rows == len(expected)


def test_an_expression_that_is_null_passes_and_one_that_is_false_fails(orders, context):
    check = Expression(name="big", expression="amount > 4000 OR quantity > 9")
    (result,) = evaluate(orders, [check], context())

    def false(r: dict[str, Any]) -> bool:
        amount, quantity = r["amount"], r["quantity"]
        big_amount = None if amount is None else amount > 4000
        big_quantity = None if quantity is None else quantity > 9
        if big_amount or big_quantity:
            return False
        return big_amount is False and big_quantity is False  # NULL OR FALSE is NULL

    assert result.failing_rows == sum(map(false, ROWS))


# --- actions and status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "ok"), [("warn", "warn", True), ("quarantine", "fail", True),
                                 ("reject", "fail", False)]
)  # fmt: skip
def test_the_status_of_a_failing_check_follows_its_action(orders, context, action, status, ok):
    checks = [NotNull(field="email", action=action), NotNull(field="row_no", action=action)]
    results = evaluate(orders, checks, context())
    assert [r.status for r in results] == [status, "pass"]
    assert results.ok is ok
    assert [r.check for r in results.failed] == ([] if ok else ["not_null_email"])


# --- flags and quarantine -------------------------------------------------------------


def expected_flags() -> dict[int, list[str]]:
    return {r["row_no"]: [check.name for check, rule, _ in RULES if rule(r)] for r in ROWS}


def test_flag_lists_every_check_a_row_fails_in_check_order(orders, context, shared_warehouse):
    flagged = flag(orders, [check for check, _, _ in RULES], context())
    assert flagged.columns == (*orders.columns, "_wk_failed_checks")
    rows = shared_warehouse.rows(flagged.select("row_no", "_wk_failed_checks"))
    assert {r["row_no"]: r["_wk_failed_checks"] for r in rows} == expected_flags()


def test_flag_ignores_table_checks_and_gives_empty_lists_without_row_checks(
    orders, context, shared_warehouse
):
    flagged = flag(orders, [RowCount(min=1)], context())
    counts = flagged.aggregate(n=flagged.count(), empty=flagged.count(
        where=flagged._wk_failed_checks.length() == 0))  # fmt: skip
    assert shared_warehouse.rows(counts) == [{"n": N, "empty": N}]


def test_quarantine_split_diverts_rows_failing_a_quarantine_check(
    orders, context, shared_warehouse
):
    checks = [
        Regex(name="email_valid", field="email", pattern=EMAIL, action="quarantine"),
        Range(name="amount_range", field="amount", min=0, max=999999, action="quarantine"),
        NotNull(field="email", action="warn"),  # rows failing only this stay good
        Unique(fields="id", action="reject"),  # and only this too: reject fails the model
        RowCount(min=1),
    ]
    good, bad = quarantine_split(orders, checks, context())
    assert good.columns == orders.columns
    assert bad.columns == (*orders.columns, "_wk_failed_checks")
    good_rows = shared_warehouse.rows(good.select("row_no"))
    bad_rows = shared_warehouse.rows(bad.select("row_no", "_wk_failed_checks"))
    good_ids, bad_ids = [r["row_no"] for r in good_rows], [r["row_no"] for r in bad_rows]
    assert sorted(good_ids + bad_ids) == list(range(N))  # every row once, nothing lost
    diverted = expected_failures(RULES[1][0]) | expected_failures(RULES[3][0])
    assert set(bad_ids) == diverted
    flags = expected_flags()
    named = {c.name for c in checks}
    for row in bad_rows:  # every failed check, warn and reject ones too
        assert row["_wk_failed_checks"] == [n for n in flags[row["row_no"]] if n in named]


def test_without_quarantine_checks_every_row_is_good(orders, context, shared_warehouse):
    good, bad = quarantine_split(orders, [NotNull(field="email", action="reject")], context())
    assert shared_warehouse.scalar(good.count()) == N
    assert shared_warehouse.scalar(bad.count()) == 0


# --- table-level checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "previous", "status"),
    [
        (RowCount(min=N, max=N), None, "pass"),
        (RowCount(min=N + 1), None, "warn"),
        (RowCount(max=N - 1, action="reject"), None, "fail"),
        (RowCount(threshold=0.95), None, "pass"),  # no previous run: nothing to compare
        (RowCount(threshold=0.95), 1050, "pass"),  # 1000 >= 997.5
        (RowCount(threshold=0.95), 1100, "warn"),  # 1000 < 1045
    ],
)
def test_row_count_absolute_and_relative_to_the_previous_run(
    orders, context, check, previous, status
):
    (result,) = evaluate(orders, [check], context(previous_rows=previous))
    assert result.status == status
    assert result.measured == N


def test_row_count_says_how_far_below_the_threshold(orders, context):
    (result,) = evaluate(orders, [RowCount(threshold=0.95)], context(previous_rows=2000))
    assert result.message == "1000 rows is 50.0% of the previous run's 2000 (at least 95% expected)"


def test_null_percentage_of_one_column(orders, context):
    share = NULL_EMAILS / N
    passing = NullPercentage(name="ok", fields="email", max_allowed=share)
    failing = NullPercentage(name="strict", fields="email", max_allowed=share - 0.001)
    ok, strict = evaluate(orders, [passing, failing], context())
    assert (ok.status, strict.status) == ("pass", "warn")
    assert ok.measured == pytest.approx(share)
    assert strict.failing_rows == NULL_EMAILS
    assert strict.message == "NULL share above 1.1%: email 1.2%"


def test_null_percentage_of_every_column_reports_the_worst(orders, context):
    (result,) = evaluate(orders, [NullPercentage(max_allowed=0.01)], context())
    shares = {c: sum(r[c] is None for r in ROWS) / N for c in SCHEMA.names}
    over = sorted(c for c, s in shares.items() if s > 0.01)
    assert result.measured == pytest.approx(max(shares.values()))
    assert result.status == "warn"
    assert sorted(part.split()[0] for part in result.message.split(": ")[1].split(", ")) == over


def test_unique_keys_with_fields_counts_rows_sharing_a_key_and_samples_the_keys(orders, context):
    (result,) = evaluate(orders, [UniqueKeys(fields="id", enforce=True)], context())
    assert (result.status, result.failing_rows) == ("fail", 2 * COPIED_IDS)
    counts = Counter(r["id"] for r in ROWS if r["id"] is not None)
    duplicated = sorted(k for k, n in counts.items() if n > 1)
    assert result.sample == [{"id": k, "rows_with_key": 2} for k in duplicated]


def test_unique_keys_defaults_to_the_model_key(orders, context):
    passing, failing = evaluate(
        orders,
        [UniqueKeys(name="key"), UniqueKeys(name="line", fields=["order_id", "line_no"])],
        context(key=("row_no",)),
    )
    assert (passing.status, passing.failing_rows) == ("pass", 0)
    assert failing.failing_rows == 2 * COPIED_LINES


@pytest.mark.parametrize(
    ("field", "age", "status"),
    [
        ("updated_at", timedelta(hours=23), "pass"),
        ("updated_at", timedelta(hours=24), "pass"),
        ("updated_at", timedelta(hours=25), "warn"),
        ("order_date", timedelta(hours=12), "pass"),  # a date is read as its midnight
        ("order_date", timedelta(hours=36), "warn"),
    ],
)
def test_freshness_measures_the_newest_value_against_now(orders, context, field, age, status):
    now = NEWEST.replace(hour=0) + age if field == "order_date" else NEWEST + age
    check = Freshness(field=field, max_age="24h")
    (result,) = evaluate(orders, [check], context(now=now))
    assert result.status == status
    assert result.measured == age.total_seconds()


def test_freshness_of_an_empty_table_fails(orders, context):
    empty = orders.filter(orders.row_no < 0)
    (result,) = evaluate(empty, [Freshness(field="updated_at", max_age="1h")], context())
    assert result.status == "warn"
    assert result.message == "no updated_at value at all"


@pytest.mark.parametrize(
    ("columns", "strict", "problems"),
    [
        ({"row_no": "int64", "email": "string", "amount": "decimal(10,2)",
          "updated_at": "timestamp", "order_date": "date"}, False, []),
        ({"row_no": "int64", "amount": "decimal"}, False, []),
        ({"row_no": "string"}, False, ["'row_no' is int64, expected string"]),
        ({"amount": "decimal(12,2)"}, False,
         ["'amount' is decimal(10, 2), expected decimal(12,2)"]),
        ({"row_no": "int64", "shipped_at": "timestamp"}, False, ["missing column 'shipped_at'"]),
        ({name: "string" for name in SCHEMA.names[4:6]}, True,
         [f"unexpected column {c!r}" for c in SCHEMA.names if c not in ("email", "status")]),
    ],
)  # fmt: skip
def test_schema_compares_columns_and_types(orders, context, columns, strict, problems):
    (result,) = evaluate(orders, [Schema(columns=columns, strict=strict)], context())
    assert result.status == ("warn" if problems else "pass")
    assert result.measured == len(problems)
    assert result.message == ("; ".join(problems) or "as expected")


def test_every_check_together_is_one_query_plus_samples(orders, context, queries):
    checks = [
        *(check for check, _, _ in RULES),
        RowCount(min=1, threshold=0.9),
        NullPercentage(max_allowed=0.5),
        UniqueKeys(fields="id"),
        Freshness(field="updated_at", max_age="1d"),
        Schema(columns={"row_no": "int64"}),
    ]
    results = evaluate(orders, checks, context(previous_rows=N, now=NEWEST), sample_size=0)
    assert len(queries) == 1
    assert [r.status for r in results[len(RULES) :]] == ["pass", "pass", "warn", "pass", "pass"]
    results = evaluate(orders, checks, context(previous_rows=N, now=NEWEST), sample_size=2)
    assert len(queries) == 2 + len(RULES) + 1  # the unique_keys sample too


def test_results_with_samples_round_trip_through_json(orders, context):
    checks = [check for check, _, _ in RULES] + [UniqueKeys(fields="id")]
    results = evaluate(orders, checks, context(key=()))
    assert CheckResults.from_json(results.to_json()) == results
