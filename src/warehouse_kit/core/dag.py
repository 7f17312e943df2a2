"""The DAG of models: references resolved, a stable order, and `--select`.

A reference is ``stage.name`` or a bare ``name``. A bare name means the model
of that name in the referencing model's own stage, else in the nearest stage
before it (so ``silver.customers`` built ``from: customers`` reads
``bronze.customers``).

Selectors, combined by union when several are given:

- ``name`` or ``stage.name``: that model;
- ``+name``: it and everything upstream; ``name+``: it and everything downstream;
- ``stage`` (``silver``): every model of a stage; ``+`` and ``+`` work there too.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from warehouse_kit.core.errors import ConfigError, SelectionError, did_you_mean
from warehouse_kit.core.models import Model


@dataclass(frozen=True)
class Graph:
    """Models by id, the stage order, and each model's upstream ids."""

    models: dict[str, Model]
    stages: tuple[str, ...]
    upstream: dict[str, tuple[str, ...]]
    """model id -> ids of its inputs, in the order of `Model.inputs`."""

    @classmethod
    def build(cls, models: Iterable[Model], stage_orders: Sequence[Sequence[str]]) -> Graph:
        """The graph of `models`, with `stage_orders` (one per pipeline) merged into one."""
        by_id: dict[str, Model] = {}
        for node in models:
            if node.id in by_id:
                other = by_id[node.id]
                raise ConfigError(
                    f"model {node.id} is declared twice (also at {other.origin})", file=node.origin
                )
            by_id[node.id] = node
        order = merge_stage_orders([*stage_orders, *([node.stage] for node in by_id.values())])
        graph = cls(by_id, tuple(order), {})
        for node in by_id.values():
            graph.upstream[node.id] = tuple(graph.resolve(ref, node) for ref in node.inputs)
        graph.order()  # fails early on a cycle
        return graph

    def resolve(self, reference: str, referrer: Model) -> str:
        """The id a reference made by `referrer` points to."""
        if reference in self.models:
            return reference
        if "." not in reference:
            position = self.stages.index(referrer.stage)
            for stage in reversed(self.stages[: position + 1]):
                candidate = f"{stage}.{reference}"
                if candidate in self.models and candidate != referrer.id:
                    return candidate
        hint = did_you_mean(reference, [*self.models, *(m.name for m in self.models.values())])
        raise ConfigError(
            f"{referrer.id} reads {reference!r}, which is no model{hint}", file=referrer.origin
        )

    def downstream(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {node: [] for node in self.models}
        for node, parents in self.upstream.items():
            for parent in parents:
                children[parent].append(node)
        return children

    def order(self, subset: Iterable[str] | None = None) -> list[str]:
        """Model ids, each after its inputs; ties by stage, then declaration order."""
        wanted = set(self.models if subset is None else subset)
        rank = {
            node: (self.stages.index(self.models[node].stage), i)
            for i, node in enumerate(self.models)
        }
        waiting = {node: len(set(self.upstream[node]) & wanted) for node in wanted}
        ready = [(rank[node], node) for node, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        children = self.downstream()
        ordered: list[str] = []
        while ready:
            _, node = heapq.heappop(ready)
            ordered.append(node)
            for child in children[node]:
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, (rank[child], child))
        if len(ordered) != len(wanted):
            stuck = sorted(wanted - set(ordered))
            raise ConfigError(f"models depend on each other in a cycle: {', '.join(stuck)}")
        return ordered

    def select(self, selectors: Sequence[str]) -> list[str]:
        """The ids the selectors pick, in run order; all models when none are given."""
        if not selectors:
            return self.order()
        chosen: set[str] = set()
        for selector in (part for text in selectors for part in text.replace(",", " ").split()):
            chosen |= self._select_one(selector)
        return self.order(chosen)

    def _select_one(self, selector: str) -> set[str]:
        up, down = selector.startswith("+"), selector.endswith("+")
        name = selector.strip("+")
        if name in self.stages:
            roots = {node for node, m in self.models.items() if m.stage == name}
        else:
            roots = {node for node, m in self.models.items() if name in (node, m.name)}
        if not roots:
            names = [*self.models, *self.stages, *(m.name for m in self.models.values())]
            raise SelectionError(
                f"--select {selector!r} matches no model{did_you_mean(name, names)}"
            )
        picked = set(roots)
        if up:
            picked |= self._walk(roots, self.upstream)
        if down:
            picked |= self._walk(roots, self.downstream())
        return picked

    @staticmethod
    def _walk(
        roots: set[str], edges: dict[str, tuple[str, ...]] | dict[str, list[str]]
    ) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen


def merge_stage_orders(orders: Iterable[Sequence[str]]) -> list[str]:
    """One stage order that keeps the order of every pipeline, first seen first on ties.

    A pipeline of bronze and gold next to one of bronze, silver and gold gives
    bronze, silver, gold: silver stays before gold, where its models are read.
    """
    first_seen: dict[str, int] = {}
    before: dict[str, set[str]] = {}
    for order in orders:
        for index, stage in enumerate(order):
            first_seen.setdefault(stage, len(first_seen))
            before.setdefault(stage, set()).update(order[:index])
    merged: list[str] = []
    ready = [(first_seen[s], s) for s, earlier in before.items() if not earlier]
    heapq.heapify(ready)
    while ready:
        _, stage = heapq.heappop(ready)
        merged.append(stage)
        for other, earlier in before.items():
            if stage in earlier:
                earlier.discard(stage)
                if not earlier:
                    heapq.heappush(ready, (first_seen[other], other))
    if len(merged) < len(before):
        stuck = sorted(set(before) - set(merged), key=first_seen.__getitem__)
        raise ConfigError(f"pipelines order the stages {', '.join(stuck)} differently")
    return merged
