"""Payloads between the ``call: asyncapi`` handler and the runner activities that do its I/O.

Plain dataclasses: the handler sends them as an :class:`ActivityCall` payload (a JSON
object) and Temporal's data converter rebuilds them from the activities' type hints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ASYNCAPI_PUBLISH_ACTIVITY = "stigmer.runner.asyncapi.publish"
"""Activity name of :meth:`stigmer_runner.activities.asyncapi_call.AsyncApiActivities.publish`."""

ASYNCAPI_SUBSCRIBE_ACTIVITY = "stigmer.runner.asyncapi.subscribe"
"""Activity name of :meth:`stigmer_runner.activities.asyncapi_call.AsyncApiActivities.subscribe`."""

# ``ApplicationError.type`` values the activities raise; each carries an RFC 7807 problem
# as its first detail.
ASYNCAPI_TRANSPORT_ERROR = "AsyncApiTransport"
"""The broker could not be reached or dropped the connection (retryable)."""
ASYNCAPI_CONFIGURATION_ERROR = "AsyncApiConfiguration"
"""The request cannot work as resolved: unsupported protocol, malformed URL (not retryable)."""

NON_RETRYABLE_ASYNCAPI_ERRORS = [ASYNCAPI_CONFIGURATION_ERROR]


@dataclass
class BrokerTarget:
    """Where the activity connects: the server URL and the channel's address, plus
    credentials and the document's bindings of the protocol."""

    protocol: str
    """redis, amqp, mqtt or kafka."""
    url: str
    channel: str
    task: str
    """The task's name and pointer, for error messages."""
    username: str | None = None
    password: str | None = None
    bindings: dict[str, Any] = field(default_factory=dict)
    """The protocol's bindings by level: ``server``, ``channel``, ``operation``, ``message``."""


@dataclass
class PublishRequest:
    """Publish one message (``data``, already encoded as text) to ``target.channel``."""

    target: BrokerTarget
    data: str
    headers: dict[str, str] = field(default_factory=dict)
    """Message headers (AMQP, Kafka); the handler refuses them for other protocols."""
    content_type: str | None = None

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PublishResult:
    receivers: int = 0
    """How many subscribers Redis delivered the message to; 1 once an AMQP, MQTT or Kafka
    broker confirmed it (they do not count receivers)."""


@dataclass
class SubscribeRequest:
    """Consume one batch of messages from ``target.channel``.

    The activity subscribes, then returns when ``max_messages`` messages arrived, when
    ``max_seconds`` passed, when ``return_early`` is set and at least one message arrived
    (the workflow decides after each batch), or when the batch reached ``max_bytes``.
    """

    target: BrokerTarget
    max_seconds: float
    max_messages: int | None = None
    return_early: bool = False
    max_bytes: int = 1024 * 1024

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SubscribeResult:
    """The messages of one batch, as text, in arrival order."""

    messages: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    """Each message's headers, aligned with ``messages``; empty where the protocol has none."""
