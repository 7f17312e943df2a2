"""The pipeline file format: what it accepts, and the one-line errors for what it refuses."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.operations import Deduplicate, NullHandling
from warehouse_kit.core.spec import PostgresSource, load_pipeline_spec


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "x.yml"
    path.write_text(textwrap.dedent(text))
    return load_pipeline_spec(path, display="pipelines/x.yml", environ=environ or {})


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, environ)
    return str(caught.value)


def test_the_design_document_example_parses(tmp_path):
    spec = load(
        tmp_path,
        """
        pipeline:
          name: retail_pipeline
          type: ELT
          schedule: "0 */6 * * *"
          sources:
            - name: shop_files
              type: files
              path: seeds/
              tables: [customers, orders, order_items, products]
            - name: postgres_prod
              type: postgres
              connection: ${POSTGRES_CONN}
              tables: [customers, transactions, items]
          transformations:
            - stage: bronze
              operations: [deduplicate, null_handling]
          destination:
            type: duckdb
            database: analytics
            schema: production
          quality_checks:
            - {check: row_count, threshold: 0.95}
          monitoring:
            alerts:
              - {type: pipeline_failure, channel: webhook}
        """,
        environ={"POSTGRES_CONN": "postgres://u:secret@h/db"},
    )
    assert [source.name for source in spec.sources] == ["shop_files", "postgres_prod"]
    assert spec.transformations[0].operations == [
        Deduplicate(op="deduplicate"),
        NullHandling(op="null_handling"),
    ]
    assert spec.destination.schema_ == "production"


def test_a_connection_from_the_environment_is_never_shown(tmp_path):
    spec = load(
        tmp_path,
        """
        pipeline:
          name: p
          sources: [{name: pg, type: postgres, connection: "${PG}", tables: [a]}]
        """,
        environ={"PG": "postgres://u:secret@h/db"},
    )
    source = spec.sources[0]
    assert isinstance(source, PostgresSource)
    assert source.connection.get_secret_value() == "postgres://u:secret@h/db"
    assert "secret" not in repr(spec)


def test_a_whole_variable_needs_no_quotes_inside_braces(tmp_path):
    # The form the toolkit was specified with: YAML alone would end the value at its "{".
    spec = load(
        tmp_path,
        """
        pipeline:
          name: p
          sources: [{name: pg, type: postgres, connection: ${PG}, tables: [a]}]
          monitoring:
            alerts:
              - {type: pipeline_failure, channel: webhook, url: ${HOOK}}
              - {type: pipeline_failure, channel: email, to: [a@b.c], smtp: ${SMTP:-smtp://h:25}}
        """,
        environ={"PG": "postgres://u:secret@h/db", "HOOK": "https://hooks.example/x{y}"},
    )
    source = spec.sources[0]
    assert isinstance(source, PostgresSource)
    assert source.connection.get_secret_value() == "postgres://u:secret@h/db"
    webhook, email = spec.monitoring.alerts
    assert webhook.url.get_secret_value() == "https://hooks.example/x{y}"
    assert email.smtp.get_secret_value() == "smtp://h:25"


def test_a_default_stands_in_for_an_unset_variable(tmp_path):
    spec = load(
        tmp_path,
        """
        pipeline:
          name: p
          sources: [{name: f, type: files, path: "${DATA:-seeds}", tables: [a]}]
        """,
    )
    assert spec.sources[0].path == "seeds"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            pipeline:
              name: p
              transformations:
                - stage: bronze
                - stage: silver
                  operations: [dedupe]
            """,
            "pipelines/x.yml: pipeline.transformations[1].operations[0]: "
            "unknown operation 'dedupe'; did you mean 'deduplicate'?",
            id="unknown operation",
        ),
        pytest.param(
            """
            pipeline:
              name: p
              transformations:
                - stage: silver
                  models:
                    - name: c
                      operations: [{op: deduplicate, keys: [a]}]
            """,
            "pipelines/x.yml: pipeline.transformations[0].models[0].operations[0].keys: "
            "unknown key 'keys' for a deduplicate operation; did you mean 'key'?",
            id="unknown option",
        ),
        pytest.param(
            """
            pipeline:
              name: p
              sources: [{name: pg, type: postgres, connection: "${NOPE}", tables: [a]}]
            """,
            "pipelines/x.yml: pipeline.sources[0].connection: environment variable NOPE is not set",
            id="missing environment variable",
        ),
        pytest.param(
            """
            pipeline:
              name: p
              sources: [{name: f, type: file, tables: [a]}]
            """,
            "pipelines/x.yml: pipeline.sources[0]: "
            "unknown source type 'file'; did you mean 'files'?",
            id="unknown source type",
        ),
        pytest.param(
            """
            pipeline:
              name: p
              transformations:
                - stage: silver
                  models: [{name: c, operations: [join_tables]}]
            """,
            "pipelines/x.yml: pipeline.transformations[0].models[0].operations[0]: join_tables "
            "needs with: and on:; the tables here are orders; "
            "e.g. {op: join_tables, with: orders, on: order_id}",
            id="short form of an operation that needs options",
        ),
        pytest.param(
            """
            pipeline:
              name: 'x"; DROP TABLE y; --'
            """,
            """pipelines/x.yml: pipeline.name: 'x"; DROP TABLE y; --' is not a valid name""",
            id="hostile name",
        ),
        pytest.param(
            """
            pipeline:
              name: p
              transformations:
                - stage: silver
                - stage: bronze
            """,
            "the bronze stage, where sources land, must come first",
            id="bronze not first",
        ),
        pytest.param(
            "pipeline: {name: p\n",
            "pipelines/x.yml: invalid YAML: line 2, column 1",
            id="broken YAML",
        ),
    ],
)
def test_bad_files_get_one_line_naming_file_and_key(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert expected in message
    assert "\n" not in message


def test_yaml_on_is_a_key_not_a_boolean(tmp_path):
    spec = load(
        tmp_path,
        """
        pipeline:
          name: p
          transformations:
            - stage: silver
              models:
                - name: c
                  operations: [{op: join_tables, with: d, on: id}]
        """,
    )
    assert spec.transformations[0].models[0].operations[0].on == ["id"]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yml: file not found"):
        load_pipeline_spec(tmp_path / "nope.yml", display="pipelines/nope.yml")
