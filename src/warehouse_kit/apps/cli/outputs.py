"""`wk demo generate`, `wk report`, `wk notebooks refresh` and `wk dashboard`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from warehouse_kit.apps.cli.base import (
    ProjectOption,
    TargetOption,
    app,
    console,
    demo_app,
    errors,
    notebooks_app,
    progress,
)


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
    unmask: Annotated[
        bool,
        typer.Option(
            "--unmask",
            help="Show personal data as it is (sets the notebook's unmask parameter; "
            "recorded in _wk.unmasked). By default it is masked.",
        ),
    ] = False,
    project: Annotated[
        Path, typer.Option("--project", help="The project folder (default: the nearest).")
    ] = Path("."),
) -> None:
    """Run a notebook with papermill into reports/, and export it to HTML.

    The page opens offline: charts inline, nothing loaded from the network."""
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
        unmask=unmask,
        say=progress,
    )
    console.print(str(made.notebook), highlight=False, soft_wrap=True, markup=False)
    console.print(str(made.html), highlight=False, soft_wrap=True, markup=False)


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
    for path, changed in refresh(loaded, notebooks or (), say=progress):
        verdict = "refreshed" if changed else "unchanged"
        console.print(
            f"{verdict} {loaded.display(path)}", highlight=False, soft_wrap=True, markup=False
        )


@app.command()
def dashboard(
    name: Annotated[
        str,
        typer.Argument(
            help="The app: a file in the project's notebooks/apps/ (experiments, kpi_dashboard, "
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
    from warehouse_kit.core.extras import require
    from warehouse_kit.core.project import Project

    require("wk dashboard", "marimo")  # it runs in another process: say so here
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


@app.command()
def lab(
    target: TargetOption = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            help="Port to serve on (default: JupyterLab's, 8888 or the next free one).",
            show_default=False,
        ),
    ] = None,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Start JupyterLab on the project's notebooks/, with this venv's kernel; Ctrl-C stops it."""
    import os

    from warehouse_kit.apps.lab import launch
    from warehouse_kit.core.project import Project

    how = launch(Project.load(project), target=target, port=port, open_browser=not no_browser)
    if how.note:
        errors.print(how.note, highlight=False, soft_wrap=True)
    # JupyterLab takes this process's place: signals reach it, and nothing is left behind.
    sys.stderr.flush()
    os.chdir(how.cwd)
    os.execve(how.command[0], how.command, how.environment)
