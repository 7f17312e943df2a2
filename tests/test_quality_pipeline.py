"""Checks inside wk run: warn, quarantine, reject, accounting, and wk check; on every backend."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import TinyProject, model_runs, run_rows, wk
from warehouse_kit.core.backends import connect
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.runner import check

ORDERS = """
id,email,amount
1,a@x.com,10
2,bad-email,20
3,c@x.com,-5
4,,30
5,bad,-1
"""


def pipeline(checks: str, pipeline_checks: str = "") -> str:
    return f"""
pipeline:
  name: p
  sources: [{{name: files, type: files, path: data, tables: [orders], load: replace}}]
  transformations:
    - stage: silver
      models:
        - name: orders
          operations: [{{op: type_casting, columns: {{id: int64, amount: int64}}}}]
          quality_checks: {checks}
{pipeline_checks}
"""


def results(target: str, run_id: str) -> dict[str, dict]:
    return run_rows(target, "check_results", run_id, "check")


QUARANTINE = (
    "[{name: email_valid, type: regex, field: email, pattern: '^[^@]+@[^@]+$', action: quarantine},"
    " {name: amount_positive, type: range, field: amount, min: 0, action: quarantine},"
    " {name: email_present, type: not_null, field: email}]"
)


def test_quarantined_rows_are_set_aside_with_every_check_they_failed(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    result = tiny.run()
    assert result.ok
    assert sorted(row["id"] for row in tiny.rows("silver.orders")) == [1, 4]
    quarantine = {row["id"]: row for row in tiny.rows("silver.orders__quarantine")}
    assert sorted(quarantine) == [2, 3, 5]
    assert quarantine[5]["_wk_failed_checks"] == ["email_valid", "amount_positive"]
    assert quarantine[2]["_wk_failed_checks"] == ["email_valid"]
    assert {row["_wk_run_id"] for row in quarantine.values()} == {result.run_id}


def test_a_rerun_sets_no_row_aside_twice_but_a_new_load_does(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    first = tiny.run()
    for _ in range(3):
        assert tiny.run().ok
    quarantine = tiny.rows("silver.orders__quarantine")
    assert sorted(row["id"] for row in quarantine) == [2, 3, 5]
    assert {row["_wk_run_id"] for row in quarantine} == {first.run_id}
    tiny.csv("orders", ORDERS + "\n")  # the same rows in a new file: loaded again
    assert tiny.run().ok
    assert sorted(row["id"] for row in tiny.rows("silver.orders__quarantine")) == [2, 2, 3, 3, 5, 5]


def test_a_new_or_renamed_column_reaches_the_quarantine_table(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    assert tiny.run().ok
    with_channel = "".join(f"{line},web\n" for line in ORDERS.strip().splitlines())
    tiny.csv("orders", with_channel.replace("amount,web", "amount,channel") + "6,bad,7,web\n")
    result = tiny.run()
    assert result.ok, [failure.error for failure in result.failures()]
    rows = tiny.rows("silver.orders__quarantine", order_by=["_wk_run_id", "id"])
    assert [(row["id"], row["channel"]) for row in rows] == [
        *((key, None) for key in (2, 3, 5)),  # set aside before the column came
        *((key, "web") for key in (2, 3, 5, 6)),  # loaded again, with it
    ]
    tiny.csv("orders", "id,mail,amount\n7,bad,-3\n")  # email renamed: NULL, and mail is new
    result = tiny.run()
    assert result.ok, [failure.error for failure in result.failures()]
    assert "column email is missing from files: data/orders.*" in result.models[0].note
    [row] = [row for row in tiny.rows("silver.orders__quarantine") if row["id"] == 7]
    failed = ["amount_positive", "email_present"]
    assert (row["email"], row["mail"], row["_wk_failed_checks"]) == (None, "bad", failed)
    # Rebuilt from that file alone, bronze has no email: the checks say so in one line,
    # before anything is written.
    with pytest.raises(ConfigError, match="unknown column 'email'; did you mean 'mail'"):
        tiny.run(full_refresh=True)


def test_rows_in_equal_rows_published_plus_quarantined_in_the_history(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    result = tiny.run()
    step = model_runs(tiny.target, result.run_id)["silver.orders"]
    assert (step["rows_in"], step["rows_out"], step["rows_quarantined"]) == (5, 2, 3)
    found = results(tiny.target, result.run_id)
    assert {name: (row["status"], row["failing_rows"]) for name, row in found.items()} == {
        "email_valid": ("fail", 2),  # NULL passes a regex: a missing email is not_null's business
        "amount_positive": ("fail", 2),
        "email_present": ("warn", 1),
    }
    assert json.loads(found["email_valid"]["sample"])


def test_a_warning_keeps_every_row(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline("[{name: amount_positive, type: range, field: amount, min: 0}]"))
    result = tiny.run()
    assert result.ok
    assert len(tiny.rows("silver.orders")) == 5
    assert results(tiny.target, result.run_id)["amount_positive"]["status"] == "warn"


REJECT = (
    "[{name: order_amount_positive, type: range, field: amount, min: 0, max: 999999,"
    " action: reject}]"
)


def test_a_failing_reject_check_leaves_the_previous_table_untouched(tiny):
    tiny.csv("orders", "id,email,amount\n1,a@x.com,10\n")
    tiny.pipeline(pipeline(REJECT))
    assert tiny.run().ok
    before = tiny.rows("silver.orders")
    tiny.csv("orders", ORDERS)
    result = tiny.run()
    assert result.status == "failed"
    [failure] = result.failures()
    assert "order_amount_positive (2 rows); the table was left as it was" in failure.error
    assert tiny.rows("silver.orders") == before
    found = results(tiny.target, result.run_id)
    assert (
        found["order_amount_positive"]["status"],
        found["order_amount_positive"]["failing_rows"],
    ) == ("fail", 2)


def test_a_first_build_its_checks_reject_publishes_nothing_and_says_so(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(REJECT))
    [failure] = tiny.run().failures()
    assert failure.error.endswith("order_amount_positive (2 rows); nothing was published")
    warehouse = connect(tiny.target)
    try:
        assert warehouse.relation("orders", "silver") is None
    finally:
        warehouse.close()


def test_pipeline_level_checks_apply_to_the_tables_it_publishes(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(
        pipeline(
            "[]",
            "  quality_checks:\n    - {check: null_percentage, max_allowed: 0.05}\n"
            "    - {check: row_count, min: 10}",
        )
    )
    result = tiny.run()
    found = results(tiny.target, result.run_id)
    assert found["null_percentage"]["status"] == "warn"  # one email in five is NULL
    assert found["row_count"]["status"] == "warn"


def test_row_count_compares_with_the_previous_run(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline("[{check: row_count, threshold: 0.95}]"))
    assert tiny.run().ok
    tiny.csv("orders", "id,email,amount\n1,a@x.com,10\n")
    result = tiny.run()
    row_count = results(tiny.target, result.run_id)["row_count"]
    assert (row_count["status"], row_count["total_rows"]) == ("warn", 1)


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (
            "[{type: not_null, field: emial}]",
            "check 'not_null_emial' on model silver.orders: unknown column 'emial'",
        ),
        ("[{type: regex, field: email, pattern: '(unclosed'}]", "quality_checks[0]"),
        (
            "[{type: relationships, field: id, to: nowhere, to_field: id}]",
            "check 'relationships_id' on model silver.orders",
        ),
    ],
)
def test_a_bad_check_is_reported_before_anything_runs(tiny, checks, message):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(checks))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        tiny.run()
    wh = connect(tiny.target)
    try:
        assert "_wk" not in wh.con.list_databases()
    finally:
        wh.close()


def test_wk_check_runs_the_checks_on_the_tables_as_they_are(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    assert tiny.run().ok
    found = check(tiny.root, target=tiny.target)
    assert {r.check: r.status for r in found} == {
        "email_valid": "pass",  # the published table holds only good rows
        "amount_positive": "pass",
        "email_present": "warn",
    }
    assert set(results(tiny.target, found.run_id)) == {
        "email_valid",
        "amount_positive",
        "email_present",
    }


def test_python_models_declare_checks_too(tiny):
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline("[]"))
    tiny.python_models(
        """
        import warehouse_kit as wk

        POSITIVE = {"type": "range", "field": "amount", "min": 0, "action": "quarantine"}

        @wk.model(stage="gold", checks=[POSITIVE])
        def paid(orders):
            return orders.select("id", "amount")
        """
    )
    assert tiny.run().ok
    assert sorted(row["id"] for row in tiny.rows("gold.paid")) == [1, 2, 4]
    assert sorted(row["id"] for row in tiny.rows("gold.paid__quarantine")) == [3, 5]


@pytest.fixture(scope="module")
def checked_project(tmp_path_factory: pytest.TempPathFactory) -> TinyProject:
    """A built project on DuckDB whose checks pass and warn."""
    root = tmp_path_factory.mktemp("checked")
    tiny = TinyProject(root, f"duckdb:///{root}/w.duckdb")
    tiny.csv("orders", ORDERS)
    tiny.pipeline(pipeline(QUARANTINE))
    assert tiny.run().ok
    return tiny


def wk_check(tiny: TinyProject, *args: str) -> str:
    """`wk check ARGS` in the project; what it printed."""
    result = wk("check", "--target", tiny.target, *args, cwd=tiny.root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def read_json(text: str) -> list[str]:
    return [r["check"] for r in json.loads(text)["results"]]


def read_junit(text: str) -> list[str]:
    return [case.get("name", "") for case in ET.fromstring(text).iter("testcase")]


def read_html(text: str) -> list[str]:
    assert text.startswith("<!DOCTYPE html>")
    return [name for name in ("email_valid", "amount_positive", "email_present") if name in text]


def read_table(text: str) -> list[str]:
    assert "CheckResults(" not in text
    assert "1 warn" in text
    lines = [line for line in text.splitlines() if "silver.orders" in line]
    return [line.split("│")[2].strip() for line in lines]  # the rows' check column


CHECKS = ["email_valid", "amount_positive", "email_present"]


@pytest.mark.duckdb
@pytest.mark.parametrize(
    ("options", "file", "read"),
    [
        ((), "checks.json", read_json),  # the format from the file's extension
        ((), "checks.xml", read_junit),
        ((), "checks.html", read_html),
        ((), "checks.txt", read_table),
        (("--format", "json"), "checks.out", read_json),  # or as chosen
        (("--format", "junit"), "checks.out", read_junit),
        (("--format", "html"), "checks.out", read_html),
        (("--format", "table"), "checks.json", read_table),
    ],
)
def test_wk_check_writes_its_report_to_a_file_in_the_chosen_format(
    checked_project, tmp_path, options, file, read
):
    printed = wk_check(checked_project, *options, "-o", str(tmp_path / file))
    assert printed.strip() == f"wrote {tmp_path / file}"
    assert read((tmp_path / file).read_text()) == CHECKS
