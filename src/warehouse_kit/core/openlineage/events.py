"""The OpenLineage events of one `wk run`: a START and a COMPLETE (or FAIL) for the run,
and for each model it builds, as `openlineage.client.event_v2.RunEvent`s.

The run is a job named after its pipelines; each model is a job named by its id
(``gold.fact_orders``) whose ``parent`` facet points at the run. A model's events carry
its input datasets (the tables it reads, or for a bronze model the source files or
tables it loads) and its output table, with their columns; its COMPLETE or FAIL adds the
rows read and written, its checks as data-quality assertions, its column lineage (when a
provider is given) and, on FAIL, the error. A model skipped because an input failed did
not run and has no events.

Run ids are UUIDs derived from warehouse-kit's run id (and the model), so the events of
a run can be found again from ``wk history``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from uuid import UUID

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import parent_run
from openlineage.client.generated.base import (
    DatasetFacet,
    InputDatasetFacet,
    OutputDatasetFacet,
    RunFacet,
)
from openlineage.client.uuid import generate_static_uuid

from warehouse_kit.core.catalog import Catalog
from warehouse_kit.core.openlineage import facets
from warehouse_kit.core.openlineage.datasets import Datasets
from warehouse_kit.core.openlineage.facets import PRODUCER, ColumnSources
from warehouse_kit.core.planner import Planned
from warehouse_kit.core.results import ModelResult, RunResult

ColumnLineageProvider = Callable[[Planned], ColumnSources]
"""A model's column lineage, from its planned expression (`warehouse_kit.core.lineage`)."""


class RunEvents:
    """Builds the events of one run over `plan`, the models it may build."""

    def __init__(
        self,
        catalog: Catalog,
        url: str,
        plan: Mapping[str, Planned],
        *,
        namespace: str,
        column_lineage: ColumnLineageProvider | None = None,
    ):
        self.catalog = catalog
        self.plan = plan
        self.namespace = namespace
        self.datasets = Datasets(catalog, url)
        self.column_lineage = column_lineage
        names = [pipeline.name for pipeline in catalog.pipelines]
        self.job = ",".join(names) or catalog.project.spec.name
        self.run_id = ""
        self._started = datetime.now(UTC)

    def run_started(self, run_id: str) -> RunEvent:
        self.run_id = run_id
        self._started = _instant(run_id)
        run = Run(runId=str(self._uuid()), facets={"processing_engine": facets.engine()})
        return self._event(RunState.START, run, self._job(self.job, "RUN"))

    def run_finished(self, result: RunResult) -> RunEvent:
        error = result.first_error()
        state = RunState.FAIL if result.status == "failed" else RunState.COMPLETE
        run_facets: dict[str, RunFacet] = {"errorMessage": facets.error(error)} if error else {}
        run = Run(runId=str(self._uuid()), facets=run_facets)
        return self._event(state, run, self._job(self.job, "RUN"))

    def model_started(self, node: str) -> RunEvent:
        item = self.plan[node]
        inputs, output = self._inputs(item, None), self._output(item, None)
        return self._event(
            RunState.START, self._model_run(node), self._model_job(item), inputs, output
        )

    def model_finished(self, result: ModelResult) -> RunEvent | None:
        """The model's COMPLETE or FAIL; None when it did not run (skipped, planned)."""
        item = self.plan.get(result.model)
        if item is None or result.status not in ("success", "up_to_date", "failed"):
            return None
        failed = result.status == "failed"
        run = self._model_run(result.model)
        if failed:
            assert run.facets is not None
            run.facets["errorMessage"] = facets.error(result.error or "failed")
        state = RunState.FAIL if failed else RunState.COMPLETE
        inputs, output = self._inputs(item, result), self._output(item, result)
        return self._event(state, run, self._model_job(item), inputs, output)

    # --- parts ---------------------------------------------------------------------------

    def _event(
        self,
        state: RunState,
        run: Run,
        job: Job,
        inputs: list[InputDataset] | None = None,
        outputs: list[OutputDataset] | None = None,
    ) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=run,
            job=job,
            inputs=inputs or [],
            outputs=outputs or [],
            producer=PRODUCER,
        )

    def _uuid(self, model: str = "") -> UUID:
        """The same UUID for the same run (and model): see the module docstring."""
        key = f"{self.namespace}/{self.job}/{self.run_id}/{model}"
        return generate_static_uuid(self._started, key.encode())

    def _job(self, name: str, kind: str) -> Job:
        return Job(namespace=self.namespace, name=name, facets={"jobType": facets.job_type(kind)})

    def _model_job(self, item: Planned) -> Job:
        return self._job(item.model.id, "MODEL")

    def _model_run(self, node: str) -> Run:
        parent = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=str(self._uuid())),
            job=parent_run.Job(namespace=self.namespace, name=self.job),
            producer=PRODUCER,
        )
        return Run(runId=str(self._uuid(node)), facets={"parent": parent})

    def _inputs(self, item: Planned, result: ModelResult | None) -> list[InputDataset]:
        """The tables (or the source) the model reads; with the rows read when finished and
        it reads one."""
        node = item.model.id
        source = self.datasets.source(item.model)
        found: list[tuple[str, str, dict[str, DatasetFacet]]] = []
        if source is not None:
            found.append((source.namespace, source.name, {}))
        parents = self.catalog.graph.upstream[node]
        for ref, parent in zip(item.model.inputs, parents, strict=True):
            name = self.datasets.model(parent)
            columns = self.plan[parent].output if parent in self.plan else item.inputs[ref].schema()
            found.append((name.namespace, name.name, {"schema": facets.schema(columns)}))
        rows = result.rows_in if result is not None and result.status == "success" else None
        stats: dict[str, InputDatasetFacet] = {}
        if rows is not None and len(found) == 1:
            stats["inputStatistics"] = facets.input_statistics(rows)
        return [
            InputDataset(namespace=ns, name=name, facets=dataset_facets, inputFacets=dict(stats))
            for ns, name, dataset_facets in found
        ]

    def _output(self, item: Planned, result: ModelResult | None) -> list[OutputDataset]:
        """The model's table; finished, with the rows written, its checks and column lineage."""
        name = self.datasets.model(item.model.id)
        dataset_facets: dict[str, DatasetFacet] = {"schema": facets.schema(item.output)}
        output_facets: dict[str, OutputDatasetFacet] = {}
        if result is not None:
            if result.checks:
                checked = facets.assertions(item.model, result.checks)
                dataset_facets["dataQualityAssertions"] = facets.as_dataset_facet(checked)
            if self.column_lineage is not None and result.status != "failed":
                lineage = facets.column_lineage(self.column_lineage(item), self.datasets.named)
                dataset_facets["columnLineage"] = lineage
            if result.status == "success" and result.rows_out is not None:
                output_facets["outputStatistics"] = facets.output_statistics(result.rows_out)
        return [
            OutputDataset(
                namespace=name.namespace,
                name=name.name,
                facets=dataset_facets,
                outputFacets=output_facets,
            )
        ]


def _instant(run_id: str) -> datetime:
    """When the run started, from its id (``20261129T153646.123456Z``); now for another."""
    try:
        return datetime.strptime(run_id, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)
