"""OpenLineage events for every run and every model it builds (START, COMPLETE, FAIL).

Set where they go with ``openlineage`` in ``warehouse.yml`` (`spec_openlineage`); the
runner reports through `listening`, `events` says what each event holds, `datasets` how
tables, files and topics are named, `facets` what is added to them, and `transport` how
they are delivered.
"""

from warehouse_kit.core.openlineage.events import ColumnLineageProvider, RunEvents
from warehouse_kit.core.openlineage.facets import ColumnSources, column_lineage
from warehouse_kit.core.openlineage.listener import listening

__all__ = ["ColumnLineageProvider", "ColumnSources", "RunEvents", "column_lineage", "listening"]
