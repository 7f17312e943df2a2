"""`wk export-airflow`: a pipeline as an Airflow DAG file, ``<pipeline>_dag.py``.

One task per stage, a ``BashOperator`` running ``wk run PIPELINE.yml --select STAGE``
in the project's folder; a stage's task runs after the tasks of the stages its models
read from. The DAG runs on the pipeline's ``schedule`` (none: only when triggered),
and a task is retried as the stage's models are (`core.retries`: the most attempts
and the longest backoff among them), with Airflow's exponential backoff. The file
imports Airflow only: warehouse-kit need not be installed where the scheduler parses
it, only where the tasks run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from warehouse_kit.core.catalog import load_catalog
from warehouse_kit.core.dag import Graph
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.pipeline import Pipeline
from warehouse_kit.core.project import Project
from warehouse_kit.core.retries import NO_RETRIES, Retries


@dataclass(frozen=True)
class StageTask:
    """One task of the DAG: a stage of the pipeline, and the stages it waits for."""

    stage: str
    command: str
    upstream: tuple[str, ...]
    retries: Retries


def export_airflow(
    project: Project | str | Path,
    out_dir: Path,
    pipelines: list[Path] | None = None,
    *,
    workdir: str | None = None,
    wk: str = "wk",
) -> list[Path]:
    """Write ``<pipeline>_dag.py`` into `out_dir` for each pipeline (default: every one of
    the project's); returns the files. `workdir` is the project's folder where the tasks
    run (default: this one), `wk` the command that runs warehouse-kit there."""
    project = Project.of(project)
    files = [path.resolve() for path in pipelines] if pipelines else project.pipeline_files()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file in files:
        catalog = load_catalog(project, [file])
        pipeline = catalog.pipelines[0]
        folder = workdir or str(project.root)
        tasks = stage_tasks(catalog.graph, project.display(file), folder, wk)
        path = out_dir / f"{pipeline.name}_dag.py"
        path.write_text(dag_source(pipeline, tasks), encoding="utf-8")
        written.append(path)
    return written


def stage_tasks(graph: Graph, file: str, folder: str, wk: str) -> list[StageTask]:
    """The stages that have models, in run order, each with the stages it reads from;
    `file` is the pipeline file as the task gives it to ``wk run``, in `folder`."""
    models = graph.models
    stages = [s for s in graph.stages if any(m.stage == s for m in models.values())]
    tasks = []
    for stage in stages:
        mine = [node for node, m in models.items() if m.stage == stage]
        upstream = {models[p].stage for node in mine for p in graph.upstream[node]} - {stage}
        policies = [models[node].retries or NO_RETRIES for node in mine]
        retries = Retries(
            attempts=max(p.attempts for p in policies), backoff=max(p.backoff for p in policies)
        )
        run = f"{wk} run {shlex.quote(file)} --select {shlex.quote(stage)}"
        command = f"cd {shlex.quote(folder)} && {run}"
        ordered = tuple(s for s in stages if s in upstream)
        tasks.append(StageTask(stage, command, ordered, retries))
    return tasks


def dag_source(pipeline: Pipeline, tasks: list[StageTask]) -> str:
    """The DAG file's Python source. Every value in it is a Python literal (`repr`)."""
    schedule = pipeline.spec.schedule
    if schedule is not None and len(schedule.split()) == 6:
        raise ConfigError(
            f"{schedule!r} has a seconds field, which Airflow's cron does not: give it five "
            "fields to export it",
            file=pipeline.file,
            key_path="pipeline.schedule",
        )
    lines = [
        f'"""Airflow DAG of the warehouse-kit pipeline {pipeline.name}: written by',
        "`wk export-airflow` from its pipeline file; export it again after changing that.",
        '"""',
        "",
        "from datetime import datetime, timedelta, timezone",
        "",
        "try:  # Airflow 3",
        "    from airflow.providers.standard.operators.bash import BashOperator",
        "    from airflow.sdk import DAG",
        "except ImportError:  # Airflow 2",
        "    from airflow import DAG",
        "    from airflow.operators.bash import BashOperator",
        "",
        "with DAG(",
        f"    dag_id={pipeline.name!r},",
        f"    description={(pipeline.spec.description or f'warehouse-kit: {pipeline.name}')!r},",
        f"    schedule={schedule!r},",
        "    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),",
        "    catchup=False,",
        "    max_active_runs=1,  # one run at a time per target, as wk run holds it",
        "    tags=['warehouse-kit'],",
        "):",
    ]
    for task in tasks:
        seconds = task.retries.backoff.total_seconds()
        lines += [
            f"    {_variable(task.stage)} = BashOperator(",
            f"        task_id={task.stage!r},",
            f"        bash_command={task.command!r},",
            f"        retries={task.retries.attempts - 1},",
            f"        retry_delay=timedelta(seconds={seconds!r}),",
            "        retry_exponential_backoff=True,",
            "    )",
        ]
    for task in tasks:
        for parent in task.upstream:
            lines.append(f"    {_variable(parent)} >> {_variable(task.stage)}")
    return "\n".join(lines) + "\n"


def _variable(stage: str) -> str:
    """A stage's task variable: stage names are identifiers (`config.Name`)."""
    return f"stage_{stage}"
