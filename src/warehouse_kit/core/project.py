"""A project: a folder with a `warehouse.yml`, its pipelines and Python models.

The target warehouse is chosen, first match wins, from the ``--target`` flag,
the ``WK_TARGET`` environment variable, ``target:`` in ``warehouse.yml``, a
pipeline's ``destination`` (``type: duckdb`` and ``database``), and finally a
DuckDB file inside the project, ``warehouse.duckdb``. A pipeline whose
``destination.type`` names another engine than the target's is refused
(`catalog.Catalog.target`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from warehouse_kit.core.backends import Warehouse, connect
from warehouse_kit.core.config import Spec, parse
from warehouse_kit.core.spec_openlineage import OpenLineage
from warehouse_kit.core.yamlfile import read_yaml, resolve_variables

PROJECT_FILE = "warehouse.yml"
DEFAULT_TARGET = "duckdb://warehouse.duckdb"


class PathsSpec(Spec):
    pipelines: str = "pipelines"
    models: str = "models"
    seeds: str = "seeds"
    schemas: str = "schemas"
    reports: str = "reports"
    analytics: str = "analytics"


class ProjectSpec(Spec):
    name: str = "warehouse"
    target: str | None = None
    paths: PathsSpec = Field(default_factory=PathsSpec)
    openlineage: OpenLineage | None = None
    """Where OpenLineage events of each run go (`core.openlineage`); off by default."""


@dataclass(frozen=True)
class Project:
    """A warehouse-kit project folder and its settings."""

    root: Path
    spec: ProjectSpec = field(default_factory=ProjectSpec)

    @classmethod
    def of(cls, project: Project | Path | str) -> Project:
        """`project` itself, or the project found from that folder (see `load`)."""
        return project if isinstance(project, Project) else cls.load(project)

    @classmethod
    def load(cls, start: Path | str = ".", environ: Mapping[str, str] | None = None) -> Project:
        """The project whose `warehouse.yml` is in `start` or the nearest folder above it.

        Without one, `start` itself is the project, with default settings.
        """
        start = Path(start).resolve()
        for folder in (start, *start.parents):
            config = folder / PROJECT_FILE
            if config.is_file():
                data = read_yaml(config, display=str(config)) or {}
                env = os.environ if environ is None else environ
                data = resolve_variables(data, file=str(config), environ=env)
                return cls(folder, parse(ProjectSpec, data, file=str(config)))
        return cls(start)

    @property
    def has_config(self) -> bool:
        """Whether the project has a `warehouse.yml` (else it is just a folder)."""
        return (self.root / PROJECT_FILE).is_file()

    def path(self, name: str) -> Path:
        """A configured folder (``pipelines``, ``models``, ``seeds``...) as an absolute path."""
        return self.root / getattr(self.spec.paths, name)

    def display(self, path: Path) -> str:
        """`path` relative to the project, for messages."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def target(
        self,
        override: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        fallback: str | None = None,
    ) -> str:
        """The target URL, by the precedence in this module's docstring."""
        chosen = self.chosen_target(override, environ=environ)
        return chosen or fallback or DEFAULT_TARGET

    def chosen_target(
        self, override: str | None = None, *, environ: Mapping[str, str] | None = None
    ) -> str | None:
        """The target someone gave (``--target``, ``WK_TARGET``, ``target:``), if any."""
        env = os.environ if environ is None else environ
        return override or env.get("WK_TARGET") or self.spec.target

    def connect(
        self, target: str | None = None, *, read_only: bool = False, wait_s: float = 0.0
    ) -> Warehouse:
        """Open the project's warehouse (or `target`); see `backends.connect` for `wait_s`."""
        url = self.target(target)
        return connect(url, base_dir=self.root, read_only=read_only, wait_s=wait_s)

    @contextmanager
    def reading(self, target: str | None = None, *, wait_s: float = 10.0) -> Iterator[Warehouse]:
        """The warehouse, read-only, for a `with` block; closed after it.

        The way everything that reads the warehouse opens it (the CLI, notebooks, KPIs,
        dashboards): a DuckDB file held open, even read-only, keeps `wk run` out, so no
        reader keeps it past its block. While a run holds the file, waits up to `wait_s`
        seconds for it (then `WarehouseBusy`); a run waits for readers the same way.
        """
        warehouse = self.connect(target, read_only=True, wait_s=wait_s)
        try:
            yield warehouse
        finally:
            warehouse.close()

    def pipeline_files(self) -> list[Path]:
        folder = self.path("pipelines")
        return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []

    def model_files(self) -> list[Path]:
        folder = self.path("models")
        return sorted(folder.glob("*.py")) if folder.is_dir() else []
