"""The data dictionary: what every table, column, metric and experiment of a project is.

`gather(project, warehouse)` collects it from the definitions (descriptions in the
pipeline files and Python models' docstrings, checks, metrics, experiments), the run
store (each table's last successful build) and the warehouse itself (row counts, NULL and
distinct counts, one aggregate query per table); `apps.docs_site` writes it as a page and
Markdown (`wk docs`). `undocumented(project)` lists the silver and gold columns without a
description (`wk docs --check`).
"""

from __future__ import annotations

from warehouse_kit.analytics.docs.columns import column_description, column_tags, undocumented
from warehouse_kit.analytics.docs.entries import (
    ColumnEntry,
    DataDictionary,
    ExperimentEntry,
    MetricEntry,
    TableEntry,
)
from warehouse_kit.analytics.docs.gather import gather
from warehouse_kit.analytics.docs.profile import Profile, profile

__all__ = [
    "ColumnEntry",
    "DataDictionary",
    "ExperimentEntry",
    "MetricEntry",
    "Profile",
    "TableEntry",
    "column_description",
    "column_tags",
    "gather",
    "profile",
    "undocumented",
]
