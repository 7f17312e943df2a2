"""A project's models, assembled: its pipelines, its Python models, one DAG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis.expr.types as ir

from warehouse_kit.core.backends import Warehouse, engine_missing, engine_of, redact
from warehouse_kit.core.dag import Graph
from warehouse_kit.core.errors import ConfigError
from warehouse_kit.core.pipeline import Pipeline, load_pipeline
from warehouse_kit.core.project import PROJECT_FILE, Project
from warehouse_kit.core.python_models import load_python_models


@dataclass(frozen=True)
class Catalog:
    """Every model of a project, the DAG they form and where each stage is written."""

    project: Project
    pipelines: tuple[Pipeline, ...]
    graph: Graph
    schemas: Mapping[str, str]
    """Stage -> schema."""

    def schema_of(self, model_id: str) -> str:
        return self.schemas[self.graph.models[model_id].stage]

    def find(self, name: str) -> str:
        """The id of the model called `name` (``dim_customer`` or ``gold.dim_customer``)."""
        if name in self.graph.models:
            return name
        matches = [node for node, model in self.graph.models.items() if model.name == name]
        if len(matches) != 1:
            found = "several models" if matches else "no model"
            raise ConfigError(
                f"{name!r} names {found}; use stage.name ({', '.join(matches) or 'none'})"
            )
        return matches[0]

    def table(self, warehouse: Warehouse, name: str) -> ir.Table:
        """A model's table in `warehouse`, as an Ibis expression."""
        model = self.graph.models[self.find(name)]
        return warehouse.table(model.name, self.schemas[model.stage])

    def target(self, override: str | None = None) -> str:
        """The target URL (`Project.target`), checked against each pipeline's destination.

        A pipeline whose ``destination.type`` names another engine than the target's
        is refused rather than written where it did not ask to go; one naming an engine
        that is not here (not installed, or not one warehouse-kit runs on) needs a target
        given, which wins.
        """
        url = self.project.target(override, fallback=self._destination_file())
        engine = engine_of(url)
        chosen = self.project.chosen_target(override) is not None
        for pipeline in self.pipelines:
            wanted = pipeline.spec.destination.type
            missing = engine_missing(wanted) if wanted else None
            if missing and chosen:
                continue  # the target given wins over an engine that is not here
            if missing:
                raise ConfigError(
                    f"{wanted}: {missing}",
                    file=pipeline.file,
                    key_path="pipeline.destination.type",
                )
            if wanted is not None and wanted != engine:
                raise ConfigError(
                    f"{wanted!r}, but the target {redact(url)} is {_ENGINES[engine]}: give a "
                    f"{_ENGINES[wanted]} target (--target, WK_TARGET or target: in "
                    f"{PROJECT_FILE}), or leave destination.type out to run on either",
                    file=pipeline.file,
                    key_path="pipeline.destination.type",
                )
        return url

    def _destination_file(self) -> str | None:
        """The DuckDB file a pipeline's destination names, if one does."""
        for pipeline in self.pipelines:
            destination = pipeline.spec.destination
            if destination.type == "duckdb":
                return f"duckdb://{destination.database or 'warehouse'}.duckdb"
        return None


_ENGINES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}


def load_catalog(
    project: Project,
    pipeline_files: Sequence[str | Path] | None = None,
    *,
    allow_empty: bool = False,
) -> Catalog:
    """Compile the project's pipeline files (or `pipeline_files`, relative to the current
    folder) and Python models.

    A project without any is an error (nothing to build: most likely not the
    project's folder), unless `allow_empty`, for metrics over tables no pipeline
    builds.
    """
    files = (
        [Path(file).resolve() for file in pipeline_files]
        if pipeline_files is not None
        else project.pipeline_files()
    )
    if not files and not project.model_files() and not allow_empty:
        raise _nothing_to_build(project)
    python = load_python_models(project.model_files())
    pipelines = [
        load_pipeline(path, root=project.root, display=project.display(path), python=python)
        for path in files
    ]
    models = [model for pipeline in pipelines for model in pipeline.models]
    published = _published_python(pipelines)
    models += [model for model in python if model.id not in published]
    graph = Graph.build(models, [pipeline.stages for pipeline in pipelines])
    schemas: dict[str, str] = {}
    for pipeline in pipelines:
        for stage, schema in pipeline.schemas.items():
            schemas.setdefault(stage, schema)
    for stage in graph.stages:
        schemas.setdefault(stage, stage)
    return Catalog(project, tuple(pipelines), graph, schemas)


def _published_python(pipelines: Sequence[Pipeline]) -> set[str]:
    """The ids of the Python models a pipeline publishes (its `destination.tables` names
    them: it holds them, with its checks), each by one pipeline only."""
    claimed: dict[str, str] = {}
    for pipeline in pipelines:
        for model in (m for m in pipeline.models if m.function is not None):  # Python's
            if claimed.setdefault(model.id, pipeline.file) != pipeline.file:
                raise ConfigError(
                    f"{model.id} ({model.origin}) is in the destination.tables of two "
                    f"pipelines, {claimed[model.id]} and this one: name it in one of them",
                    file=pipeline.file,
                    key_path="pipeline.destination.tables",
                )
    return set(claimed)


def _nothing_to_build(project: Project) -> ConfigError:
    pipelines, models = (project.display(project.path(name)) for name in ("pipelines", "models"))
    if project.has_config:
        return ConfigError(
            f"nothing to build in {project.root}: no pipeline files in {pipelines}/ "
            f"and no Python models in {models}/"
        )
    return ConfigError(
        f"no warehouse-kit project in {project.root}: no {PROJECT_FILE} there or above it, "
        f"and no {pipelines}/*.yml or {models}/*.py; run wk in a project folder "
        "or pass --project"
    )
