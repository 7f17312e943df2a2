"""The `wk` command: parses arguments, calls the Python API, prints the result."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.syntax import Syntax
from rich.table import Table
from typer.core import TyperCommand

from warehouse_kit import __version__
from warehouse_kit.core.errors import WarehouseKitError, first_line

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
metrics_app = typer.Typer(
    help="KPIs defined in analytics/: list them, query them.", no_args_is_help=True
)
app.add_typer(metrics_app, name="metrics")
ab_app = typer.Typer(
    help="A/B tests: list, analyse and plan the experiments in analytics/experiments/.",
    no_args_is_help=True,
)
app.add_typer(ab_app, name="ab")

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
WAIT_S = 300.0
"""`runlock.DEFAULT_WAIT_S`, written out so that `wk --help` does not import the engines."""
WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        metavar="SECONDS",
        help="How long to wait while another run holds the target (or, on DuckDB, "
        "a notebook has the file open), then fail.",
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
            warehouse = loaded.connect(target, read_only=True)
            try:
                history = check_history(warehouse, sorted({r.model for r in results}))
            finally:
                warehouse.close()
        text = results.render(chosen, history)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            output.write_text(text, encoding="utf-8")
            console.print(f"wrote {output}", highlight=False, soft_wrap=True)
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
    """Show what a run did: each model's status, rows in, out, quarantined and dropped.

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
    warehouse = loaded.connect(target, read_only=True)
    try:
        steps = model_runs(warehouse, run_id).to_pyarrow().to_pylist()
        shown = find_run(warehouse, run_id=run_id) if run_id else find_run(warehouse)
    finally:
        warehouse.close()
    table = Table(title=f"run {shown.run_id}: {shown.status}")
    columns = ("model", "status", "rows in", "rows out", "quarantined", "dropped", "seconds")
    for column in (*columns, "error"):
        table.add_column(
            column, justify="left" if column in ("model", "status", "error") else "right"
        )
    for step in steps:
        table.add_row(
            step["model"],
            step["status"],
            format_count(step["rows_in"]),
            format_count(step["rows_out"]),
            format_count(step.get("rows_quarantined")),
            format_count(step.get("rows_dropped")),
            f"{step['duration_s']:.2f}",
            step["error"] or "",
        )
    show(table)
    if shown.status == "aborted":  # its error says why, and which run found it
        console.print(f"aborted: {shown.error}", highlight=False, soft_wrap=True)


def _schema_history(project: Any, target: str | None, table_name: str) -> None:
    from warehouse_kit.core.history import schema_versions

    warehouse = project.connect(target, read_only=True)
    try:
        versions = schema_versions(warehouse, table_name)
    finally:
        warehouse.close()
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
        console.print(loaded.display(path), highlight=False, soft_wrap=True)


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
    from warehouse_kit.apps.reports import parse_parameters
    from warehouse_kit.apps.reports import report as make_report
    from warehouse_kit.core.project import Project

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
    from warehouse_kit.apps.notebooks_refresh import refresh
    from warehouse_kit.core.project import Project

    loaded = Project.load(project)
    for path in refresh(loaded, notebooks or ()):
        console.print(f"refreshed {loaded.display(path)}", highlight=False, soft_wrap=True)


@ab_app.command("list")
def ab_list(project: ProjectOption = Path(".")) -> None:
    """List the project's experiments: variants, dates, metrics and engine."""
    from warehouse_kit.analytics.experiments import load_experiments

    table = Table("experiment", "variants", "days", "metrics", "engine", "file")
    for key, spec in load_experiments(project).items():
        shares = " / ".join(f"{name} {share:.0%}" for name, share in spec.weights().items())
        primary = [m.name for m in spec.metrics if m.role == "primary"]
        metrics = f"{len(spec.metrics)}" + (f" ({', '.join(primary)} primary)" if primary else "")
        days = f"{spec.start} .. {spec.end}"
        table.add_row(key, shares, days, metrics, spec.engine, spec.file)
    show(table)


@ab_app.command("analyze")
def ab_analyze(
    experiment: Annotated[
        str, typer.Argument(help="The experiment's key, or its YAML file.", show_default=False)
    ],
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            "-e",
            help="fixed (fixed horizon), sequential (always-valid) or bayesian "
            "(default: the experiment's engine).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            help="Analyse the data as it stood then (a peek at an earlier day).",
            show_default=False,
        ),
    ] = None,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Analyse an experiment in the warehouse: sample ratio check, lifts with intervals,
    CUPED, the chosen engine's verdicts. Only a few sums per variant leave the warehouse."""
    from warehouse_kit.analytics.experiments import ENGINES, analyze

    if engine is not None and engine not in ENGINES:
        raise typer.BadParameter(f"choose one of {', '.join(ENGINES)}", param_hint="--engine")
    if output_format not in ("table", "json"):
        raise typer.BadParameter("choose table or json", param_hint="--format")
    result = analyze(experiment, project=project, target=target, engine=engine, as_of=as_of)
    if output_format == "json":
        sys.stdout.write(result.to_json() + "\n")
    else:
        show(result.to_table())


@ab_app.command("audit")
def ab_audit(
    experiment: Annotated[
        str, typer.Argument(help="The experiment's key, or its YAML file.", show_default=False)
    ],
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Recompute every exposed unit's variant with the assignment hash, in the warehouse,
    and count the units whose logged variant differs. Exits 1 when any does."""
    from warehouse_kit.analytics.experiments import audit_assignment

    found = audit_assignment(experiment, project=project, target=target)
    console.print(f"{found.units:,} units, {found.mismatched:,} logged in another variant than "
                  "the hash assigns", highlight=False)  # fmt: skip
    if not found.ok:
        raise typer.Exit(1)


@ab_app.command("plan")
def ab_plan(
    experiment: Annotated[
        str | None,
        typer.Argument(
            help="An experiment whose alpha, sidedness and weights to use (optional).",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[
        float,
        typer.Option(
            "--baseline",
            "-b",
            help="The control's mean (a proportion without --sd).",
            show_default=False,
        ),
    ] = math.nan,
    sd: Annotated[
        float | None,
        typer.Option(
            "--sd",
            help="Per-unit standard deviation (default: from the proportion).",
            show_default=False,
        ),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(
            "--mde", help="Minimum detectable effect, relative (0.05 is +5%).", show_default=False
        ),
    ] = None,
    absolute: Annotated[
        bool, typer.Option("--absolute", help="Read --mde as an absolute lift.")
    ] = False,
    units: Annotated[
        int | None,
        typer.Option(
            "--units",
            "-n",
            help="Units available (all arms): solve for the MDE.",
            show_default=False,
        ),
    ] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", show_default=False)] = None,
    power: Annotated[float, typer.Option("--power", help="Target power.")] = 0.8,
    sided: Annotated[
        str | None, typer.Option("--sided", help="two or one.", show_default=False)
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights", help="Control and variant weights, e.g. 50,50.", show_default=False
        ),
    ] = None,
    variance_reduction: Annotated[
        float, typer.Option("--variance-reduction", help="Expected CUPED variance reduction.")
    ] = 0.0,
    units_per_day: Annotated[
        float | None,
        typer.Option("--units-per-day", help="Traffic, to give a duration.", show_default=False),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    project: ProjectOption = Path("."),
) -> None:
    """Power, sample size or minimum detectable effect of a planned comparison.

    wk ab plan --baseline 0.10 --mde 0.05 (units for +5%); --units 20000 (the MDE);
    both (the power).
    """
    from warehouse_kit.analytics.experiments import find_experiment
    from warehouse_kit.analytics.experiments.plan import plan

    if math.isnan(baseline):
        raise typer.BadParameter("the control's mean is needed", param_hint="--baseline")
    shares: tuple[float, float] = (0.5, 0.5)
    if experiment is not None:
        spec = find_experiment(experiment, project)
        alpha = spec.alpha if alpha is None else alpha
        sided = sided or spec.sided
        shares = (spec.variants[spec.control_variant], spec.variants[spec.treatments[0]])
    if weights is not None:
        parts = weights.split(",")
        if len(parts) != 2:
            raise typer.BadParameter("two numbers, control first: 50,50", param_hint="--weights")
        shares = (float(parts[0]), float(parts[1]))
    result = plan(
        baseline,
        sd=sd,
        mde=mde,
        relative=not absolute,
        units=units,
        alpha=0.05 if alpha is None else alpha,
        power_target=power,
        sided=sided or "two",
        weights=shares,
        variance_reduction=variance_reduction,
        units_per_day=units_per_day,
    )
    if output_format == "json":
        sys.stdout.write(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    else:
        console.print(str(result), highlight=False, soft_wrap=True)


@metrics_app.command("list")
def metrics_list(project: ProjectOption = Path(".")) -> None:
    """List the metrics defined in analytics/, and the saved queries."""
    from warehouse_kit.analytics.metrics import describe, load

    layer = load(project)
    table = Table("metric", "type", "model / inputs", "format", "description")
    columns = ("metric", "type", "model", "format", "description")
    for row in describe(layer).to_dict("records"):
        table.add_row(*(str(row[column]) for column in columns))
    show(table)
    if layer.queries:
        saved = Table("query", "metrics", "description")
        for query in layer.queries.values():
            names = ", ".join(query.options.metrics)
            saved.add_row(query.name, names, query.options.description)
        show(saved)


MetricsOption = Annotated[list[str] | None, typer.Option(show_default=False)]


@metrics_app.command("query")
def metrics_query(
    names: Annotated[
        list[str], typer.Argument(help="Metrics, or one saved query.", show_default=False)
    ],
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            "-b",
            help="Group by a column (segment, dim_product.category).",
            show_default=False,
        ),
    ] = None,
    grain: Annotated[
        str | None,
        typer.Option(
            "--grain", "-g", help="day, week, month, quarter or year.", show_default=False
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where", "-w", help="A SQL condition on the model's columns.", show_default=False
        ),
    ] = None,
    start: Annotated[str | None, typer.Option(help="From this date.", show_default=False)] = None,
    end: Annotated[
        str | None, typer.Option(help="Before this date (exclusive).", show_default=False)
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="previous_period or last_year: add the value then and the change.",
            show_default=False,
        ),
    ] = None,
    cumulative: Annotated[
        bool | None, typer.Option("--cumulative", help="Add running totals.", show_default=False)
    ] = None,
    rolling: Annotated[
        int | None, typer.Option(help="Add totals over N periods.", show_default=False)
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by", help="A result column; -name for descending.", show_default=False
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most N rows.", show_default=False)] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or json.")
    ] = "table",
    sql: Annotated[bool, typer.Option("--sql", help="Print the SQL; run nothing.")] = False,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Compute metrics in the warehouse, per period and group."""
    from warehouse_kit.analytics import metrics
    from warehouse_kit.analytics.metrics import display

    formats = ("table", "csv", "json")
    if output_format not in formats:
        raise typer.BadParameter(f"choose one of {', '.join(formats)}", param_hint="--format")
    layer = metrics.load(project)
    options: dict[str, Any] = {
        "by": by, "grain": grain, "where": where, "start": start, "end": end,
        "compare": compare, "cumulative": cumulative, "rolling": rolling,
        "order_by": order_by, "limit": limit,
    }  # fmt: skip
    with metrics.connect(layer.project, target) as warehouse:
        expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
        if sql:
            sys.stdout.write(warehouse.sql(expr) + "\n")
            return
        rows = warehouse.rows(expr)
    columns = list(expr.columns)
    if output_format == "csv":
        sys.stdout.write(display.to_csv(rows, columns))
    elif output_format == "json":
        sys.stdout.write(display.to_json(rows) + "\n")
    else:
        shown = display.column_formats(layer, columns)
        table = Table(*columns)
        for row in rows:
            table.add_row(*(display.format_value(row[c], shown[c]) for c in columns))
        show(table)


@app.command()
def dashboard(
    name: Annotated[
        str,
        typer.Argument(
            help="The app: a file in the project's notebooks/apps/ (kpi_dashboard, "
            "pipeline_health).",
            show_default=False,
        ),
    ],
    target: TargetOption = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port to serve on (default: marimo's).", show_default=False),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to serve on (0.0.0.0 for every interface).")
    ] = "127.0.0.1",
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Serve a marimo dashboard app on the warehouse, read-only: `wk run` can still write."""
    import os
    import subprocess

    from warehouse_kit.apps.dashboards import app_path
    from warehouse_kit.core.project import Project

    loaded = Project.load(project)
    path = app_path(name, loaded)
    command = [sys.executable, "-m", "marimo", "run", str(path), "--host", host]
    command += ["--port", str(port)] if port is not None else []
    command += ["--headless"] if headless else []
    # The app reads the target from WK_TARGET, as every notebook of the project does.
    environment = {**os.environ, "WK_TARGET": loaded.target(target)}
    try:
        code = subprocess.run(command, env=environment, check=False).returncode
    except KeyboardInterrupt:
        code = 0  # Ctrl-C is how a dashboard is stopped
    if code:
        raise typer.Exit(code)


def show(table: RenderableType) -> None:
    """Print a table, or tables; to a file or a pipe at full width (no one can widen those)."""
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if console.is_terminal or natural <= console.width:
        console.print(table)
        return
    width, console.width = console.width, natural
    try:
        console.print(table)
    finally:
        console.width = width


class _Notices(logging.Handler):
    """Prints what the library logs as it happens (a wait for a locked warehouse)."""

    def emit(self, record: logging.LogRecord) -> None:
        errors.print(record.getMessage(), highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point of the `wk` console script."""
    library = logging.getLogger("warehouse_kit")
    library.addHandler(_Notices(logging.WARNING))
    library.propagate = False
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
