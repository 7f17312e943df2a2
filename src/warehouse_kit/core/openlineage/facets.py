"""The facets warehouse-kit adds to its OpenLineage events, built with the client's typed
classes (`openlineage.client.facet_v2`).

Every facet names warehouse-kit as its ``_producer`` (passed each time rather than set
with the client's process-wide `set_producer`, which another integration in the same
process may have set).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

import ibis
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    processing_engine_run,
    schema_dataset,
)
from openlineage.client.generated.base import DatasetFacet

from warehouse_kit.core.models import Model
from warehouse_kit.core.openlineage.datasets import DatasetName
from warehouse_kit.core.quality import CheckResults


def _version() -> str:
    try:
        return version("warehouse-kit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


VERSION = _version()
PRODUCER = f"urn:warehouse-kit:{VERSION}"
"""Who made the events: a URI, as OpenLineage requires (a URN: the project has no URL)."""
INTEGRATION = "WAREHOUSE_KIT"


class ColumnRefLike(Protocol):
    """A column a model reads (`warehouse_kit.core.lineage.ColumnRef`)."""

    @property
    def table(self) -> str: ...
    @property
    def column(self) -> str: ...


ColumnSources = Mapping[str, Sequence[ColumnRefLike]]
"""Each output column and the input columns it is computed from."""


def schema(table_schema: ibis.Schema) -> schema_dataset.SchemaDatasetFacet:
    """The columns of a table and their types (as Ibis names them: ``int64``, ``string``)."""
    fields = [
        schema_dataset.SchemaDatasetFacetFields(
            name=name, type=str(dtype.copy(nullable=True)), ordinal_position=position, fields=None
        )
        for position, (name, dtype) in enumerate(table_schema.items(), start=1)
    ]
    return schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)


def column_lineage(
    sources: ColumnSources, resolve: Callable[[str], DatasetName | None]
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """The column-lineage facet of `sources`; `resolve` names the dataset of each input
    table (a column whose table it cannot name is left out)."""
    fields: dict[str, column_lineage_dataset.Fields] = {}
    for output, refs in sources.items():
        inputs = []
        for ref in refs:
            dataset = resolve(ref.table)
            if dataset is not None:
                inputs.append(
                    column_lineage_dataset.InputField(
                        namespace=dataset.namespace,
                        name=dataset.name,
                        field=ref.column,
                        transformations=None,  # not known from a ColumnRef
                    )
                )
        if inputs:
            fields[output] = column_lineage_dataset.Fields(inputFields=inputs)
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields=fields, dataset=None, producer=PRODUCER
    )


def assertions(
    model: Model, results: CheckResults
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """Each check of the model's run: its name, type, column and whether it passed (a
    warning is a failed assertion of severity ``warn``)."""
    found = []
    declared = {check.name: check for check in model.checks}
    for result in results:
        columns = _columns(declared.get(result.check))
        found.append(
            data_quality_assertions_dataset.Assertion(
                assertion=result.type,
                success=result.status == "pass",
                column=columns[0] if len(columns) == 1 else None,
                name=result.check,
                # Only a rejecting check stops the model; quarantine sets rows apart.
                severity="error" if result.action == "reject" else "warn",
                description=result.message or None,
                params={"columns": columns} if len(columns) > 1 else None,
            )
        )
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=found, producer=PRODUCER
    )


def _columns(check: object) -> list[str]:
    """The column(s) a check is declared on (``field`` or ``fields``), if any."""
    field = getattr(check, "field", None)
    fields = getattr(check, "fields", None)
    return [field] if isinstance(field, str) else list(fields or [])


def input_statistics(rows: int) -> input_statistics_input_dataset.InputStatisticsInputDatasetFacet:
    return input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
        rowCount=rows, producer=PRODUCER
    )


def output_statistics(
    rows: int,
) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=rows, producer=PRODUCER
    )


def error(message: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(
        message=message, programmingLanguage="python", producer=PRODUCER
    )


def engine() -> processing_engine_run.ProcessingEngineRunFacet:
    from openlineage.client.constants import __version__ as client_version

    return processing_engine_run.ProcessingEngineRunFacet(
        version=VERSION,
        name="warehouse-kit",
        openlineageAdapterVersion=client_version,
        producer=PRODUCER,
    )


def job_type(job: str) -> job_type_job.JobTypeJobFacet:
    """A batch job: ``RUN`` (a `wk run`) or ``MODEL`` (one model of it)."""
    return job_type_job.JobTypeJobFacet(
        processingType="BATCH", integration=INTEGRATION, jobType=job, producer=PRODUCER
    )


def as_dataset_facet(facet: object) -> DatasetFacet:
    """A facet the client types for input datasets, given to an output dataset.

    The checks of a model run on the rows it writes, so their assertions describe the
    output; OpenLineage types the facet for inputs (as a test job that reads the table
    would report it). The JSON is the same either way.
    """
    return facet  # type: ignore[return-value]
