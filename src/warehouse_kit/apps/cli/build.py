"""`wk run`, `wk check`, `wk models`, `wk history`, `wk ddl` and `wk schema`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from warehouse_kit.apps.cli.base import (
    WAIT_S,
    PipelinesArgument,
    ProjectOption,
    TargetOption,
    WaitOption,
    app,
    console,
    errors,
    show,
)


@app.command()
def run(
    pipelines: PipelinesArgument = None,
    target: TargetOption = None,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            help="Models to build: NAME, STAGE.NAME, a stage, "
            "+NAME (with upstream), NAME+ (with downstream).",
            show_default=False,
        ),
    ] = None,
    full_refresh: Annotated[
        bool,
        typer.Option("--full-refresh", help="Rebuild from scratch: reload every source batch."),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the plan and the SQL of every model; write nothing."),
    ] = False,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Build the warehouse: load sources into bronze, then silver and gold, in DAG order.

    One run at a time per target: a second run says which run holds it and waits."""
    from warehouse_kit.core.progress import reporter_for
    from warehouse_kit.core.project import Project
    from warehouse_kit.core.runner import run as run_project

    loaded = Project.load(project)
    files = [path.resolve() for path in pipelines] if pipelines else None
    result = run_project(
        loaded,
        pipelines=files,
        target=target,
        select=select or (),
        full_refresh=full_refresh,
        dry_run=dry_run,
        reporter=reporter_for(console),
        wait=wait,
    )
    if dry_run:
        for model in result.models:
            console.rule(f"{escape(model.model)}  [dim]{escape(model.note)}[/]")
            console.print(Syntax(model.sql, "sql", word_wrap=True))
    if not result.ok:
        for failure in result.failures():
            errors.print(
                f"error: {failure.model}: {failure.error}", highlight=False, soft_wrap=True
            )
        for lake in result.published:
            if lake.error:
                errors.print(f"error: lake {lake.table}: {lake.error}", highlight=False)
        raise typer.Exit(1)


@app.command()
def check(
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models (or selectors, as for run --select); default: all with checks.",
            show_default=False,
        ),
    ] = None,
    target: TargetOption = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="table, json, junit (XML for CI) or html (a self-contained page). "
            "Default: by the --output file's extension (.json, .xml, .html), else table.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file.", show_default=False),
    ] = None,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Run the data-quality checks on the tables as they are, without rebuilding them.

    Exits 1 when a check whose action is reject or quarantine fails.
    """
    from warehouse_kit.apps.lineage import pii_warnings
    from warehouse_kit.core.history import check_history
    from warehouse_kit.core.project import Project
    from warehouse_kit.core.quality.report import FORMATS, format_of
    from warehouse_kit.core.runner import check as run_checks

    if output_format not in (None, *FORMATS):
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    chosen = output_format or (format_of(output) if output is not None else "table")
    loaded = Project.load(project)
    results = run_checks(loaded, target=target, select=models or (), wait=wait)
    if chosen == "table" and output is None:
        show(results.to_table())
    else:
        history = []
        if chosen == "html":
            with loaded.reading(target, wait_s=0) as warehouse:
                history = check_history(warehouse, sorted({r.model for r in results}))
        text = results.render(chosen, history)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}", highlight=False, soft_wrap=True, markup=False)
    for warning in pii_warnings(loaded, target):
        errors.print(f"warning: {warning}", highlight=False, soft_wrap=True)
    if any(result.status == "fail" for result in results):
        raise typer.Exit(1)


@app.command()
def models(project: ProjectOption = Path(".")) -> None:
    """List the project's models in run order, with their inputs."""
    from warehouse_kit.core.catalog import load_catalog
    from warehouse_kit.core.project import Project

    catalog = load_catalog(Project.load(project))
    table = Table("model", "materialized", "inputs", "declared in")
    for node in catalog.graph.order():
        model = catalog.graph.models[node]
        inputs = ", ".join(catalog.graph.upstream[node])
        table.add_row(node, model.materialization.kind, inputs, model.origin)
    show(table)


@app.command()
def history(
    target: TargetOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id (default: the latest run).")
    ] = None,
    schema_of: Annotated[
        str | None,
        typer.Option(
            "--schema",
            help="A table (silver.customers): every set of columns it has had, instead.",
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Show what a run did: each model's status, rows and notes.

    Rows in, out, quarantined and dropped, and its notes (a stream batch's messages,
    dead letters and lag; a watermark...).

    A run whose process died before it finished shows as aborted. With --schema,
    show instead how a table's columns changed, run by run."""
    from warehouse_kit.apps.notebook import find_run
    from warehouse_kit.core.history import model_runs, recover
    from warehouse_kit.core.progress import format_count
    from warehouse_kit.core.project import Project

    loaded = Project.load(project)
    if schema_of is not None:
        _schema_history(loaded, target, schema_of)
        return
    recover(loaded, target)
    with loaded.reading(target, wait_s=0) as warehouse:
        steps = model_runs(warehouse, run_id).to_pyarrow().to_pylist()
        shown = find_run(warehouse, run_id=run_id) if run_id else find_run(warehouse)
    table = Table(title=f"run {shown.run_id}: {shown.status}")
    columns = ("model", "status", "rows in", "rows out", "quarantined", "dropped", "seconds")
    for column in (*columns, "notes", "error"):
        table.add_column(
            column, justify="right" if column in columns[2:] else "left", overflow="fold"
        )
    for step in steps:
        table.add_row(
            Text(step["model"]),
            step["status"],
            format_count(step["rows_in"]),
            format_count(step["rows_out"]),
            format_count(step.get("rows_quarantined")),
            format_count(step.get("rows_dropped")),
            f"{step['duration_s']:.2f}",
            Text(step.get("notes") or ""),  # text, not markup: notes hold names and values
            Text(step["error"] or ""),
        )
    show(table)
    if shown.status == "aborted":  # its error says why, and which run found it
        console.print(f"aborted: {shown.error}", highlight=False, soft_wrap=True, markup=False)


def _schema_history(project: Any, target: str | None, table_name: str) -> None:
    from warehouse_kit.core.history import schema_versions

    with project.reading(target, wait_s=0) as warehouse:
        versions = schema_versions(warehouse, table_name)
    table = Table(title=f"{table_name}: {len(versions)} schema versions")
    for column in ("version", "run", "change", "columns"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for row in versions:
        columns = ", ".join(f"{name} {kind}" for name, kind in row["columns"])
        table.add_row(str(row["version"]), row["run_id"], row["change"], columns)
    show(table)


@app.command()
def ddl(
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            "-d",
            help="duckdb, postgres, snowflake, bigquery, spark, or all "
            "(default: the target's engine).",
            show_default=False,
        ),
    ] = None,
    target: TargetOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write to (default: the project's schemas/).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write CREATE TABLE scripts for the gold tables, and their ER diagram (Mermaid).

    Files: schemas/<database>-<dialect>-schema.sql, schemas/<database>-er.mmd and .md.
    """
    from warehouse_kit.analytics.ddl import write
    from warehouse_kit.core.project import Project

    loaded = Project.load(project)
    for path in write(loaded, dialect, target=target, out=out):
        console.print(loaded.display(path), highlight=False, soft_wrap=True, markup=False)


@app.command("schema")
def schema_command(
    file_format: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="pipeline, warehouse, checks, metrics or experiments.",
            show_default=False,
        ),
    ],
) -> None:
    """Print the JSON Schema of a file format, for editors.

    wk schema pipeline > pipeline.schema.json"""
    from warehouse_kit.apps.file_formats import FORMATS, schema_text

    if file_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="FORMAT")
    sys.stdout.write(schema_text(file_format))
