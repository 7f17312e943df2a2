"""The `wk` command: parses arguments, calls the Python API, prints the result."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from typer.core import TyperCommand

from warehouse_kit import __version__
from warehouse_kit.errors import WarehouseKitError, first_line

app = typer.Typer(
    help="warehouse-kit: build, check and analyse a dimensional warehouse on DuckDB or PostgreSQL.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
demo_app = typer.Typer(
    help="Example data for trying warehouse-kit and for benchmarks.", no_args_is_help=True
)
app.add_typer(demo_app, name="demo")
notebooks_app = typer.Typer(
    help="The project's notebooks: keep them runnable and their checked outputs current.",
    no_args_is_help=True,
)
app.add_typer(notebooks_app, name="notebooks")

console = Console()
errors = Console(stderr=True)
_state = {"debug": False}

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="Warehouse URL (duckdb:///path.duckdb, postgres://user@host/db). "
        "Default: $WK_TARGET, then target: in warehouse.yml, then a DuckDB file in the project.",
        show_default=False,
    ),
]
ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project", "-p", help="The project folder (default: the nearest with a warehouse.yml)."
    ),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"warehouse-kit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def run(
    pipelines: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Pipeline files to run (default: every file in the project's pipelines/).",
            show_default=False,
        ),
    ] = None,
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
    project: ProjectOption = Path("."),
) -> None:
    """Build the warehouse: load sources into bronze, then silver and gold, in DAG order."""
    from warehouse_kit.progress import reporter_for
    from warehouse_kit.project import Project
    from warehouse_kit.runner import run as run_project

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
    )
    if dry_run:
        for model in result.models:
            console.rule(f"{model.model}  [dim]{model.note}[/]")
            console.print(Syntax(model.sql, "sql", word_wrap=True))
    if not result.ok:
        for failure in result.failures():
            errors.print(
                f"error: {failure.model}: {failure.error}", highlight=False, soft_wrap=True
            )
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
        str,
        typer.Option(
            "--format",
            "-f",
            help="table, json, junit (XML for CI) or html (a self-contained page).",
        ),
    ] = "table",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file.", show_default=False),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Run the data-quality checks on the tables as they are, without rebuilding them.

    Exits 1 when a check whose action is reject or quarantine fails.
    """
    from warehouse_kit.history import check_history
    from warehouse_kit.project import Project
    from warehouse_kit.runner import check as run_checks

    formats = ("table", "json", "junit", "html")
    if output_format not in formats:
        raise typer.BadParameter(f"choose one of {', '.join(formats)}", param_hint="--format")
    loaded = Project.load(project)
    results = run_checks(loaded, target=target, select=models or ())
    if output_format == "table" and output is None:
        console.print(results.to_table())
    else:
        if output_format == "html":
            warehouse = loaded.connect(target, read_only=True)
            try:
                history = check_history(warehouse, sorted({r.model for r in results}))
            finally:
                warehouse.close()
            text = results.to_html(history)
        else:
            text = {
                "json": results.to_json,
                "junit": results.to_junit,
                "table": lambda: str(results),
            }[output_format]()
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}", highlight=False)
    if any(result.status == "fail" for result in results):
        raise typer.Exit(1)


@app.command()
def models(project: ProjectOption = Path(".")) -> None:
    """List the project's models in run order, with their inputs."""
    from warehouse_kit.catalog import load_catalog
    from warehouse_kit.project import Project

    catalog = load_catalog(Project.load(project))
    table = Table("model", "materialized", "inputs", "declared in")
    for node in catalog.graph.order():
        model = catalog.graph.models[node]
        inputs = ", ".join(catalog.graph.upstream[node])
        table.add_row(node, model.materialization.kind, inputs, model.origin)
    console.print(table)


@app.command()
def history(
    target: TargetOption = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id (default: the latest run).")
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Show what a run did: each model's status, rows in and out, duration."""
    from warehouse_kit.history import model_runs
    from warehouse_kit.progress import format_count
    from warehouse_kit.project import Project

    loaded = Project.load(project)
    warehouse = loaded.connect(target, read_only=True)
    try:
        steps = model_runs(warehouse, run_id).to_pyarrow().to_pylist()
    finally:
        warehouse.close()
    table = Table(title=f"run {steps[0]['run_id']}")
    for column in ("model", "status", "rows in", "rows out", "seconds", "error"):
        table.add_column(column, justify="right" if column.startswith(("rows", "sec")) else "left")
    for step in steps:
        table.add_row(
            step["model"],
            step["status"],
            format_count(step["rows_in"]),
            format_count(step["rows_out"]),
            f"{step['duration_s']:.2f}",
            step["error"] or "",
        )
    console.print(table)


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
    from warehouse_kit.ddl import write
    from warehouse_kit.project import Project

    loaded = Project.load(project)
    for path in write(loaded, dialect, target=target, out=out):
        console.print(loaded.display(path), highlight=False, soft_wrap=True)


@demo_app.command("generate")
def demo_generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the CSV files to.")],
    orders: Annotated[
        int, typer.Option("--orders", "-n", min=1, help="Number of orders (about 2.5 lines each).")
    ] = 1200,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")
    ] = 42,
    changes: Annotated[
        float | None,
        typer.Option(
            "--changes",
            min=0,
            max=100,
            metavar="PCT",
            help="Write the second batch instead: the later export that follows the files "
            "made with the same --orders and --seed. Full customer and product snapshots where "
            "about PCT% of customers move and of products change price, a few products are "
            "deleted and some are new, as are customers; and PCT% new orders, some late and "
            "some for customers not sent yet.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write customers, products, orders and order_items CSV files, with realistic dirt."""
    from warehouse_kit.demo import generate, generate_changes

    if changes is None:
        counts = generate(out, orders=orders, seed=seed)
    else:
        counts = generate_changes(out, orders=orders, seed=seed, changes=changes)
    for table_name, rows in counts.items():
        console.print(f"{table_name}: {rows:,} rows", highlight=False)


class _PairsCommand(TyperCommand):
    """A command whose ``-p NAME VALUE`` takes two words, as papermill's does.

    Typer has no repeatable option of pairs, so each pair reaches it as one
    ``NAME=VALUE`` word (a parameter name never holds ``=``).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        joined: list[str] = []
        rest = iter(args)
        for word in rest:
            joined.append(word)
            if word == "--":
                joined += rest
            elif word in ("-p", "--parameter"):
                name, value = next(rest, None), next(rest, None)
                if name is None or value is None:
                    raise typer.BadParameter("takes a NAME and a VALUE", param_hint="-p")
                joined.append(f"{name}={value}")
        result: list[str] = super().parse_args(ctx, joined)
        return result


@app.command(cls=_PairsCommand)
def report(
    notebook: Annotated[Path, typer.Argument(help="The notebook to run.", show_default=False)],
    parameters: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            metavar="NAME VALUE",
            help="Set a parameter of the notebook (its cell tagged 'parameters'); repeatable.",
            show_default=False,
        ),
    ] = None,
    target: TargetOption = None,
    show_code: Annotated[
        bool, typer.Option("--show-code", help="Keep the code cells in the HTML.")
    ] = False,
    project: Annotated[
        Path, typer.Option("--project", help="The project folder (default: the nearest).")
    ] = Path("."),
) -> None:
    """Run a notebook with papermill into reports/, and export it to an HTML page that
    opens offline (charts inline, nothing loaded from the network)."""
    from warehouse_kit.project import Project
    from warehouse_kit.reports import parse_parameters
    from warehouse_kit.reports import report as make_report

    pairs = [item.split("=", 1) for item in parameters or []]
    values = parse_parameters(notebook, [(name, value) for name, value in pairs])
    made = make_report(
        notebook,
        parameters=values,
        target=target,
        show_code=show_code,
        project=Project.load(project),
    )
    console.print(str(made.notebook), highlight=False, soft_wrap=True)
    console.print(str(made.html), highlight=False, soft_wrap=True)


@notebooks_app.command("refresh")
def notebooks_refresh(
    notebooks: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Notebooks to refresh (default: every notebook in notebooks/).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Re-run each notebook against a freshly built example warehouse and keep only the
    outputs nbval checks (cells marked # NBVAL_CHECK_OUTPUT); commit the result."""
    from warehouse_kit.notebooks_refresh import refresh
    from warehouse_kit.project import Project

    loaded = Project.load(project)
    for path in refresh(loaded, notebooks or ()):
        console.print(f"refreshed {loaded.display(path)}", highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the `wk` console script."""
    try:
        app()
    except WarehouseKitError as exc:
        _fail(exc, str(exc))
    except Exception as exc:  # an unexpected failure still gets one line
        _fail(exc, f"{type(exc).__name__}: {first_line(exc)} (run with --debug for the traceback)")


def _fail(exc: BaseException, message: str) -> None:
    if _state["debug"]:
        raise exc
    errors.print(f"error: {message}", highlight=False, soft_wrap=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
