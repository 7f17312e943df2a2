"""The ``monitoring:`` part of the pipeline format: monitors, and the channels alerts go to.

A monitor says what to watch (``monitors:``, a union on ``type``); an alert says where to
tell when a monitor of its ``type`` fires (``alerts:``, a union on ``channel``)::

    monitoring:
      monitors:
        - {type: freshness, source: shop_files, max_age: 24h}
        - {type: volume, model: gold.fact_orders, sd: 3, last: 10}
      alerts:
        - {type: pipeline_failure, channel: webhook, url: ${ALERT_WEBHOOK_URL}}
        - {type: pipeline_failure, channel: slack}        # url: $SLACK_WEBHOOK_URL
        - {type: freshness, channel: email, to: [data-team@example.com], smtp: ${SMTP_URL}}

``pipeline_failure`` and ``quality_threshold`` (any check fails) need no monitor: an alert
of that type watches for it. Evaluation is in `warehouse_kit.core.monitoring`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field, SecretStr, model_validator

from warehouse_kit.core.config import Duration, Name, Spec, one_or_many

AlertType = Literal["pipeline_failure", "quality_threshold", "freshness", "volume", "stream_lag"]
ModelName = Annotated[str, Field(min_length=1)]
"""A model: ``fact_orders`` or ``gold.fact_orders`` (checked when the monitor is evaluated)."""


class BaseMonitor(Spec):
    name: Name | None = None
    """What alerts and ``wk monitor`` call it (default: its type and what it watches)."""

    @property
    def watches(self) -> str:
        return ""

    @property
    def key(self) -> str:
        """The monitor's name, unique in its pipeline: its incidents are recorded under it."""
        return self.name or " ".join(part for part in (self.type, self.watches) if part)

    type: str


class PipelineFailureMonitor(BaseMonitor):
    """Fires when the pipeline's latest run failed (or was aborted)."""

    type: Literal["pipeline_failure"]


class QualityThresholdMonitor(BaseMonitor):
    """Fires when a check of the latest run that checked a model failed; with `max_rate`,
    when the share of a model's rows set apart in quarantine exceeds it instead."""

    type: Literal["quality_threshold"]
    model: ModelName | None = None
    """Default: every model (then `max_rate` cannot be given)."""
    max_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    """Largest share of its input rows the model may quarantine (0.05: 5%)."""

    @property
    def watches(self) -> str:
        return self.model or ""

    @model_validator(mode="after")
    def _rate_of_a_model(self) -> QualityThresholdMonitor:
        if self.max_rate is not None and self.model is None:
            raise ValueError("max_rate needs the model whose quarantine it limits")
        return self


class FreshnessMonitor(BaseMonitor):
    """Fires when a source has landed nothing new, or a table was not rebuilt, for longer
    than `max_age`."""

    type: Literal["freshness"]
    source: Name | None = None
    """A source: its stalest table's latest landed batch counts."""
    table: ModelName | None = None
    """A model: its latest successful build counts."""
    max_age: Duration

    @property
    def watches(self) -> str:
        return self.source or self.table or ""

    @model_validator(mode="after")
    def _one_thing(self) -> FreshnessMonitor:
        if (self.source is None) == (self.table is None):
            raise ValueError("give either source or table")
        return self


class RowRange(Spec):
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None


class VolumeMonitor(BaseMonitor):
    """Fires when a model's rows after its latest build fall outside what its previous
    builds predict (their mean +- `sd` standard deviations), or outside a fixed `range`."""

    type: Literal["volume"]
    model: ModelName
    range: RowRange | None = None
    """Fixed bounds, instead of the history's."""
    last: Annotated[int, Field(ge=2)] = 10
    """How many previous successful builds make the history."""
    sd: Annotated[float, Field(gt=0)] = 3.0
    """How many standard deviations from their mean is still normal."""
    min_runs: Annotated[int, Field(ge=2)] = 3
    """Fewer previous builds than this: no verdict yet."""

    @property
    def watches(self) -> str:
        return self.model


class StreamLagMonitor(BaseMonitor):
    """Fires when a stream model's lag (messages on the broker not yet landed, summed
    over its partitions, as of its latest batch) exceeds `max_lag`."""

    type: Literal["stream_lag"]
    model: ModelName | None = None
    """Default: every stream model."""
    max_lag: Annotated[int, Field(ge=0)]

    @property
    def watches(self) -> str:
        return self.model or ""


Monitor = Annotated[
    PipelineFailureMonitor
    | QualityThresholdMonitor
    | FreshnessMonitor
    | VolumeMonitor
    | StreamLagMonitor,
    Field(discriminator="type", title="monitor"),
]


SLACK_WEBHOOK_ENV = "SLACK_WEBHOOK_URL"
"""Where ``channel: slack`` finds its incoming webhook's URL when the alert gives none."""


class WebhookAlert(Spec):
    """An alert posted to a URL as JSON: ``{"text": "..."}``, which Slack, Mattermost and
    Teams incoming webhooks show as a message.

    ``channel: slack`` is such a webhook, whose `url` defaults to the environment
    variable ``SLACK_WEBHOOK_URL`` (read when the alert is sent)."""

    type: AlertType
    channel: Literal["webhook", "slack"]
    url: SecretStr | None = None
    """Usually ``${ALERT_WEBHOOK_URL}``: a webhook URL is a secret."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Extra HTTP headers (an Authorization token): secrets too."""

    def webhook_url(self) -> str | None:
        """The URL to post to: `url`, else (Slack) the one in ``SLACK_WEBHOOK_URL``."""
        if self.url is not None:
            return self.url.get_secret_value()
        return os.environ.get(SLACK_WEBHOOK_ENV) or None if self.channel == "slack" else None


class EmailAlert(Spec):
    """An alert sent by email through an SMTP server."""

    spellings: ClassVar[Mapping[str, str]] = {"from": "sender"}

    type: AlertType
    channel: Literal["email"]
    to: Annotated[
        list[str], BeforeValidator(one_or_many, json_schema_input_type=str | list[str])
    ] = Field(default_factory=list)
    """One address or a list of them."""
    smtp: SecretStr | None = None
    """``smtp://user:password@host:port`` (``smtps://`` for TLS from the start), usually
    ``${SMTP_URL}``; with a user, the server is logged in to."""
    starttls: bool = False
    """Upgrade an smtp:// connection with STARTTLS before logging in."""
    sender: str = "warehouse-kit@localhost"
    """The From address (key ``from``)."""


Alert = Annotated[WebhookAlert | EmailAlert, Field(discriminator="channel", title="alert channel")]

IMPLICIT: dict[str, type[BaseMonitor]] = {
    "pipeline_failure": PipelineFailureMonitor,
    "quality_threshold": QualityThresholdMonitor,
}
"""The alert types that watch for themselves when no monitor of their type is declared."""


class MonitoringSpec(Spec):
    monitors: list[Monitor] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)

    @model_validator(mode="after")
    def _alerts_have_monitors(self) -> MonitoringSpec:
        keys = [monitor.key for monitor in self.monitors]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"two monitors are called {repeated[0]!r}: give each a name")
        declared = {monitor.type for monitor in self.monitors}
        for alert in self.alerts:
            if alert.type not in declared and alert.type not in IMPLICIT:
                raise ValueError(
                    f"an alert of type {alert.type} needs a {alert.type} monitor in "
                    "monitoring.monitors (what to watch, and its limit)"
                )
        return self

    def all_monitors(self) -> list[BaseMonitor]:
        """The declared monitors, and one for each alert type that watches for itself."""
        found: list[BaseMonitor] = list(self.monitors)
        types = {monitor.type for monitor in found}
        for alert in self.alerts:
            implicit = IMPLICIT.get(alert.type)
            if implicit is not None and alert.type not in types:
                found.append(implicit(type=alert.type))
                types.add(alert.type)
        return found
