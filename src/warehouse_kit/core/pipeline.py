"""Compile a pipeline file into models: the same `Model` objects `@model` makes.

- Every table of every source becomes a bronze model (``bronze.<table>``),
  with the bronze stage's operations, if any, applied before it lands.
- A stage's models start from their ``from`` model (default: the model of
  the same name in an earlier stage) and apply their operations in order.
- A stage's own ``operations`` apply to each table of the previous stage that
  none of its models starts from, which keeps the short form of the file
  format (``operations: [deduplicate, null_handling]``) meaningful.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import ibis.expr.types as ir

from warehouse_kit.core import quality, sources, transforms
from warehouse_kit.core.errors import ConfigError, did_you_mean
from warehouse_kit.core.models import (
    Batch,
    BuildContext,
    DimensionKeys,
    Merge,
    Model,
    SourceLoad,
    materialization,
)
from warehouse_kit.core.operations import (
    BuildFacts,
    CreateDateDimension,
    CreateDimensions,
    DropColumns,
    Operation,
)
from warehouse_kit.core.physical import Physical
from warehouse_kit.core.spec import (
    ColumnSpec,
    KafkaSource,
    ModelSpec,
    PiiTag,
    PipelineSpec,
    Source,
    SourceTable,
    StageSpec,
    load_pipeline_spec,
)

BRONZE = "bronze"


@dataclass(frozen=True)
class Pipeline:
    """A pipeline file, compiled."""

    name: str
    file: str
    spec: PipelineSpec
    models: tuple[Model, ...]
    stages: tuple[str, ...]
    schemas: Mapping[str, str]
    """Stage -> the schema its tables are written to."""


def load_pipeline(
    path: Path, *, root: Path, display: str | None = None, python: Sequence[Model] = ()
) -> Pipeline:
    """Read, validate and compile a pipeline file; `root` anchors relative source paths;
    `python`: the project's Python models, which `destination.tables` may name."""
    file = display or str(path)
    spec = load_pipeline_spec(path, display=file, root=root)
    return compile_pipeline(spec, file=file, root=root, python=python)


def compile_pipeline(
    spec: PipelineSpec, *, file: str, root: Path, python: Sequence[Model] = ()
) -> Pipeline:
    """The pipeline's models; a Python model of its last stage that `destination.tables`
    names joins them (the pipeline publishes it: its checks apply, its monitors watch)."""
    stages = list(spec.transformations)
    if not stages or stages[0].stage != BRONZE:
        stages.insert(0, StageSpec(stage=BRONZE))
    schemas = {stage.stage: stage.schema_ or stage.stage for stage in stages}
    last = stages[-1]
    if spec.destination.schema_ and not last.schema_ and len(stages) > 1:
        schemas[last.stage] = spec.destination.schema_
    offset = 0 if spec.transformations and spec.transformations[0].stage == BRONZE else -1
    compiler = _Compiler(spec, file, root)
    models = compiler.bronze(stages[0], offset)
    previous = [m.name for m in models]
    for index, stage in enumerate(stages[1:], start=1):
        stage_models = compiler.stage(stage, index + offset, previous, stages[index - 1].stage)
        models += stage_models
        previous = [m.name for m in stage_models]
    python = [m for m in python if m.stage == last.stage]
    own = [m for m in models if m.stage == last.stage]
    _check_destination(spec, last.stage, own, python, file)
    named = set(spec.destination.tables)
    models += [replace(m, pipeline=spec.name) for m in python if m.name in named]
    models = _with_pipeline_checks(spec, models, last.stage, file)
    return Pipeline(spec.name, file, spec, tuple(models), tuple(s.stage for s in stages), schemas)


def _with_pipeline_checks(
    spec: PipelineSpec, models: list[Model], last: str, file: str
) -> list[Model]:
    """Pipeline-level checks apply to every table it publishes: `destination.tables`, or
    every model of the last stage."""
    if not spec.quality_checks:
        return models
    checks = quality.parse_checks(
        spec.quality_checks, file=file, key_path="pipeline.quality_checks"
    )
    published = set(spec.destination.tables) or {m.name for m in models if m.stage == last}
    # unique_keys without fields checks each model's own key: a model without one skips it.
    keyless = [c for c in checks if isinstance(c, quality.UniqueKeys) and not c.fields]
    # A row_count threshold compares runs' sizes; an incremental model's runs are batches.
    relative = [c for c in checks if isinstance(c, quality.RowCount) and c.threshold]

    def applicable(model: Model) -> tuple[quality.BaseCheck, ...]:
        skipped = ([] if model.key else keyless) + (
            relative if isinstance(model.materialization, Merge) else []
        )
        return tuple(c for c in checks if c not in skipped)

    return [
        replace(m, checks=(*m.checks, *applicable(m)))
        if m.stage == last and m.name in published
        else m
        for m in models
    ]


def _check_destination(
    spec: PipelineSpec, stage: str, last_stage: Sequence[Model], python: Sequence[Model], file: str
) -> None:
    """Every table the destination names is a model of the last stage, `stage`: the
    file's own (`last_stage`), or a Python model of that stage (`python`)."""
    names = {m.name for m in last_stage}
    known = names | {m.name for m in python}
    for index, table in enumerate(spec.destination.tables):
        if table not in known:
            raise ConfigError(
                f"{table!r} is no model of the last stage, {stage}, in this file or in "
                f"models/*.py{did_you_mean(table, known)} "
                f"({stage} has {', '.join(sorted(known)) or 'none'})",
                file=file,
                key_path=f"pipeline.destination.tables[{index}]",
            )
    lake = spec.destination.lakehouse
    published = set(spec.destination.tables) or names
    for table in lake.tables if lake else ():
        if table not in published:
            where = "destination.tables" if spec.destination.tables else "the last stage"
            raise ConfigError(
                f"{table!r} is not a table of {where} ({', '.join(sorted(published)) or 'none'})",
                file=file,
                key_path=f"pipeline.destination.lakehouse.tables.{table}",
            )


@dataclass(frozen=True)
class _Compiler:
    spec: PipelineSpec
    file: str
    root: Path

    def bronze(self, stage: StageSpec, stage_index: int) -> list[Model]:
        models = []
        for s_index, source in enumerate(self.spec.sources):
            tables: list[SourceTable] = list(source.tables)
            for t_index, table in enumerate(tables):
                origin = f"{self.file}: pipeline.sources[{s_index}].tables[{t_index}]"
                models.append(
                    Model(
                        name=table.name,
                        stage=stage.stage,
                        inputs=(),
                        build=self._source_build(source, table, stage.operations, stage_index),
                        materialization=_source_load(source, table),
                        description=f"{source.name}.{table.name}, as loaded",
                        origin=origin,
                        pipeline=self.spec.name,
                        source=source.name,
                        pii=_pii(getattr(table, "pii", {})),
                        contract=table.schema_contract
                        or source.schema_contract
                        or self.spec.schema_contract,
                        retries=source.retries or self.spec.retries,
                    )
                )
        return models

    def _source_build(
        self,
        source: Source,
        table: SourceTable,
        operations: Sequence[Operation],
        stage_index: int,
    ) -> _SourceBuild:
        return _SourceBuild(source, table, tuple(operations), self.file, stage_index, self.root)

    def stage(
        self, stage: StageSpec, stage_index: int, previous: list[str], previous_stage: str
    ) -> list[Model]:
        path = f"pipeline.transformations[{stage_index}]"
        tail = (
            (DropColumns(op="drop_columns", load_metadata=True),)
            if stage.drop_load_metadata
            else ()
        )
        models = [
            self.model(m, stage.stage, f"{path}.models[{i}]", tail=tail)
            for i, m in enumerate(stage.models)
        ]
        if stage.operations:
            started = {(m.from_ or m.name).split(".")[-1] for m in stage.models}
            for name in previous:
                if name not in started:
                    passing = ModelSpec.model_validate(
                        {"name": name, "from": f"{previous_stage}.{name}"}
                    )
                    ops = stage.operations
                    models.append(self.model(passing, stage.stage, path, operations=ops, tail=tail))
        return models

    def model(
        self,
        spec: ModelSpec,
        stage: str,
        key_path: str,
        operations: Sequence[Operation] | None = None,
        tail: tuple[Operation, ...] = (),
    ) -> Model:
        """`tail`: operations the stage adds after the model's own (not to a dimension's)."""
        ops = tuple(spec.operations if operations is None else operations)
        if not any(isinstance(op, CreateDimensions | CreateDateDimension) for op in ops):
            ops += tail
        primary = spec.from_ or spec.name
        refs = [primary, *(ref for op in ops for ref in transforms.references(op))]
        keys = self._dimension_keys(spec.name, ops, key_path)
        # create_dimensions says how the model is written; it transforms nothing itself.
        options = next((op for op in ops if isinstance(op, CreateDimensions)), None)
        ops = tuple(op for op in ops if not isinstance(op, CreateDimensions))
        dimensions = [
            d.dimension for op in ops if isinstance(op, BuildFacts) for d in op.dimensions
        ]
        return Model(
            name=spec.name,
            stage=stage,
            inputs=tuple(dict.fromkeys(refs)),
            build=_OperationsBuild(primary, ops, self.file, key_path),
            materialization=materialization(
                options, spec.incremental, spec.materialized, file=self.file, key_path=key_path
            ),
            description=spec.description,
            origin=f"{self.file}: {key_path}",
            pipeline=self.spec.name,
            columns={
                name: c if isinstance(c, str) else c.description for name, c in spec.columns.items()
            },
            pii=_pii({n: c.pii for n, c in spec.columns.items() if isinstance(c, ColumnSpec)}),
            keys=keys,
            dimensions=tuple(dimensions),
            contract=spec.schema_contract or self.spec.schema_contract,
            physical=Physical.of(spec),
            retries=spec.retries or self.spec.retries,
            checks=tuple(
                quality.parse_checks(
                    spec.quality_checks, file=self.file, key_path=f"{key_path}.quality_checks"
                )
            ),
        )

    def _dimension_keys(
        self, name: str, ops: Sequence[Operation], key_path: str
    ) -> DimensionKeys | None:
        for index, op in enumerate(ops):
            if isinstance(op, CreateDimensions | CreateDateDimension) and index != len(ops) - 1:
                raise ConfigError(
                    f"{op.op} must be the last operation of its model",
                    file=self.file,
                    key_path=f"{key_path}.operations[{index}]",
                )
            if isinstance(op, CreateDimensions):
                return DimensionKeys.of(name, op)
            if isinstance(op, CreateDateDimension):
                return DimensionKeys(("date",), "date_key")
        return None


@dataclass(frozen=True)
class _OperationsBuild:
    """A model's build: its operations applied in order to its first input."""

    primary: str
    operations: tuple[Operation, ...]
    file: str
    key_path: str

    def __call__(self, context: BuildContext) -> ir.Table:
        table = context.input(self.primary)
        return _apply_all(self.operations, table, context, self.file, self.key_path)


@dataclass(frozen=True)
class _SourceBuild:
    """A bronze model's build: read the source, apply the bronze stage's operations."""

    source: Source
    table: SourceTable
    operations: tuple[Operation, ...]
    file: str
    stage_index: int
    root: Path

    def __call__(self, context: BuildContext) -> Batch:
        batch = sources.read(self.source, self.table, context, self.root)
        key_path = f"pipeline.transformations[{self.stage_index}]"
        table = _apply_all(self.operations, batch.table, context, self.file, key_path)
        return replace(batch, table=table)


def source_of(model: Model) -> tuple[Source, SourceTable, Path] | None:
    """The source and table a bronze model loads, and the folder its paths are relative
    to; None for a model that reads other models."""
    build = model.build
    return (build.source, build.table, build.root) if isinstance(build, _SourceBuild) else None


def _apply_all(
    operations: Sequence[Operation],
    table: ir.Table,
    context: BuildContext,
    file: str,
    key_path: str,
) -> ir.Table:
    for index, op in enumerate(operations):
        step = transforms.Step(file, f"{key_path}.operations[{index}]", context)
        table = transforms.apply(op, table, step)
    return table


def _source_load(source: Source, table: SourceTable) -> SourceLoad:
    if isinstance(source, KafkaSource):
        return SourceLoad("append", stream=True)
    incremental = table.incremental or source.incremental
    return SourceLoad("append" if incremental else source.load, incremental)


def _pii(tags: Mapping[str, PiiTag]) -> dict[str, str | None]:
    """Tagged columns -> their kind of personal data; None where declared safe (false)."""
    return {name: tag or None for name, tag in tags.items() if tag is not None}
