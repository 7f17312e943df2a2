"""`wk export` and `wk show`: a table as a file, or its first rows on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warehouse_kit.apps.cli.base import ProjectOption, TargetOption, app, console, show

TableArgument = Annotated[
    str,
    typer.Argument(
        metavar="TABLE", help="schema.table (gold.fact_orders), or a name one schema has."
    ),
]
UnmaskOption = Annotated[
    bool,
    typer.Option(
        "--unmask",
        help="Show personal columns as they are (recorded in _wk.unmasked); "
        "by default they are masked.",
    ),
]


@app.command()
def export(
    table: TableArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format", "-f", help="csv, parquet or json (lines); default: the file's suffix."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N rows.")] = None,
    unmask: UnmaskOption = False,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write a table to a CSV, Parquet or JSON-lines file, types kept, personal data masked."""
    from warehouse_kit.apps.export import export_table

    done = export_table(
        project, table, out, file_format=file_format, unmask=unmask, limit=limit, target=target
    )
    note = f" ({', '.join(done.masked)} masked)" if done.masked else ""
    rows = f"{done.rows:,} row{'' if done.rows == 1 else 's'}"
    console.print(f"{done.path}: {rows}{note}", highlight=False, markup=False)


@app.command(name="show")
def show_rows(
    table: TableArgument,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many rows.")] = 10,
    unmask: UnmaskOption = False,
    target: TargetOption = None,
    project: ProjectOption = Path("."),
) -> None:
    """Print a table's first rows, personal data masked."""
    from rich.table import Table

    from warehouse_kit.apps.export import show_table

    rows = show_table(project, table, limit=limit, unmask=unmask, target=target)
    grid = Table(*rows.column_names, title=f"{table}: first {rows.num_rows} rows")
    for record in rows.to_pylist():
        grid.add_row(*("" if v is None else str(v) for v in record.values()))
    show(grid)
