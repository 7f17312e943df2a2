"""Where events go (`spec_openlineage`), and delivering them without ever failing a run.

The file and HTTP transports are the OpenLineage client's own; HTTP adds retries with a
doubling wait. A run sends its events one by one as it goes; the first that cannot be
delivered, even after its retries, logs one warning and ends delivery for the rest of
the run, which goes on: lineage is worth a warning, not a failed (or stalled) build.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, TokenProvider
from openlineage.client.transport.http import HttpTransport as ClientHttp

from warehouse_kit.core import spec_openlineage as spec
from warehouse_kit.core.errors import first_line

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Stderr(Transport):
    """One JSON event per line on standard error."""

    kind = "console"

    def emit(self, event: object) -> None:
        print(Serde.to_json(event), file=sys.stderr, flush=True)


class RetryingHttp(Transport):
    """The client's HTTP transport, tried again on what a retry may fix."""

    kind = "http"

    def __init__(self, http: spec.HttpTransport):
        key = http.api_key.get_secret_value() if http.api_key else None
        auth = ApiKeyTokenProvider({"api_key": key}) if key else TokenProvider({})
        # No retries inside urllib3 (it logs a warning per retry): this class counts them.
        config = HttpConfig(
            url=str(http.url),
            endpoint=http.endpoint,
            timeout=http.timeout.total_seconds(),
            auth=auth,
            retry={"total": False},
        )
        self.client = ClientHttp(config)
        self.retries = http.retries
        self.backoff = http.backoff.total_seconds()
        self.attempts = 0
        """Posts tried so far, retries included."""

    def emit(self, event: object) -> None:
        for retry in range(self.retries + 1):
            self.attempts += 1
            try:
                self.client.emit(event)  # type: ignore[arg-type]
                return
            except (requests.ConnectionError, requests.Timeout, requests.HTTPError) as exc:
                if retry == self.retries or not _worth_retrying(exc):
                    raise
            time.sleep(self.backoff * 2**retry)

    def close(self, timeout: float = -1) -> bool:
        return self.client.close(timeout)


def _worth_retrying(exc: requests.RequestException) -> bool:
    """A connection error or timeout, or an answer saying to come back later."""
    if isinstance(exc, requests.HTTPError):
        return exc.response is not None and exc.response.status_code in RETRY_STATUSES
    return True


class Delivery:
    """Sends a run's events through `transport`; see the module docstring for failures."""

    def __init__(self, transport: Transport, where: str, secrets: tuple[str, ...] = ()):
        self.transport = transport
        self.where = where
        self.secrets = secrets
        self.failed = False
        self.undelivered = 0

    def send(self, event: RunEvent) -> None:
        if self.failed:
            self.undelivered += 1
            return
        try:
            self.transport.emit(event)
        except Exception as exc:  # a lineage server down must not fail the build
            self.failed, self.undelivered = True, self.undelivered + 1
            state = event.eventType.value if event.eventType else "an"
            log.warning(
                "OpenLineage: could not send the %s event of %s to %s (%s); "
                "no more events are sent in this run",
                state,
                event.job.name,
                self.where,
                self._scrub(first_line(exc)),
            )

    def close(self) -> None:
        try:
            self.transport.close(0)
        except Exception as exc:  # closing a connection must not fail the build either
            log.debug("OpenLineage: closing %s: %s", self.where, exc)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def delivery(setting: spec.OpenLineage, root: Path) -> Delivery:
    """The transport `setting` picks, ready to send (paths relative to the project `root`)."""
    if isinstance(setting, spec.FileTransport):
        path = root / setting.path
        path.parent.mkdir(parents=True, exist_ok=True)
        return Delivery(FileTransport(FileConfig(log_file_path=str(path), append=True)), str(path))
    if isinstance(setting, spec.ConsoleTransport):
        return Delivery(Stderr(), "standard error")
    secrets = (setting.api_key.get_secret_value(),) if setting.api_key else ()
    return Delivery(RetryingHttp(setting), _shown(str(setting.url), setting.endpoint), secrets)


def _shown(url: str, endpoint: str) -> str:
    """The endpoint's URL without any user or password, for messages."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}/{endpoint.lstrip('/')}"
