"""`wk publish` and `wk lake`: the gold tables published as Parquet (`core.lakehouse`)."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from warehouse_kit.apps.cli.base import (
    WAIT_S,
    PipelinesArgument,
    ProjectOption,
    TargetOption,
    WaitOption,
    app,
    console,
    show,
)

if TYPE_CHECKING:
    from warehouse_kit.core.results import Published


@app.command()
def publish(
    pipelines: PipelinesArgument = None,
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--table",
            "-T",
            help="A lake table to publish (again for more); default: every one.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Publish a new version even where the current one is up to date."
        ),
    ] = False,
    target: TargetOption = None,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Publish the tables of destination.lakehouse as Hive-partitioned Parquet.

    Each becomes a new version made current at once (wk run does it after every
    successful run).

    A table whose current version holds its model's last build is left as it is."""
    from warehouse_kit.core.lakehouse import publish as publish_lake
    from warehouse_kit.core.project import Project

    files = [path.resolve() for path in pipelines] if pipelines else None
    with _Bar(console) as bar:
        publish_lake(
            Project.load(project),
            pipelines=files,
            target=target,
            tables=tables or (),
            force=force,
            wait=wait,
            reporter=bar,
        )


@app.command()
def lake(
    table: Annotated[
        str | None,
        typer.Argument(help="A lake table (default: every one).", show_default=False),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """List the versions the lake keeps of each table, and which one is current."""
    from warehouse_kit.core.catalog import load_catalog
    from warehouse_kit.core.lake_versions import versions
    from warehouse_kit.core.lakehouse import find, lake_tables
    from warehouse_kit.core.progress import format_count
    from warehouse_kit.core.project import Project

    catalog = load_catalog(Project.load(project))
    chosen = [find(catalog, table)] if table else lake_tables(catalog)
    for lake_table in chosen:
        kept = versions(lake_table.folder)
        shown = Table(title=f"{lake_table.name}: {catalog.project.display(lake_table.folder)}")
        for column in ("version", "rows", "files", "MB", "written at (UTC)", "published by"):
            shown.add_column(
                column, justify="right" if column in ("rows", "files", "MB") else "left"
            )
        for version in reversed(kept):
            manifest = version.manifest
            shown.add_row(
                f"{version.name}{' (current)' if version.current else ''}",
                format_count(manifest["rows"]),
                format_count(len(manifest["files"])),
                f"{manifest['bytes'] / 1e6:,.1f}",
                manifest["written_at"][:19].replace("T", " "),
                manifest["published_by"],
            )
        show(shown)
        if not kept:
            console.print("no version yet: wk run or wk publish writes one", highlight=False)


class _Bar:
    """A spinner with the rows written so far on a terminal; a line per table always."""

    def __init__(self, out: Console):
        self.console = out
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=out,
            transient=True,
            disable=not out.is_terminal,
        )
        self.task = self.progress.add_task("", total=None)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def publish_started(self, table: str) -> None:
        self.progress.update(self.task, description=f"publishing {table}")

    def publish_progress(self, table: str, rows: int) -> None:
        self.progress.update(self.task, description=f"publishing {table}: {rows:,} rows")

    def published(self, result: Published) -> None:
        from warehouse_kit.core.progress import describe_publish

        self.progress.console.print(describe_publish(result), highlight=False, markup=False)
