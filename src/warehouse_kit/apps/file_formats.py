"""The YAML file formats a project holds, by name, and their JSON Schemas.

``wk schema pipeline > pipeline.schema.json`` prints one; the repository keeps
them all in ``schemas/json/`` (a test sees that they are current). An editor
with a YAML language server validates and completes a file given the line
``# yaml-language-server: $schema=<path or URL of the schema>`` at its top.
"""

from __future__ import annotations

import json
from typing import Any

from warehouse_kit.analytics.experiments.spec import ExperimentFile
from warehouse_kit.analytics.metrics.spec import AnalyticsFile
from warehouse_kit.core.config import json_schema
from warehouse_kit.core.project import ProjectSpec
from warehouse_kit.core.quality.checks import Checks
from warehouse_kit.core.spec import PipelineFile

FORMATS: dict[str, tuple[Any, str]] = {
    "pipeline": (PipelineFile, "warehouse-kit pipeline file (pipelines/*.yml)"),
    "warehouse": (ProjectSpec, "warehouse-kit project settings (warehouse.yml)"),
    "checks": (Checks, "warehouse-kit quality checks (a quality_checks: list)"),
    "metrics": (AnalyticsFile, "warehouse-kit KPI definitions (analytics/*.yml)"),
    "experiments": (ExperimentFile, "warehouse-kit experiment (analytics/experiments/*.yml)"),
}
"""Format name: its root model (or type) and what the file is."""


def schema_text(name: str) -> str:
    """The JSON Schema of format `name` (see `FORMATS`), as ``wk schema`` prints it."""
    root, title = FORMATS[name]
    return json.dumps(json_schema(root, title), indent=2, ensure_ascii=False) + "\n"
