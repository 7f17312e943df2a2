"""What every `wk` command shares: the command groups, the consoles, the common options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, RenderableType
from rich.measure import Measurement

from warehouse_kit import __version__

app = typer.Typer(
    help="warehouse-kit: build, check and analyse a dimensional warehouse on DuckDB, "
    "PostgreSQL or Spark.",
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
errors = Console(stderr=True, markup=False)  # messages hold names like x[kafka]
_state = {"debug": False}


def progress(line: str) -> None:
    """A step of long work, on stderr: stdout keeps what the command made."""
    errors.print(line, highlight=False, soft_wrap=True)


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
PipelinesArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="PIPELINE.yml",
        help="Pipeline files (default: every file in the project's pipelines/).",
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
