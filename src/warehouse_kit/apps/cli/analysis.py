"""`wk ab ...` (A/B tests) and `wk metrics ...` (KPIs)."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warehouse_kit.apps.cli.base import (
    ProjectOption,
    TargetOption,
    ab_app,
    console,
    metrics_app,
    show,
)


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
    pooled = False
    if experiment is not None:
        spec = find_experiment(experiment, project)
        alpha = spec.alpha if alpha is None else alpha
        sided = sided or spec.sided
        shares = (spec.variants[spec.control_variant], spec.variants[spec.treatments[0]])
        pooled = spec.statistics.proportions == "pooled_z"
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
        pooled=pooled,
    )
    if output_format == "json":
        sys.stdout.write(json.dumps(dataclasses.asdict(result), indent=2) + "\n")
    else:
        console.print(str(result), highlight=False, soft_wrap=True, markup=False)


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
            help="Group by a column (segment, dim_product.category) or a named SQL "
            "expression (\"date_trunc('quarter', dim_date.date) AS quarter\").",
            show_default=False,
        ),
    ] = None,
    grain: Annotated[
        str | None,
        typer.Option(
            "--grain", "-g", help="day, week, month, quarter or year.", show_default=False
        ),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time",
            help="Which of the model's time columns the grain, start and end use.",
            show_default=False,
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where", "-w", help="A SQL condition on the model's columns.", show_default=False
        ),
    ] = None,
    having: Annotated[
        list[str] | None,
        typer.Option(
            "--having", help="A SQL condition on the result (revenue > 1000).", show_default=False
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
    unmask: Annotated[
        bool,
        typer.Option(
            "--unmask",
            help="Show groups of personal data (--by email) as they are (recorded in "
            "_wk.unmasked); by default they are masked.",
        ),
    ] = False,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Compute metrics in the warehouse, per period and group."""
    from warehouse_kit.analytics import metrics, privacy
    from warehouse_kit.analytics.metrics import display

    formats = ("table", "csv", "json")
    if output_format not in formats:
        raise typer.BadParameter(f"choose one of {', '.join(formats)}", param_hint="--format")
    layer = metrics.load(project)
    options: dict[str, Any] = {
        "by": by, "grain": grain, "time": time, "where": where, "having": having,
        "start": start, "end": end, "compare": compare, "cumulative": cumulative,
        "rolling": rolling, "order_by": order_by, "limit": limit,
    }  # fmt: skip
    with metrics.connect(layer.project, target) as warehouse:
        expr = metrics.query(names, warehouse=warehouse, project=layer, **options)
        if sql:
            sys.stdout.write(warehouse.sql(expr) + "\n")
            return
        personal = privacy.personal_results(warehouse, expr)
        if not unmask:
            expr = privacy.masked(expr, personal)
        rows = warehouse.rows(expr)
    if unmask and personal:
        with closing(layer.project.connect(target, wait_s=10.0)) as writable:
            command = f"wk metrics query {' '.join(names)}"
            privacy.record_unmasked(writable, "metrics", sorted(personal), command)
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
