"""The small interface every broker transport implements, and what they share.

A transport publishes one message, or opens a :class:`Subscription` that yields messages
one at a time until the activity has a batch (see ``asyncapi_call._collect``), then stops
it and settles what was taken: a broker with acknowledgements (AMQP) or offsets (Kafka)
hands back whatever was delivered but not taken, so no message beyond the batch is lost.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget

FailureKind = Literal["transport", "authentication", "configuration"]


class BrokerError(Exception):
    """A broker operation failed; ``kind`` says whether retrying can help.

    ``transport``: unreachable or dropped (retryable); ``authentication``: credentials
    refused; ``configuration``: the request cannot work as resolved (bad URL, a queue
    declared with other properties, a binding of the wrong type).
    """

    def __init__(self, detail: str, *, kind: FailureKind = "transport") -> None:
        super().__init__(detail)
        self.detail = detail
        self.kind: FailureKind = kind


@dataclass
class Outbound:
    """One message to publish: text, and headers where the protocol has them."""

    data: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass
class Received:
    """One delivered message; ``token`` is what the transport needs to settle it."""

    data: str
    headers: dict[str, str] | None = None
    token: Any = None


class Subscription(Protocol):
    """A live subscription, open for the length of one batch."""

    async def receive(self, timeout: float) -> Received | None:
        """The next message, or None when none arrives within ``timeout`` seconds."""
        ...

    async def stop(self, room: int | None) -> list[Received]:
        """Stop delivery. Pub/sub transports return what was delivered before the stop
        took effect (up to ``room``, None = no limit): received, so not dropped. Transports
        that settle return nothing; what they hold goes back to the broker."""
        ...

    async def settle(self, taken: list[Received]) -> None:
        """Confirm to the broker that ``taken`` were consumed (ack, offset commit)."""
        ...


class Transport(Protocol):
    """How the activities reach one protocol's brokers."""

    noun: str
    """What a channel is called on this protocol, for messages ('Redis channel')."""

    headers: bool
    """Whether messages carry headers."""

    async def publish(self, target: BrokerTarget, message: Outbound) -> int:
        """Publish; return how many receivers the broker reports (1 where it only confirms)."""
        ...

    def subscribe(
        self, target: BrokerTarget, *, limit: int | None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Open a subscription to ``target.channel`` for a batch of at most ``limit``
        messages (None: no limit); closing it closes the connection."""
        ...


def text(data: Any) -> str:
    """A message body as text (invalid UTF-8 replaced)."""
    if isinstance(data, bytes | bytearray):
        return bytes(data).decode("utf-8", errors="replace")
    return "" if data is None else str(data)


def safe_url(url: str) -> str:
    """The URL without credentials, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url


def host_port(target: BrokerTarget, default_port: int) -> tuple[str, int]:
    """Host and port of ``target.url``; BrokerError(configuration) when malformed."""
    try:
        parts = urlsplit(target.url)
        port = parts.port or default_port
    except ValueError as exc:
        raise BrokerError(f"bad URL {safe_url(target.url)!r}: {exc}", kind="configuration") from exc
    if not parts.hostname:
        raise BrokerError(f"URL {safe_url(target.url)!r} has no host", kind="configuration")
    return parts.hostname, port


def binding(target: BrokerTarget, level: str) -> dict[str, Any]:
    """The document's binding of this protocol at ``level`` (server, channel, operation,
    message), or {}."""
    value = target.bindings.get(level)
    return dict(value) if isinstance(value, dict) else {}


def schema_value(value: Any) -> Any:
    """A binding field that AsyncAPI gives as a schema (Kafka ``groupId``): its ``const``,
    its only ``enum`` value or its ``default``; a plain value as is."""
    if not isinstance(value, dict):
        return value
    if "const" in value:
        return value["const"]
    enum = value.get("enum")
    if isinstance(enum, list) and len(enum) == 1:
        return enum[0]
    return value.get("default")
