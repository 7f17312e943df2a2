"""The project file's OpenLineage settings: ``openlineage`` in ``warehouse.yml``.

Off unless the key is there; each setting picks where the events go::

    openlineage: {transport: file, path: lineage/events.jsonl}
    openlineage: {transport: http, url: "http://marquez:5000", api_key: "${OL_API_KEY}"}
    openlineage: {transport: console}

`warehouse_kit.core.openlineage` says what is emitted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, SecretStr

from warehouse_kit.core.config import Duration, Spec


class _Transport(Spec):
    namespace: str | None = Field(default=None, min_length=1)
    """The jobs' namespace (default: the project's `name`)."""


class FileTransport(_Transport):
    """One JSON event per line, appended to a file."""

    transport: Literal["file"]
    path: str = Field(default="lineage/events.jsonl", min_length=1)
    """Relative to the project folder; its folder is created."""


class HttpTransport(_Transport):
    """Each event POSTed to an OpenLineage endpoint (Marquez, DataHub, ...)."""

    transport: Literal["http"]
    url: HttpUrl
    """The server, ``http://marquez:5000``."""
    endpoint: str = "api/v1/lineage"
    """Joined to `url`."""
    api_key: SecretStr | None = None
    """Sent as ``Authorization: Bearer``; write ``${VARIABLE}`` to keep it out of the file."""
    timeout: Duration = timedelta(seconds=5)
    retries: int = Field(default=3, ge=0, le=10)
    """Tries after the first, on a connection error, a timeout, 429 or a 5xx answer."""
    backoff: Duration = timedelta(seconds=0.5)
    """The wait before the first retry; each next one waits twice as long."""


class ConsoleTransport(_Transport):
    """One JSON event per line on standard error."""

    transport: Literal["console"]


OpenLineage = Annotated[
    FileTransport | HttpTransport | ConsoleTransport,
    Field(discriminator="transport", title="OpenLineage transport"),
]
