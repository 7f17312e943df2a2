"""`wk lineage`: where a column or metric comes from, and what is computed from it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from warehouse_kit.apps.cli.base import ProjectOption, TargetOption, app

FORMATS = ("text", "json", "mermaid")


@app.command("lineage")
def lineage_command(
    name: Annotated[
        str,
        typer.Argument(
            metavar="TABLE[.COLUMN] | metric:NAME",
            help="gold.fact_orders.amount, gold.fact_orders (every column), or metric:revenue.",
        ),
    ],
    upstream: Annotated[
        bool, typer.Option("--upstream", help="Only what it is computed from.")
    ] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Only what is computed from it.")
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="text (a tree), json or mermaid.")
    ] = "text",
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="As built by this run id (default: the latest).", show_default=False
        ),
    ] = None,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Column-level lineage, as the warehouse's tables were built (stored in _wk).

    Without --upstream or --downstream, both directions.
    """
    from warehouse_kit.apps.lineage import lineage

    if output_format not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--format")
    found = lineage(
        name, upstream=upstream, downstream=downstream, project=project, target=target, run=run
    )
    text = {"text": found.text, "json": found.to_json, "mermaid": found.mermaid}[output_format]()
    sys.stdout.write(text + "\n")
