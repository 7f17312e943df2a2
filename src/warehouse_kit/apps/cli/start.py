"""`wk init`: a new project, ready for `wk run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from warehouse_kit.apps.cli.base import app, console


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The project folder to create.")],
    csv_folder: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A folder of CSV files: each becomes a table (default: a small template).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a folder that is not empty.")
    ] = False,
) -> None:
    """Create a project: warehouse.yml, a pipeline (bronze: the CSV files; silver: typed,
    blanks as NULL, deduplicated), analytics/ and notebooks/. Then: cd FOLDER && wk run."""
    from warehouse_kit.apps.scaffold import init_project

    pipeline = init_project(folder, csv_folder=csv_folder, force=force)
    console.print(
        f"wrote {escape(str(folder))} (pipeline {escape(str(pipeline.relative_to(folder)))}); "
        f"next: cd {escape(str(folder))} && wk run",
        highlight=False,
        soft_wrap=True,
    )
