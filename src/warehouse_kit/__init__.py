"""warehouse-kit: build, check and analyse a dimensional warehouse with Ibis.

The public API, re-exported here (imports are lazy, so ``import warehouse_kit``
and ``wk --help`` stay fast)::

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
    "Project": "warehouse_kit.project",
    "Warehouse": "warehouse_kit.backends",
    "connect": "warehouse_kit.backends",
    "model": "warehouse_kit.models",
    "Model": "warehouse_kit.models",
    "run": "warehouse_kit.runner",
    "plan": "warehouse_kit.runner",
    "check": "warehouse_kit.runner",
    "RunResult": "warehouse_kit.runner",
    "load_catalog": "warehouse_kit.catalog",
    "Catalog": "warehouse_kit.catalog",
    "WarehouseKitError": "warehouse_kit.errors",
    "ConfigError": "warehouse_kit.errors",
    "ModelError": "warehouse_kit.errors",
}

__all__ = [
    "Catalog",
    "ConfigError",
    "Model",
    "ModelError",
    "Project",
    "RunResult",
    "Warehouse",
    "WarehouseKitError",
    "__version__",
    "check",
    "connect",
    "load_catalog",
    "model",
    "plan",
    "run",
]

if TYPE_CHECKING:
    from warehouse_kit.backends import Warehouse, connect
    from warehouse_kit.catalog import Catalog, load_catalog
    from warehouse_kit.errors import ConfigError, ModelError, WarehouseKitError
    from warehouse_kit.models import Model, model
    from warehouse_kit.project import Project
    from warehouse_kit.runner import RunResult, check, plan, run


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'warehouse_kit' has no attribute {name!r}")
