"""warehouse-kit: build, check and analyse a dimensional warehouse with Ibis.

The public API, re-exported here (imports are lazy, so ``import warehouse_kit``
and ``wk --help`` stay fast); ``wk.metrics``, ``wk.quality`` and ``wk.experiments`` are
the KPI layer, the checks and the A/B tests, ``wk.lakehouse`` the gold tables published
as Parquet::

    import warehouse_kit as wk

    project = wk.Project.load(".")
    result = wk.run(project, select=["+fact_orders"])
    warehouse = project.connect()
    warehouse.table("fact_orders", "gold").count().execute()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Project": "warehouse_kit.core.project",
    "Warehouse": "warehouse_kit.core.backends",
    "connect": "warehouse_kit.core.backends",
    "model": "warehouse_kit.core.models",
    "Model": "warehouse_kit.core.models",
    "run": "warehouse_kit.core.runner",
    "plan": "warehouse_kit.core.runner",
    "check": "warehouse_kit.core.runner",
    "RunResult": "warehouse_kit.core.runner",
    "load_catalog": "warehouse_kit.core.catalog",
    "Catalog": "warehouse_kit.core.catalog",
    "WarehouseKitError": "warehouse_kit.core.errors",
    "ConfigError": "warehouse_kit.core.errors",
    "ModelError": "warehouse_kit.core.errors",
    "lineage": "warehouse_kit.apps.lineage",
    "Lineage": "warehouse_kit.apps.lineage",
}

_SUBPACKAGES = {
    "quality": "warehouse_kit.core.quality",
    "metrics": "warehouse_kit.analytics.metrics",
    "experiments": "warehouse_kit.analytics.experiments",
    "lakehouse": "warehouse_kit.core.lakehouse",
}

__all__ = [
    "Catalog",
    "ConfigError",
    "Lineage",
    "Model",
    "ModelError",
    "Project",
    "RunResult",
    "Warehouse",
    "WarehouseKitError",
    "__version__",
    "check",
    "connect",
    "experiments",
    "lakehouse",
    "lineage",
    "load_catalog",
    "metrics",
    "model",
    "plan",
    "quality",
    "run",
]

if TYPE_CHECKING:
    from warehouse_kit.analytics import experiments, metrics
    from warehouse_kit.apps.lineage import Lineage, lineage
    from warehouse_kit.core import lakehouse, quality
    from warehouse_kit.core.backends import Warehouse, connect
    from warehouse_kit.core.catalog import Catalog, load_catalog
    from warehouse_kit.core.errors import ConfigError, ModelError, WarehouseKitError
    from warehouse_kit.core.models import Model, model
    from warehouse_kit.core.project import Project
    from warehouse_kit.core.runner import RunResult, check, plan, run


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(_SUBPACKAGES[name])
    raise AttributeError(f"module 'warehouse_kit' has no attribute {name!r}")
