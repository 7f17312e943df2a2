"""Every page and `_repr_html_` is a Jinja2 template with autoescape: a name from users' data
(a model, a column, a check, a metric label, a variant) shows as text, never as markup."""

from __future__ import annotations

import ast
import doctest
import json
import re
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import warehouse_kit
from conftest import TinyProject, wk
from warehouse_kit.analytics.experiments import analyze_stats, parse_experiment
from warehouse_kit.analytics.experiments.stats import Sums
from warehouse_kit.analytics.experiments.sufficient import ExperimentStats
from warehouse_kit.analytics.metrics.summary import KpiSummary
from warehouse_kit.apps.notebook import RunInfo
from warehouse_kit.core.quality import CheckResult, CheckResults
from warehouse_kit.core.results import ModelResult, RunResult

SOURCE = Path(warehouse_kit.__file__).parent
TEMPLATES = SOURCE / "templates"


def evil(role: str) -> str:
    """A name that is markup if a page pastes it in: a script, an ampersand, both quotes."""
    return f"<script>alert(\"{role}\")</script> & '{role}'"


def escaped(role: str) -> str:
    return f"&lt;script&gt;alert(&#34;{role}&#34;)&lt;/script&gt; &amp; &#39;{role}&#39;"


class _Page(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[str] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def assert_shown_as_text(html: str, *roles: str) -> None:
    """No script reaches the page; each role's name is in it escaped, and reads as written."""
    assert "<script" not in html.lower()
    page = _Page(html)
    assert "script" not in page.tags
    for role in roles:
        assert escaped(role) in html
        assert evil(role) in page.text


# --- the pages ----------------------------------------------------------------------------


def test_a_run_result_shows_model_names_and_errors_as_text():
    failed = ModelResult(
        evil("model"), "silver", "failed", error=f"column {evil('column')} is missing"
    )
    result = RunResult("20250101T000000.000000Z", "failed", "duckdb://w", [failed])
    html = result._repr_html_()
    assert_shown_as_text(html, "model", "column")
    assert "<table>" in html


def test_a_run_info_shows_the_pipeline_and_its_error_as_text():
    info = RunInfo("r1", evil("pipeline"), "failed", datetime(2025, 1, 1), None, evil("error"))
    html = info._repr_html_()
    assert_shown_as_text(html, "pipeline", "error")
    assert html.count("<br>") == 1  # its two lines


def check_results() -> CheckResults:
    failing = CheckResult(
        model=evil("model"),
        check=evil("check"),
        type="not_null",
        action="warn",
        status="warn",
        failing_rows=1,
        total_rows=3,
        measured=None,
        message=f"1 of 3 rows fail: {evil('column')} is not NULL",
        sample=[{"id": 2, evil("column"): evil("value")}],
    )
    return CheckResults([failing], run_id="r1")


def test_the_check_report_and_table_show_every_name_as_text():
    history = [{"run_id": "r0", "model": evil("model"), "check": evil("check"), "status": "warn",
                "failing_rows": 1}]  # fmt: skip
    results = check_results()
    assert_shown_as_text(results.to_html(history), "model", "check", "column", "value")
    assert_shown_as_text(results._repr_html_(), "model", "check", "column", "value")


def test_a_kpi_summary_shows_metric_labels_as_text():
    frame = pd.DataFrame(
        [{"metric": "revenue", "label": evil("label"), "value": 1200.0, "previous": 1000.0,
          "change": 0.2, "format": ",.2f"}]
    )  # fmt: skip
    summary = KpiSummary(frame, (date(2025, 1, 1), date(2025, 2, 1)),
                         (date(2024, 12, 1), date(2025, 1, 1)), "month")  # fmt: skip
    html = summary._repr_html_()
    assert_shown_as_text(html, "label")
    assert "<td>1,200.00</td><td>1,000.00</td><td>+20.0%</td>" in html


def test_an_experiment_result_and_its_banner_show_variant_names_as_text():
    spec = {
        "key": "tiny",
        "variants": {"control": 1, evil("variant"): 1},
        "start": "2025-01-01",
        "end": "2025-01-10",
        "exposures": {"table": "silver.exposures"},
        "events": {"table": "silver.events"},
        "metrics": [{"name": "revenue", "type": "mean", "value": "amount"}],
    }
    experiment = parse_experiment({"experiment": spec}, file="tiny.yml")
    rng = np.random.default_rng(7)
    arms = {"control": rng.normal(10, 2, 500), evil("variant"): rng.normal(11, 2, 500)}
    sums = ExperimentStats(
        units={arm: 500 for arm in arms},
        sums={arm: {"revenue": Sums.of(values)} for arm, values in arms.items()},
    )
    result = analyze_stats(experiment, sums)
    assert [c.variant for c in result.comparisons] == [evil("variant")]
    assert_shown_as_text(result._repr_html_(), "variant")
    assert_shown_as_text(result.srm_banner()._repr_html_(), "variant")  # in its units line


@pytest.mark.duckdb
def test_names_from_a_pipeline_are_escaped_in_wk_check_html_and_the_run_result(tmp_path):
    """A CSV column and a check named like markup, through `wk run` and `wk check --format html`."""
    tiny = TinyProject(tmp_path / "project", f"duckdb:///{tmp_path}/w.duckdb")
    column = evil("column")
    tiny.csv("orders", f'id,"{column.replace(chr(34), chr(34) * 2)}"\n1,a\n2,\n3,c\n')
    check = f"{{name: {json.dumps(evil('check'))}, type: not_null, field: {json.dumps(column)}, "
    check += "action: ACTION}"
    pipeline = f"""
pipeline:
  name: p
  sources: [{{name: files, type: files, path: data, tables: [orders], load: replace}}]
  transformations:
    - stage: silver
      models:
        - name: orders
          operations: [{{op: type_casting, columns: {{id: int64}}}}]
          quality_checks: [{check}]
"""
    tiny.pipeline(pipeline.replace("ACTION", "warn"))
    assert tiny.run().ok
    report = tmp_path / "checks.html"
    done = wk(
        "check", "--target", tiny.target, "--format", "html", "-o", str(report), cwd=tiny.root
    )
    assert done.returncode == 0, done.stderr
    assert_shown_as_text(report.read_text(), "check", "column")

    tiny.pipeline(pipeline.replace("ACTION", "reject"))  # now the check fails the model
    failed = tiny.run()
    assert not failed.ok
    assert_shown_as_text(failed._repr_html_(), "check")  # named in the model's error


# --- the templates ------------------------------------------------------------------------


def test_the_module_example_runs():
    found = doctest.testmod(warehouse_kit.core.templating)
    assert (found.failed, found.attempted) == (0, 1)


def test_each_template_is_used_and_each_one_used_exists():
    templates = {path.name for path in TEMPLATES.glob("*.j2")}
    rendered = set()
    for path in SOURCE.rglob("*.py"):
        rendered |= set(re.findall(r'render\(\s*"([^"]+)"', path.read_text()))
    included = set()
    for path in TEMPLATES.glob("*.j2"):
        included |= set(re.findall(r'{% include "([^"]+)" %}', path.read_text()))
    assert rendered | included == templates


_TAG = re.compile(
    r"</?(html|head|body|table|thead|tbody|tr|td|th|div|span|p|br|b|i|small|ul|ol|li|h[1-6]"
    r"|svg|rect|details|summary|style|script|a|img|pre|code)\b",
    re.IGNORECASE,
)  # the start of a tag: an f-string's pieces rarely hold a whole one


def test_no_python_string_holds_an_html_tag():
    """HTML lives in templates only (a docstring may mention `<table>`: it builds nothing)."""
    found = []
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        found += [
            f"{path.relative_to(SOURCE)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and _TAG.search(node.value)
        ]
    assert found == []
