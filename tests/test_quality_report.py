"""Check results shown four ways: console table, JSON, JUnit XML, self-contained HTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from rich.console import Console

from warehouse_kit.core.quality import CheckResult, CheckResults

EVIL = "<script>alert('x')</script>"

RESULTS = CheckResults(
    [
        CheckResult(
            model="silver.customers",
            check="email_valid",
            type="regex",
            action="quarantine",
            status="fail",
            failing_rows=37,
            total_rows=1000,
            measured=None,
            message="37 of 1000 rows fail: email matches '^[a-z]+@[a-z]+$'",
            sample=[{"customer_id": 4, "email": EVIL}, {"customer_id": 9, "email": "a&b"}],
        ),
        CheckResult(
            model="silver.customers",
            check="not_null_email",
            type="not_null",
            action="warn",
            status="warn",
            failing_rows=12,
            total_rows=1000,
            measured=None,
            message="12 of 1000 rows fail: email is not NULL",
            sample=[{"customer_id": 7, "email": None}],
        ),
        CheckResult(
            model="silver.customers",
            check="row_count",
            type="row_count",
            action="reject",
            status="pass",
            failing_rows=0,
            total_rows=1000,
            measured=1000.0,
            message="1000 rows",
        ),
        CheckResult(
            model="silver.orders",
            check="amount_range",
            type="range",
            action="reject",
            status="fail",
            failing_rows=3,
            total_rows=50,
            measured=None,
            message=f"3 of 50 rows fail: {EVIL}",
            sample=[{"order_id": 1, "amount": "-5.00"}],
        ),
    ],
    run_id="20240601T120000-ab12",
)

HISTORY = [
    {"run_id": f"20240{month}01T000000-0000", "check": "email_valid", "status": status,
     "failing_rows": failing}
    for month, status, failing in [(1, "pass", 0), (2, "fail", 40), (3, "fail", 12), (4, "pass", 0)]
] + [
    {"run_id": "20240501T000000-0000", "model": "silver.orders", "check": "email_valid",
     "status": "fail", "failing_rows": 999},  # another model's check of the same name
]  # fmt: skip


def test_failed_holds_the_rejecting_failures_only():
    assert [r.check for r in RESULTS.failed] == ["amount_range"]
    assert not RESULTS.ok
    assert CheckResults(r for r in RESULTS if r.check != "amount_range").ok
    assert RESULTS.counts() == {"pass": 1, "warn": 1, "fail": 2}


def test_results_are_a_sequence():
    assert len(RESULTS) == 4
    assert RESULTS[0].check == "email_valid"
    assert [r.check for r in RESULTS[1:3]] == ["not_null_email", "row_count"]
    assert RESULTS[1:3].run_id == RESULTS.run_id


# --- JSON -----------------------------------------------------------------------------


def test_json_round_trips():
    text = RESULTS.to_json()
    assert CheckResults.from_json(text) == RESULTS
    data = json.loads(text)
    assert data["run_id"] == "20240601T120000-ab12"
    assert data["results"][0]["sample"][0]["email"] == EVIL
    assert set(data["results"][0]) == {
        "model", "check", "type", "action", "status", "failing_rows", "total_rows",
        "measured", "message", "sample",
    }  # fmt: skip


# --- JUnit ----------------------------------------------------------------------------


def test_junit_has_a_suite_per_model_and_a_case_per_check():
    root = ET.fromstring(RESULTS.to_junit())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["silver.customers", "silver.orders"]
    customers = suites["silver.customers"]
    assert (customers.get("tests"), customers.get("failures")) == ("3", "1")
    cases = {case.get("name"): case for case in customers.iter("testcase")}
    assert list(cases) == ["email_valid", "not_null_email", "row_count"]
    assert all(case.get("classname") == "silver.customers" for case in cases.values())


def test_junit_marks_a_failure_and_keeps_a_warning_passing_with_its_message():
    root = ET.fromstring(RESULTS.to_junit())
    cases = {case.get("name"): case for case in root.iter("testcase")}
    failure = cases["email_valid"].find("failure")
    assert failure is not None
    assert failure.get("type") == "quarantine"
    assert failure.get("message") == RESULTS[0].message
    assert EVIL in (failure.text or "")  # escaped in the XML, intact once parsed
    warn = cases["not_null_email"]
    assert warn.find("failure") is None
    assert warn.find("skipped") is None
    assert (warn.findtext("system-out") or "").startswith("warn: 12 of 1000 rows fail")
    assert len(cases["row_count"]) == 0  # a pass has no children
    properties = root.find("testsuite/properties/property")
    assert properties is not None
    assert properties.get("value") == RESULTS.run_id


# --- HTML -----------------------------------------------------------------------------


class _Page(HTMLParser):
    """The tags, attributes and text of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained():
    html = RESULTS.to_html(HISTORY)
    assert html.startswith("<!DOCTYPE html>")
    assert "http" not in html.lower()
    page = _Page(html)
    tags = [tag for tag, _ in page.tags]
    assert "script" not in tags
    assert "link" not in tags
    assert "img" not in tags
    assert tags.count("style") == 1
    assert not any(
        name in ("src", "href") or (name or "").startswith("on")
        for _, attrs in page.tags
        for name in attrs
    )


def test_html_escapes_every_value():
    html = RESULTS.to_html(HISTORY)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # quotes escaped too
    assert "a&amp;b" in html
    assert EVIL in "".join(_Page(html).text)  # shown as text


def test_html_has_a_row_per_check_with_its_status_and_counts():
    page = _Page(RESULTS.to_html())
    rows = [attrs.get("class") for tag, attrs in page.tags if tag == "tr" and attrs.get("class")]
    assert rows == ["fail", "warn", "pass", "fail"]
    text = "".join(page.text)
    assert "Data quality: run 20240601T120000-ab12" in text
    assert "4 checks: 1 pass, 1 warn, 2 fail" in text


def test_html_shows_each_checks_history_oldest_first():
    html = RESULTS.to_html(HISTORY)
    titles = re.findall(r"<title>(run [^<]*)</title>", html)
    assert titles == [
        "run 20240101T000000-0000: pass, 0 failing rows",
        "run 20240201T000000-0000: fail, 40 failing rows",
        "run 20240301T000000-0000: fail, 12 failing rows",
        "run 20240401T000000-0000: pass, 0 failing rows",
    ]  # not silver.orders' check of the same name: it has no email_valid result here
    assert html.count("<svg") == 1
    assert "4 runs, 2 not passing" in html
    assert html.count("no history") == 3


def test_html_shows_sample_failing_rows():
    page = _Page(RESULTS.to_html())
    text = page.text
    assert "2 sample failing rows" in text
    assert "customer_id" in text
    assert "NULL" in text
    assert "-5.00" in text
    assert [tag for tag, _ in page.tags].count("details") == 3


def test_repr_html_is_the_results_table():
    html = RESULTS._repr_html_()
    assert html.startswith('<table class="checks">')
    assert "&lt;script&gt;" in html
    assert "<script>" not in html


# --- console --------------------------------------------------------------------------


@pytest.mark.parametrize("render", [lambda r: r, lambda r: r.to_table()])
def test_the_console_table_shows_every_check_and_keeps_brackets(render):
    console = Console(width=200, record=True)
    console.print(render(RESULTS))
    text = console.export_text()
    for r in RESULTS:
        assert r.check in text
    assert "'^[a-z]+@[a-z]+$'" in text  # not taken for rich markup
    assert "1 pass, 1 warn, 2 fail" in text
