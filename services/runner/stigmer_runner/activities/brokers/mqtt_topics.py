"""MQTT 3.1.1 with aiomqtt: the channel address is the topic (a filter, wildcards and all,
when subscribing).

The operation binding's ``qos`` (0, 1, 2) applies to publish and subscribe, ``retain`` to
publish. The server binding's ``clientId``, ``cleanSession`` and ``keepAlive`` shape the
connection: with ``cleanSession: false`` and a ``clientId`` the broker keeps the session
between batches (the subscription stays, QoS 1/2 messages published meanwhile are queued
for the next batch); otherwise each batch subscribes afresh and, as with Redis pub/sub, a
message published between batches is not seen. MQTT 3.1.1 has no message headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
from aiomqtt import MqttCodeError, MqttError, ProtocolVersion

from stigmer_runner.activities.brokers.base import (
    BrokerError,
    Outbound,
    Received,
    binding,
    host_port,
    text,
)
from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget

# CONNACK codes for refused credentials: 3.1.1 (4, 5) and 5.0 (134, 135).
_AUTH_CODES = {4, 5, 134, 135}


class MqttTransport:
    """Publishes to and subscribes on MQTT topics."""

    noun = "MQTT topic"
    headers = False

    def __init__(self, *, connect_timeout_seconds: float = 10.0) -> None:
        self._connect_timeout = connect_timeout_seconds

    async def publish(self, target: BrokerTarget, message: Outbound) -> int:
        operation = binding(target, "operation")
        async with self._client(target) as client:
            try:
                await client.publish(
                    target.channel,
                    message.data.encode(),
                    qos=_qos(operation),
                    retain=bool(operation.get("retain", False)),
                )
            except ValueError as exc:  # a wildcard or empty topic
                raise BrokerError(f"bad topic: {exc}", kind="configuration") from exc
        return 1

    @asynccontextmanager
    async def subscribe(
        self, target: BrokerTarget, *, limit: int | None
    ) -> AsyncIterator[_MqttSubscription]:
        async with self._client(target) as client:
            try:
                await client.subscribe(target.channel, qos=_qos(binding(target, "operation")))
            except ValueError as exc:
                raise BrokerError(f"bad topic filter: {exc}", kind="configuration") from exc
            yield _MqttSubscription(client, target.channel, persistent=_persistent(target))

    @asynccontextmanager
    async def _client(self, target: BrokerTarget) -> AsyncIterator[aiomqtt.Client]:
        host, port = host_port(target, 1883)
        server = binding(target, "server")
        parts = urlsplit(target.url)
        username = target.username or unquote(parts.username or "") or None
        password = target.password if target.password is not None else parts.password
        options: dict[str, Any] = {}
        if isinstance(server.get("keepAlive"), int):
            options["keepalive"] = server["keepAlive"]
        client = aiomqtt.Client(
            host,
            port,
            username=username,
            password=password,
            identifier=str(server["clientId"]) if server.get("clientId") else None,
            clean_session=not _persistent(target),
            protocol=ProtocolVersion.V311,
            timeout=self._connect_timeout,
            **options,
        )
        try:
            async with client:
                yield client
        except MqttCodeError as exc:
            code = getattr(exc.rc, "value", exc.rc)
            if code in _AUTH_CODES:
                raise BrokerError(f"credentials refused: {exc}", kind="authentication") from exc
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc
        except (MqttError, OSError) as exc:
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc


class _MqttSubscription:
    def __init__(self, client: aiomqtt.Client, topic: str, *, persistent: bool) -> None:
        self._client = client
        self._topic = topic
        self._persistent = persistent

    async def receive(self, timeout: float) -> Received | None:
        try:
            message = await asyncio.wait_for(anext(self._client.messages), timeout)
        except TimeoutError:
            return None
        return Received(text(message.payload))

    async def stop(self, room: int | None) -> list[Received]:
        """Unsubscribe (a persistent session keeps its subscription for the next batch);
        keep what had arrived already."""
        if not self._persistent:
            await self._client.unsubscribe(self._topic)
        extra: list[Received] = []
        while len(self._client.messages) and (room is None or len(extra) < room):
            message = await anext(self._client.messages)
            extra.append(Received(text(message.payload)))
        return extra

    async def settle(self, taken: list[Received]) -> None:
        """The client acknowledged QoS 1/2 deliveries on receipt."""


def _qos(operation: dict[str, Any]) -> int:
    qos = operation.get("qos", 0)
    if qos not in (0, 1, 2):
        raise BrokerError(
            f"the mqtt binding's qos must be 0, 1 or 2, not {qos!r}", kind="configuration"
        )
    return int(qos)


def _persistent(target: BrokerTarget) -> bool:
    server = binding(target, "server")
    return server.get("cleanSession") is False and bool(server.get("clientId"))
