"""The one config layer: every file format errs the same way, reads durations one way, and
publishes a JSON Schema that the repository's own files pass."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import timedelta
from pathlib import Path

import duckdb
import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO_ROOT
from warehouse_kit.analytics import metrics
from warehouse_kit.analytics.experiments import load_experiment
from warehouse_kit.apps.cli import app
from warehouse_kit.apps.file_formats import FORMATS
from warehouse_kit.core.config import parse_duration
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.project import Project
from warehouse_kit.core.quality import Freshness, parse_checks
from warehouse_kit.core.runner import run
from warehouse_kit.core.spec import Incremental, load_pipeline_spec
from warehouse_kit.core.yamlfile import quote_bare_variables, read_yaml


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def pipeline_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path / "p.yml", text)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_spec(path, display="pipelines/p.yml", environ={})
    return str(caught.value)


# --- one line naming the file, the key path and the suggestion, in every format -----------

SILVER = "pipeline:\n  name: p\n  transformations:\n    - stage: silver\n      models:\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (SILVER + "        - {name: c, operations: [{op: deduplicate, keyy: id}]}\n",
         "pipelines/p.yml: pipeline.transformations[0].models[0].operations[0].keyy: "
         "unknown key 'keyy' for a deduplicate operation; did you mean 'key'?"),
        (SILVER + "        - {name: c, operations: [{op: dedupe, key: id}]}\n",
         "pipelines/p.yml: pipeline.transformations[0].models[0].operations[0]: "
         "unknown operation 'dedupe'; did you mean 'deduplicate'?"),
        ("pipeline: {name: p, sources: [{name: f, type: fils, tables: [a]}]}\n",
         "pipelines/p.yml: pipeline.sources[0]: unknown source type 'fils'; did you mean 'files'?"),
        ("pipeline: {name: p, sources: [{name: f, type: files, paht: data, tables: [a]}]}\n",
         "pipelines/p.yml: pipeline.sources[0].paht: unknown key 'paht' for a files source; "
         "did you mean 'path'?"),
        ("pipeline: {name: p, schedul: '0 * * * *'}\n",
         "pipelines/p.yml: pipeline.schedul: unknown key 'schedul'; did you mean 'schedule'?"),
        ("pipeline: {name: p, quality_checks: [{check: row_cont, threshold: 0.9}]}\n",
         "pipelines/p.yml: pipeline.quality_checks[0]: unknown check type 'row_cont'; "
         "did you mean 'row_count'?"),
        ("pipeline:\n  name: p\n  monitoring:\n    alerts: [{type: pipeline_failure, "
         "channel: webhook, ulr: x}]\n",
         "pipelines/p.yml: pipeline.monitoring.alerts[0].ulr: unknown key 'ulr' for a webhook "
         "alert; did you mean 'url'?"),
        ("pipeline:\n  name: p\n  monitoring:\n    alerts: [{type: pipeline_failure, "
         "channel: teams}]\n",
         "pipelines/p.yml: pipeline.monitoring.alerts[0]: unknown alert channel 'teams'; "
         "expected one of email, slack, webhook"),
    ],
)  # fmt: skip
def test_a_pipeline_file_mistake_is_one_line(tmp_path, text, expected):
    assert pipeline_error(tmp_path, text) == expected


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("{type: not_null, colum: email}",
         "quality_checks[0].colum: unknown key 'colum' for a not_null check; "
         "did you mean 'column'?"),
        ("{check: range, field: amount, minimum: 0}",
         "quality_checks[0].minimum: unknown key 'minimum' for a range check; did you mean 'min'?"),
        ("{type: regex, field: email, pattern: '@', acton: reject}",
         "quality_checks[0].acton: unknown key 'acton' for a regex check; did you mean 'action'?"),
        ("{check: freshness, field: t, max_age: soon}",
         "quality_checks[0].max_age: 'soon' is not a duration: write a number and a unit, "
         "such as 24h, 2 days, 1d 12h or 30 minutes"),
    ],
)  # fmt: skip
def test_checks_in_a_pipeline_file_refuse_unknown_keys_when_it_is_read(tmp_path, check, expected):
    text = SILVER + f"        - name: c\n          quality_checks: [{check}]\n"
    where = "pipelines/p.yml: pipeline.transformations[0].models[0]."
    assert pipeline_error(tmp_path, text) == where + expected


def test_checks_given_in_python_err_the_same_way():
    with pytest.raises(ConfigError) as caught:
        parse_checks([{"type": "not_nul", "field": "a"}], file="m.py:3", key_path="checks")
    assert str(caught.value) == (
        "m.py:3: checks[0]: unknown check type 'not_nul'; did you mean 'not_null'?"
    )


def test_warehouse_yml_names_an_unknown_key(tmp_path):
    write(tmp_path / "warehouse.yml", "name: w\ntargt: duckdb://w.duckdb\n")
    with pytest.raises(ConfigError) as caught:
        Project.load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'warehouse.yml'}: targt: unknown key 'targt'; did you mean 'target'?"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics:\n  revenue: {type: sum, expr: amount, fliter: x}\n",
         "analytics/a.yml: metrics.revenue.fliter: unknown key 'fliter' for a sum metric; "
         "did you mean 'filter'?"),
        ("metrics:\n  revenue: {type: summ, expr: amount}\n",
         "analytics/a.yml: metrics.revenue: unknown metric type 'summ'; did you mean 'sum'?"),
        ("modles: {}\n",
         "analytics/a.yml: modles: unknown key 'modles'; did you mean 'models'?"),
    ],
)  # fmt: skip
def test_a_metrics_file_mistake_is_one_line(tmp_path, text, expected):
    write(tmp_path / "analytics" / "a.yml", text)
    with pytest.raises(ConfigError) as caught:
        metrics.load(tmp_path)
    assert str(caught.value) == expected


EXPERIMENT = """\
experiment:
  key: x
  variants: {control: 1, treatment: 1}
  start: 2025-01-01
  end: 2025-01-10
  exposures: {table: gold.exposures}
  events: {table: gold.events}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  metrics: [{name: c, type: binomal}]\n",
         "x.yml: experiment.metrics[0]: unknown metric type 'binomal'; did you mean 'binomial'?"),
        ("  metrics: [{name: c, type: mean, value: amount, wher: x}]\n",
         "x.yml: experiment.metrics[0].wher: unknown key 'wher' for a mean metric; "
         "did you mean 'where'?"),
        ("  metrics: [{name: c, type: binomial}]\n  cuped: {pre_period: 7}\n",
         "x.yml: experiment.cuped.pre_period: unknown key 'pre_period'; "
         "did you mean 'pre_period_days'?"),
    ],
)  # fmt: skip
def test_an_experiment_file_mistake_is_one_line(tmp_path, text, expected):
    path = write(tmp_path / "x.yml", EXPERIMENT + text)
    with pytest.raises(ConfigError) as caught:
        load_experiment(path, display="x.yml")
    assert str(caught.value) == expected


# --- durations: one parser ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("2 days", timedelta(days=2)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("30 minutes", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("15 min", timedelta(minutes=15)),
        ("1.5h", timedelta(minutes=90)),
        ("1w", timedelta(days=7)),
        ("2 Hours", timedelta(hours=2)),
    ],
)
def test_a_duration_is_a_number_and_a_unit_or_several(text, expected):
    assert parse_duration(text) == expected
    # The source lookback and the freshness check read durations with that one parser.
    assert Incremental(cursor="t", lookback=text).lookback == expected
    assert Freshness(field="t", max_age=text).max_age == expected


def test_numbers_stay_what_they_were_a_lookback_for_numeric_cursors_and_seconds_of_max_age():
    assert Incremental(cursor="id", lookback=100).lookback == 100.0
    assert Freshness(field="t", max_age=3600).max_age == timedelta(hours=1)


@pytest.mark.parametrize("text", ["soon", "2", "2 fortnights", "h", "1d and 2h"])
def test_anything_else_is_not_a_duration(text):
    with pytest.raises(ValueError, match=f"{re.escape(repr(text))} is not a duration"):
        parse_duration(text)


# --- destination.type: the target must agree ---------------------------------------------


def one_table_project(root: Path, destination: str) -> Path:
    write(root / "data" / "t.csv", "n\n1\n")
    write(
        root / "pipelines" / "p.yml",
        f"""
        pipeline:
          name: p
          sources: [{{name: files, type: files, path: data, tables: [t]}}]
          transformations: [{{stage: bronze}}]
          destination: {destination}
        """,
    )
    return root


def test_a_destination_type_the_target_contradicts_is_refused_before_anything_opens(tmp_path):
    root = one_table_project(tmp_path, "{type: postgres}")
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(ConfigError) as caught:
        run(root, target=f"duckdb:///{warehouse}")
    assert str(caught.value) == (
        f"pipelines/p.yml: pipeline.destination.type: 'postgres', but the target "
        f"duckdb:///{warehouse} is DuckDB: give a PostgreSQL target (--target, WK_TARGET or "
        "target: in warehouse.yml), or leave destination.type out to run on either"
    )
    assert not warehouse.exists()


def test_a_duckdb_destination_refuses_a_postgres_target(tmp_path, postgres_url):
    root = one_table_project(tmp_path, "{type: duckdb, database: w}")
    with pytest.raises(ConfigError, match=r"pipeline\.destination\.type: 'duckdb', but the target"):
        run(root, target=postgres_url)


def test_a_duckdb_destination_names_the_file_when_no_target_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("WK_TARGET", raising=False)
    root = one_table_project(tmp_path, "{type: duckdb, database: shop}")
    assert run(root).ok
    assert (root / "shop.duckdb").exists()


# --- a source query: one SELECT, parsed, and run as sqlglot renders it -------------------


@pytest.mark.parametrize(
    ("source", "query", "problem"),
    [
        ("postgres", "DELETE FROM orders", "a query is one SELECT statement that only reads: "
         "DELETE is not allowed"),
        ("postgres", "SELECT 1; DROP TABLE orders", "a query is one SELECT statement, not 2"),
        ("postgres", "SELECT * INTO copy FROM orders", "SELECT INTO is not allowed"),
        ("postgres", "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
         "DELETE is not allowed"),
        ("postgres", "SELECT * FROM orders FOR UPDATE", "FOR UPDATE/SHARE is not allowed"),
        ("duckdb", "COPY orders TO 'x.csv'", "COPY is not allowed"),
        ("duckdb", "SELEC 1", "the query is not valid duckdb SQL"),
    ],
)  # fmt: skip
def test_a_source_query_that_is_not_one_select_is_refused(tmp_path, source, query, problem):
    where = "connection: x" if source == "postgres" else "path: x.duckdb"
    text = (
        f"pipeline:\n  name: p\n  sources:\n    - {{name: s, type: {source}, {where}, "
        f'tables: [{{name: t, query: "{query}"}}]}}\n'
    )
    message = pipeline_error(tmp_path, text)
    assert message.startswith("pipelines/p.yml: pipeline.sources[0].tables[0].query: ")
    assert problem in message


def test_a_source_runs_the_statement_sqlglot_renders(tiny):
    # As text wrapped in a subquery, the comment would swallow the closing parenthesis and
    # the semicolon end the statement early; the parsed statement has neither.
    with duckdb.connect(str(tiny.root / "data" / "legacy.duckdb")) as con:
        con.execute(
            "CREATE TABLE accounts AS SELECT * FROM (VALUES (7, 'x'), (8, 'y')) t(id, label)"
        )
    query = "SELECT id, label FROM accounts WHERE id > 7; -- the newer ones"
    tiny.pipeline(
        "pipeline:\n  name: p\n  sources:\n    - {name: legacy, type: duckdb, "
        f'path: data/legacy.duckdb, tables: [{{name: newer, query: "{query}"}}]}}\n'
    )
    assert tiny.run().ok
    assert [(row["id"], row["label"]) for row in tiny.rows("bronze.newer")] == [(8, "y")]


# --- JSON Schema: current, and the repository's files pass it -----------------------------


@pytest.mark.parametrize("name", list(FORMATS))
def test_the_committed_schema_is_what_wk_schema_prints(name):
    result = CliRunner().invoke(app, ["schema", name])
    assert result.exit_code == 0
    committed = REPO_ROOT / "schemas" / "json" / f"{name}.schema.json"
    assert committed.read_text(encoding="utf-8") == result.stdout, (
        f"run: wk schema {name} > schemas/json/{name}.schema.json"
    )


def as_an_editor_reads(path: Path) -> object:
    """The file's YAML as JSON types: dates are text to an editor, as they are in JSON."""
    return json.loads(json.dumps(read_yaml(path, display=str(path)), default=str))


def schema_of(path: Path) -> dict:
    """The schema a file names in its ``# yaml-language-server: $schema=`` line."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, f"{path} does not name its schema on its first line"
    return json.loads((path.parent / match.group(1)).read_text(encoding="utf-8"))


EXAMPLES = sorted(
    [
        REPO_ROOT / "warehouse.yml",
        *(REPO_ROOT / "pipelines").glob("*.yml"),
        *(REPO_ROOT / "analytics").rglob("*.yml"),
    ]
)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_example_files_pass_their_schema(path):
    validator = jsonschema.Draft202012Validator(schema_of(path))
    problems = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(as_an_editor_reads(path))
    ]
    assert problems == []


README_FORMATS = {
    "pipeline:": "pipeline",
    "models:": "metrics",
    "experiment:": "experiments",
    "openlineage:": "warehouse",
}


def test_the_readme_examples_pass_their_schema():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    checked = 0
    for block in blocks:
        name = next((f for key, f in README_FORMATS.items() if block.startswith(key)), None)
        if name is None:
            continue  # a fragment of a file
        schema = json.loads((REPO_ROOT / "schemas" / "json" / f"{name}.schema.json").read_text())
        text = quote_bare_variables(block)  # as warehouse-kit reads it
        data = json.loads(json.dumps(yaml.safe_load(text), default=str))
        jsonschema.validate(data, schema)
        checked += 1
    assert checked >= 3


def test_the_schema_is_as_strict_as_the_loader():
    schema = json.loads((REPO_ROOT / "schemas" / "json" / "pipeline.schema.json").read_text())
    good = {"pipeline": {"name": "p", "quality_checks": [{"check": "unique_keys", "key": "id"}]}}
    jsonschema.validate(good, schema)
    for bad in (
        {"pipeline": {"name": "p", "quality_checks": [{"check": "unique_keys", "kee": "id"}]}},
        {"pipeline": {"name": "p", "transformations": [{"stage": "s", "operations": ["dedupe"]}]}},
        {"pipeline": {"name": "p", "destination": {"type": "sqlite"}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
