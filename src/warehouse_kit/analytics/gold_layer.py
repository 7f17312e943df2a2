"""What the gold layer is: its models, each dimension's primary key, each fact's foreign
keys; what the DDL (`ddl`) and the ER diagram (`er`) describe."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.errors import WarehouseKitError
from warehouse_kit.core.planner import Planned


@dataclass(frozen=True)
class ForeignKey:
    """A fact's column that holds a dimension's surrogate key."""

    column: str
    target: str
    """The dimension's model id; its surrogate key has the same name as `column`."""


def gold_models(catalog: Catalog, planned: Mapping[str, Planned]) -> list[str]:
    """The ids of the gold models, each after the models it reads.

    Gold is the last stage of each pipeline; without pipelines, the last stage.
    A fact reads the dimensions it references, so they come before it.
    """
    stages = {pipeline.stages[-1] for pipeline in catalog.pipelines}
    stages = stages or set(catalog.graph.stages[-1:])
    ids = [node for node in catalog.graph.order() if catalog.graph.models[node].stage in stages]
    missing = [node for node in ids if node not in planned]
    if missing:
        raise WarehouseKitError(
            f"the plan lacks gold models {', '.join(missing)}: plan the whole project"
        )
    return ids


def primary_key(item: Planned) -> str | None:
    """A dimension's surrogate key, the column facts reference."""
    keys = item.model.keys
    return keys.surrogate if keys is not None and keys.surrogate in item.output else None


def foreign_keys(
    catalog: Catalog, planned: Mapping[str, Planned], node: str, among: Collection[str]
) -> list[ForeignKey]:
    """The surrogate keys `node` holds of the dimensions in `among`."""
    item = planned[node]
    found = []
    for reference in item.model.dimensions:
        target = catalog.graph.resolve(reference, item.model)
        key = primary_key(planned[target]) if target in among else None
        if key is not None and key in item.output:
            found.append(ForeignKey(key, target))
    return found
