"""Quality checks as declared: spellings, defaults, and every error before anything runs.

Validation runs no query: the tables here are unbound Ibis tables, so any
attempt to execute would fail. Evaluation on real backends is in
test_quality_evaluate.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pytest

from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.quality import (
    AcceptedValues,
    CheckContext,
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
    flag,
    parse_checks,
    validate,
)
from warehouse_kit.core.quality.checks import portability_problem

FILE = "pipelines/p.yml"
KEY = "pipeline.transformations[1].models[0].quality_checks"

CUSTOMERS = ibis.table(
    {
        "customer_id": "int64",
        "email": "string",
        "segment": "string",
        "amount": "decimal(10, 2)",
        "signup_date": "date",
        "updated_at": "timestamp",
    },
    name="customers",
)
COUNTRIES = ibis.table({"code": "string", "name": "string"}, name="countries")


def context(**options: Any) -> CheckContext:
    def tables(ref: str) -> ir.Table:
        known = {"countries": COUNTRIES, "silver.countries": COUNTRIES}
        if ref not in known:
            raise ConfigError(f"unknown model {ref!r}; known models: silver.countries")
        return known[ref]

    defaults: dict[str, Any] = {"model": "silver.customers", "warehouse": None, "tables": tables}
    return CheckContext(**{**defaults, **options})


def parse(*raw: Any) -> list[Any]:
    return parse_checks(list(raw), file=FILE, key_path=KEY)


def config_error(*raw: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(*raw)
    return info.value


def validation_error(check: Any, table: ir.Table = CUSTOMERS, **options: Any) -> str:
    with pytest.raises(ConfigError) as info:
        validate([check], table, context(**options))
    return str(info.value)


# --- the formats users write --------------------------------------------------------


def test_the_seed_format_rules_parse_as_written():
    email, amount = parse(
        {
            "name": "customer_email_valid",
            "type": "regex",
            "field": "email",
            "pattern": r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
            "action": "quarantine",
        },
        {
            "name": "order_amount_positive",
            "type": "range",
            "field": "amount",
            "min": 0,
            "max": 999999,
            "action": "reject",
        },
    )
    assert email == Regex(
        name="customer_email_valid",
        field="email",
        pattern=r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
        action="quarantine",
    )
    assert amount == Range(name="order_amount_positive", field="amount", min=0, max=999999,
                           action="reject")  # fmt: skip


def test_the_design_format_pipeline_checks_parse_as_written():
    row_count, nulls, keys = parse(
        {"check": "row_count", "threshold": 0.95},
        {"check": "null_percentage", "max_allowed": 0.05},
        {"check": "unique_keys", "enforce": True},
    )
    assert row_count == RowCount(threshold=0.95)
    assert nulls == NullPercentage(max_allowed=0.05)
    assert keys == UniqueKeys(enforce=True)
    assert keys.action == "reject"  # enforce: true rejects
    assert UniqueKeys(enforce=False).action == "warn"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"check": "not_null", "column": "email"}, NotNull(field="email")),
        ({"type": "unique", "columns": ["a", "b"]}, Unique(fields=["a", "b"])),
        ({"type": "unique", "field": "a"}, Unique(fields=["a"])),
        ({"type": "accepted_values", "column": "s", "values": ["a"]},
         AcceptedValues(field="s", values=["a"])),
        ({"type": "range", "field": "x", "min": 1, "inclusive": False},
         Range(field="x", min=1, min_inclusive=False, max_inclusive=False)),
        ({"type": "relationships", "column": "c", "to": "countries", "to_column": "code"},
         Relationships(fields=["c"], to="countries", to_fields=["code"])),
        ({"type": "expression", "name": "pos", "condition": "x > 0"},
         Expression(name="pos", expression="x > 0")),
        ({"check": "unique_keys", "key": ["a", "b"]}, UniqueKeys(fields=["a", "b"])),
        ({"check": "freshness", "column": "t", "max_age": "24h"},
         Freshness(field="t", max_age=timedelta(hours=24))),
        ({"check": "schema", "columns": {"a": "int64"}, "strict": True},
         Schema(columns={"a": "int64"}, strict=True)),
    ],
)  # fmt: skip
def test_each_spelling_parses_to_the_same_check_as_python(raw, expected):
    assert parse(raw) == [expected]


@pytest.mark.parametrize(
    ("check", "name"),
    [
        (NotNull(field="email"), "not_null_email"),
        (Unique(fields=["order_id", "line_no"]), "unique_order_id_line_no"),
        (AcceptedValues(field="status", values=["a"]), "accepted_values_status"),
        (Range(field="amount", max=1), "range_amount"),
        (Regex(field="email", pattern="@"), "regex_email"),
        (Relationships(fields="customer_id", to="customers"), "relationships_customer_id"),
        (RowCount(min=1), "row_count"),
        (NullPercentage(max_allowed=0.1), "null_percentage"),
        (UniqueKeys(), "unique_keys"),
        (Freshness(field="updated_at", max_age="1d"), "freshness_updated_at"),
        (Schema(columns={"a": "int64"}), "schema"),
    ],
)
def test_a_check_without_a_name_is_named_by_its_type_and_columns(check, name):
    assert check.name == name


def test_the_default_action_is_warn():
    assert NotNull(field="a").action == "warn"
    assert RowCount(min=1).action == "warn"


# --- mistakes in the file: ConfigError with file and key path -----------------------


def test_an_unknown_check_type_suggests_the_closest():
    error = config_error({"type": "not_nul", "field": "a"})
    assert (error.file, error.key_path) == (FILE, f"{KEY}[0]")
    assert "unknown check type 'not_nul'; did you mean 'not_null'?" in str(error)


def test_a_missing_type_lists_the_types():
    error = config_error({"field": "a"})
    assert "missing key 'type' (or 'check')" in str(error)
    assert "not_null" in str(error)
    assert "freshness" in str(error)


def test_an_unknown_key_names_the_check_type_and_suggests():
    error = config_error({"type": "range", "field": "a", "maximum": 3})
    assert error.key_path == f"{KEY}[0].maximum"
    assert "unknown key 'maximum' for a range check; did you mean 'max'?" in str(error)


def test_two_spellings_of_one_key_are_refused():
    error = config_error({"type": "not_null", "field": "a", "column": "b"})
    assert "give 'field' or 'column', not both" in str(error)


def test_a_missing_required_key_is_named():
    error = config_error({"type": "regex", "field": "email"})
    assert error.key_path == f"{KEY}[0].pattern"
    assert "missing required key 'pattern'" in str(error)


def test_an_expression_check_needs_a_name():
    assert "an expression check needs a name" in str(
        config_error({"type": "expression", "expression": "a > 0"})
    )


def test_an_expression_with_a_syntax_error_is_refused_when_parsed():
    error = config_error({"type": "expression", "name": "e", "expression": "(a > 0"})
    assert error.key_path == f"{KEY}[0].expression"
    assert "syntax error" in str(error)


def test_two_checks_with_one_name_are_refused():
    error = config_error({"type": "not_null", "field": "a"}, {"check": "not_null", "column": "a"})
    assert error.key_path == f"{KEY}[1]"
    assert "two checks are named 'not_null_a'" in str(error)


@pytest.mark.parametrize("check", ["row_count", "null_percentage", "unique_keys", "schema"])
def test_a_table_level_check_cannot_quarantine(check):
    options = {"row_count": {"min": 1}, "null_percentage": {"max_allowed": 0.1},
               "schema": {"columns": {"a": "int64"}}}.get(check, {})  # fmt: skip
    error = config_error({"check": check, "action": "quarantine", **options})
    assert error.key_path == f"{KEY}[0]"
    assert f"{check} is a table-level check: it cannot quarantine rows" in str(error)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"type": "range", "field": "a"}, "a range needs min, max or both"),
        ({"check": "row_count"}, "row_count needs min, max or threshold"),
        ({"check": "null_percentage", "max_allowed": 5}, "less than or equal to 1"),
        ({"check": "freshness", "field": "t", "max_age": "soon"}, "'soon' is not a duration"),
        ({"check": "schema", "columns": {"a": "integr"}}, "column 'a': unknown type 'integr'"),
        ({"check": "unique_keys", "enforce": True, "action": "warn"}, "contradicts action"),
        ({"type": "accepted_values", "field": "a", "values": []}, "at least 1 item"),
        ({"type": "relationships", "fields": ["a", "b"], "to": "t", "to_fields": "c"},
         "must have as many columns"),
        ("not_null", "expected a mapping with the key 'type' (or 'check'): one of not_null,"),
    ],
)  # fmt: skip
def test_an_invalid_check_says_what_is_wrong(raw, message):
    assert message in str(config_error(raw))


# --- regular expressions: compiled, and kept to what both engines share -------------


def test_a_regex_that_does_not_compile_is_refused_naming_the_check():
    error = config_error({"name": "email_ok", "type": "regex", "field": "email", "pattern": "(a"})
    assert (error.file, error.key_path) == (FILE, f"{KEY}[0]")
    assert "check 'email_ok': pattern '(a' does not compile: missing ), unterminated" in str(error)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"^(?=.*\d)", "lookahead"),
        (r"^(?!admin)", "lookahead"),
        (r"(?<=@)x", "lookbehind"),
        (r"(?<!@)x", "lookbehind"),
        (r"(a)\1", r"backreference \1"),
        (r"(?P<user>\w+)@", "named groups"),
        (r"(?i)abc", "inline flags"),
        (r"\bword\b", r"\b is a word boundary in RE2 but not in PostgreSQL"),
        (r"\Aabc\Z", "anchor with ^ and $"),
        (r"\x41", r"the escape \x"),
        (r"[\D]", r"\D inside [...]"),
        (r"(?>a+)b", "atomic groups"),
    ],
)
def test_a_regex_construct_outside_the_common_subset_is_refused(pattern, message):
    error = config_error({"name": "r", "type": "regex", "field": "a", "pattern": pattern})
    assert "check 'r': pattern" in str(error)
    assert message in str(error)
    assert "stay within what DuckDB (RE2) and PostgreSQL share" in str(error)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
        r"^\d{3}-\d{4}$",
        r"[[:alpha:]]+",
        r"[]a-c]",
        r"[^]a]",
        r"^(?:ab|cd)+$",
        r"\s\S\w\W\.\(\[\\",
        r"a{2,3}?",
        r"[\d\s]",
    ],
)
def test_a_regex_in_the_common_subset_is_accepted(pattern):
    assert portability_problem(pattern) is None
    assert Regex(field="a", pattern=pattern).pattern == pattern


# --- mistakes against the table: ConfigError naming check, model and columns --------


def test_an_unknown_column_names_the_check_the_model_the_columns_and_a_suggestion():
    message = validation_error(NotNull(name="email_present", field="emial"))
    assert message == (
        "check 'email_present' on model silver.customers: unknown column 'emial'; "
        "did you mean 'email'? available columns: customer_id, email, segment, amount, "
        "signup_date, updated_at"
    )


@pytest.mark.parametrize(
    "check",
    [
        Unique(fields=["customer_id", "segmnt"]),
        AcceptedValues(field="segmnt", values=["a"]),
        Range(field="segmnt", min=0),
        Regex(field="segmnt", pattern="a"),
        Relationships(fields="segmnt", to="countries", to_fields="code"),
        Expression(name="rule", expression="segmnt = 'a'"),
        NullPercentage(fields=["segmnt"], max_allowed=0.1),
        UniqueKeys(fields=["segmnt"]),
        Freshness(field="segmnt", max_age="1h"),
    ],
    ids=lambda check: check.type,
)
def test_every_check_type_names_an_unknown_column(check):
    message = validation_error(check)
    assert f"check {check.name!r} on model silver.customers: unknown column 'segmnt'" in message
    assert "did you mean 'segment'?" in message


def test_an_unknown_key_of_the_model_is_named_for_unique_keys():
    message = validation_error(UniqueKeys(), key=("custmer_id",))
    assert "unknown column 'custmer_id'; did you mean 'customer_id'?" in message


def test_unique_keys_without_fields_needs_the_model_key():
    assert "unique_keys needs fields: the model declares no key" in validation_error(UniqueKeys())


def test_relationships_to_an_unknown_model_is_named():
    check = Relationships(name="country_exists", fields="segment", to="silver.contries")
    message = validation_error(check)
    assert message.startswith("check 'country_exists' on model silver.customers: ")
    assert "unknown model 'silver.contries'" in message


def test_relationships_to_an_unknown_column_of_the_target_lists_its_columns():
    check = Relationships(fields="segment", to="countries", to_fields="cod")
    message = validation_error(check)
    expected = (
        "unknown column 'cod' in countries; did you mean 'code'? available columns: code, name"
    )
    assert expected in message


def test_relationships_between_incomparable_types_is_refused():
    check = Relationships(fields="customer_id", to="countries", to_fields="code")
    assert "not comparable" in validation_error(check)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (Regex(field="customer_id", pattern="1"), "a regex needs a text column"),
        (Range(field="amount", min="zero"), "'zero' cannot be compared with 'amount'"),
        (Range(field="email", max=3), "3 cannot be compared with 'email', which is string"),
        (Range(field="signup_date", min="yesterday"), "'yesterday' cannot be compared"),
        (AcceptedValues(field="customer_id", values=[1, "two"]), "'two' cannot be compared"),
        (Expression(name="e", expression="amount + 1"), "not a boolean"),
        (Expression(name="e", expression="sum(amount) > 0"), "sum"),
        (Freshness(field="email", max_age="1h"), "needs a timestamp or date column"),
    ],
)
def test_a_check_that_does_not_fit_the_column_type_is_refused(check, message):
    assert message in validation_error(check)


def test_two_checks_with_one_name_on_a_model_are_refused():
    checks = [NotNull(name="x", field="email"), Unique(name="x", fields="email")]
    with pytest.raises(ConfigError) as info:
        validate(checks, CUSTOMERS, context())
    assert str(info.value).startswith("model silver.customers: two checks are named 'x'")


def test_validation_passes_for_well_formed_checks_and_builds_without_running():
    checks = [
        NotNull(field="email"),
        Unique(fields=["customer_id"]),
        AcceptedValues(field="segment", values=["b2b", "b2c"]),
        Range(field="amount", min=0, max=1000.5),
        Range(field="signup_date", min="2020-01-01"),
        Regex(field="email", pattern="@"),
        Relationships(fields="segment", to="countries", to_fields="code"),
        Expression(name="e", expression="amount > 0 OR segment = 'free'"),
        RowCount(min=1),
        NullPercentage(max_allowed=0.1),
        UniqueKeys(),
        Freshness(field="updated_at", max_age="1d"),
        Schema(columns={"email": "string"}),
    ]
    validate(checks, CUSTOMERS, context(key=("customer_id",)))
    flagged = flag(CUSTOMERS, checks, context(key=("customer_id",)))  # unbound: built, not run
    assert flagged.columns[-1] == "_wk_failed_checks"
