"""No password reaches a report, a log line, a `_wk` row or an error.

A real PostgreSQL role with a password owns the warehouse (the test server trusts
every connection, so the password is never checked, but it is in every URL), and
each command that takes a target runs with that URL; then every file written,
every line printed and every row of ``_wk`` is searched for the password.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from conftest import POSTGRES_SERVER, REPO_ROOT, TinyProject, require_postgres, wk

REPORT = REPO_ROOT / "notebooks" / "pipeline_report.ipynb"

PEOPLE = """
id,email,city
1,a@x.com,Paris
2,not-an-email,Lyon
3,c@x.com,Lyon
"""
PIPELINE = """
pipeline:
  name: people_pipeline
  sources: [{name: files, type: files, path: data, tables: [people], load: replace}]
  transformations:
    - stage: silver
      models:
        - name: people
          operations: [{op: type_casting, columns: {id: int64}}]
          quality_checks:
            - {name: email_valid, type: regex, field: email, pattern: '^[^@]+@[^@]+$',
               action: warn}
    - stage: gold
      models:
        - name: people_by_city
          from: people
          operations: [{op: aggregate_metrics, group_by: [city], measures: {people: "count(*)"}}]
"""


@pytest.fixture
def secret_url() -> Iterator[tuple[str, str]]:
    """A database owned by a role with a password, and the password in its URL."""
    suffix = uuid.uuid4().hex[:12]
    role, database, password = f"wk_role_{suffix}", f"wk_test_{suffix}", f"Pw{uuid.uuid4().hex}"
    require_postgres()
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
    server = POSTGRES_SERVER.split("://", 1)[1].split("@", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgres://{role}:{password}@{server}/{database}", password
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def state_rows(url: str) -> list[str]:
    """Every row of every ``_wk`` table, as text."""
    with psycopg.connect(url.split("?", 1)[0]) as con:
        names = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = '_wk'"
        ).fetchall()
        query = sql.SQL("SELECT t::text FROM {} AS t")
        return [
            row[0]
            for (name,) in names
            for row in con.execute(query.format(sql.Identifier("_wk", name))).fetchall()
        ]


@pytest.mark.postgres
def test_no_password_reaches_a_report_a_log_a_state_row_or_an_error(secret_url, tmp_path):
    url, password = secret_url
    project = TinyProject(tmp_path / "project", url)
    project.csv("people", PEOPLE)
    project.pipeline(PIPELINE)
    out = tmp_path / "out"
    out.mkdir()
    cwd = project.root
    report = ("report", str(REPORT), "--project", str(cwd), "-p", "pipeline")
    unreachable = url.replace(url.split("@")[1].split("/")[0], "127.0.0.1:1")
    commands = [
        ("run", "--target", url),
        ("run", "--dry-run", "--target", url),
        ("history", "--target", url),
        ("check", "--target", url),
        ("check", "--target", url, "--format", "json", "-o", str(out / "checks.json")),
        ("check", "--target", url, "--format", "junit", "-o", str(out / "checks.xml")),
        ("check", "--target", url, "--format", "html", "-o", str(out / "checks.html")),
        ("history", "--target", url),  # after the checks too
        ("ddl", "--target", url, "--out", str(out / "schemas")),
        (*report, "people_pipeline", "--target", url, "--show-code"),
        (*report, "people_pipeline", "-p", "target", url),  # the notebook's own parameter
        # and what fails: an unreachable server, a run or a report that finds nothing
        ("run", "--target", unreachable),
        ("history", "--target", url, "--run", "nope"),
        (*report, "nope", "--target", url),
    ]
    results = [wk(*command, cwd=cwd) for command in commands]
    codes = [result.returncode for result in results]
    assert codes == [0] * 11 + [1] * 3, [r.stderr for r in results]

    printed = [text for result in results for text in (result.stdout, result.stderr)]
    written = [path for path in tmp_path.rglob("*") if path.is_file()]
    reports = sorted((cwd / "reports").glob("*.html"))
    assert len(reports) == 2  # the failed report leaves its notebook, no HTML
    for report in reports:  # each connected: it shows the run
        assert "of people_pipeline: success" in report.read_text()
    assert len(written) > 10
    assert [text for text in printed if password in text] == []
    assert [path for path in written if password.encode() in path.read_bytes()] == []
    rows = state_rows(url)
    assert any("people_pipeline" in row for row in rows)
    assert [row for row in rows if password in row] == []
