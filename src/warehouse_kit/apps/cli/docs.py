"""`wk docs`: the data dictionary site, or (`--check`) the columns it finds undocumented."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warehouse_kit.apps.cli.base import ProjectOption, TargetOption, app, console


@app.command()
def docs(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder to write to (default: docs/ in the project).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; list each silver and gold column without a description "
            "(schema.table.column) and exit 1 if there is any. Needs no warehouse.",
        ),
    ] = False,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Build the data dictionary: a page that opens offline, and Markdown for GitHub.

    Every table and column (descriptions, tags, checks, NULL and distinct counts),
    lineage graphs, metrics with their SQL, experiments."""
    from warehouse_kit.core.project import Project

    loaded = Project.load(project)
    if check:
        from warehouse_kit.analytics.docs import undocumented

        missing = undocumented(loaded, target=target)
        for column in missing:
            console.print(column, highlight=False, soft_wrap=True, markup=False)
        if missing:
            raise typer.Exit(1)
        return
    from warehouse_kit.apps.docs_site import build_docs

    site = build_docs(loaded, out, target=target)
    for path in site.files:
        console.print(loaded.display(path), highlight=False, soft_wrap=True, markup=False)
