"""`wk schedule` and `wk export-airflow`: running the pipelines unattended."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warehouse_kit.apps.cli.base import (
    WAIT_S,
    PipelinesArgument,
    ProjectOption,
    TargetOption,
    WaitOption,
    app,
    console,
)


@app.command()
def schedule(
    pipelines: PipelinesArgument = None,
    target: TargetOption = None,
    logs: Annotated[
        Path | None,
        typer.Option("--logs", help="Folder of the runs' logs (default: logs/ in the project)."),
    ] = None,
    max_runs: Annotated[
        int | None,
        typer.Option("--max-runs", min=1, help="Stop after this many runs.", show_default=False),
    ] = None,
    wait: WaitOption = WAIT_S,
    project: ProjectOption = Path("."),
) -> None:
    """Run the pipelines on their cron schedules (UTC), in the foreground, until stopped.

    One run at a time; each logs to logs/<pipeline>-<run_id>.log. SIGTERM or Ctrl-C stops
    it once the run going on, if any, has finished."""
    from warehouse_kit.core.project import Project
    from warehouse_kit.core.scheduler import Scheduler, scheduled, stopping_on_signals

    loaded = Project.load(project)
    files = [path.resolve() for path in pipelines] if pipelines else None
    scheduler = Scheduler(
        loaded,
        scheduled(loaded, files),
        target=target,
        logs=logs.resolve() if logs else None,
        max_runs=max_runs,
        wait=wait,
        say=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True),
    )
    for entry in scheduler.entries:
        console.print(f"{entry.pipeline}: {entry.cron}", highlight=False, markup=False)
    with stopping_on_signals(scheduler):
        runs = scheduler.serve()
    failed = [run for run in runs if run.error]
    console.print(f"stopped after {len(runs)} runs ({len(failed)} failed)", highlight=False)


@app.command("export-airflow")
def export_airflow(
    pipelines: PipelinesArgument = None,
    out_dir: Annotated[
        Path, typer.Option("--output", "-o", help="The folder of the DAG files.")
    ] = Path("dags"),
    workdir: Annotated[
        str | None,
        typer.Option(
            "--workdir",
            help="The project's folder where Airflow runs the tasks (default: this one).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Write each pipeline as an Airflow DAG file, a task per stage."""
    from warehouse_kit.apps.airflow import export_airflow as export
    from warehouse_kit.core.project import Project

    for path in export(Project.load(project), out_dir, pipelines, workdir=workdir):
        console.print(f"wrote {path}", highlight=False, markup=False)
