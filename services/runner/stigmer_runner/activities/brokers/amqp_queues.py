"""AMQP 0-9-1 (RabbitMQ) with aio-pika, shaped by the channel's ``amqp`` binding.

``is: routingKey`` (the default): the channel address is the routing key. Publish goes to
``exchange.name`` (the default exchange when unnamed); subscribe consumes from
``queue.name`` bound to that exchange with the address, or from a server-named exclusive
queue that lives for one batch. With the default exchange the address names the queue.
``is: queue``: the channel is the queue ``queue.name`` (else the address); publish goes
through the default exchange. A named exchange is declared when the binding gives its
``type`` (``durable`` defaults to true, ``autoDelete`` to false), else it must exist; a
named queue is declared with ``durable`` (default true), ``exclusive`` and ``autoDelete``
(default false). The broker keeps a named queue's messages between batches.

The operation binding's ``deliveryMode``, ``priority``, ``expiration`` (ms), ``mandatory``,
``userId``, ``cc``/``bcc`` and ``timestamp`` shape published messages. The vhost comes from
the binding (``queue.vhost``, ``exchange.vhost``) or the URL path. A subscription takes at
most the batch's limit (prefetch), acknowledges exactly the messages it returns, and the
broker redelivers the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)
from aio_pika.exceptions import (
    AMQPError,
    ChannelNotFoundEntity,
    ChannelPreconditionFailed,
    DeliveryError,
    ProbableAuthenticationError,
)

from stigmer_runner.activities.brokers.base import (
    BrokerError,
    Outbound,
    Received,
    binding,
    host_port,
    text,
)
from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget

_EXCHANGE_TYPES = {t.value: t for t in aio_pika.ExchangeType}
# Deliveries held unacknowledged at once when a batch has no message limit.
_PREFETCH = 100


class AmqpTransport:
    """Publishes to exchanges and consumes from queues of an AMQP 0-9-1 broker."""

    noun = "AMQP channel"
    headers = True

    def __init__(self, *, connect_timeout_seconds: float = 10.0) -> None:
        self._connect_timeout = connect_timeout_seconds

    async def publish(self, target: BrokerTarget, message: Outbound) -> int:
        layout = _Layout(target)
        operation = binding(target, "operation")
        async with self._channel(target, layout) as channel:
            exchange = await layout.exchange(channel)
            try:
                await exchange.publish(
                    _message(message, operation),
                    routing_key=layout.routing_key(),
                    mandatory=bool(operation.get("mandatory", False)),
                )
            except DeliveryError as exc:
                raise BrokerError(f"the broker returned the message unrouted: {exc}") from exc
        return 1

    @asynccontextmanager
    async def subscribe(
        self, target: BrokerTarget, *, limit: int | None
    ) -> AsyncIterator[_AmqpSubscription]:
        layout = _Layout(target)
        async with self._channel(target, layout) as channel:
            queue = await layout.queue(channel)
            subscription = _AmqpSubscription(queue)
            # Prefetch = the batch's limit: the broker never hands out more than it takes.
            await subscription.start(limit or _PREFETCH)
            yield subscription

    @asynccontextmanager
    async def _channel(
        self, target: BrokerTarget, layout: _Layout
    ) -> AsyncIterator[AbstractChannel]:
        host, port = host_port(target, 5672)
        parts = urlsplit(target.url)
        login = target.username or unquote(parts.username or "") or "guest"
        password = target.password
        if password is None:
            password = unquote(parts.password or "") or "guest"
        connection: AbstractConnection | None = None
        try:
            # Not connect_robust: one attempt, the activity's retry policy owns retrying.
            connection = await aio_pika.connect(
                host=host,
                port=port,
                login=login,
                password=password,
                virtualhost=layout.vhost,
                timeout=self._connect_timeout,
            )
            channel = await connection.channel(on_return_raises=True)
            yield channel
        except ProbableAuthenticationError as exc:
            raise BrokerError(f"credentials refused: {exc}", kind="authentication") from exc
        except ChannelPreconditionFailed as exc:
            raise BrokerError(
                f"the broker refused the binding's exchange or queue: {exc}", kind="configuration"
            ) from exc
        except ChannelNotFoundEntity as exc:
            raise BrokerError(f"not found on the broker: {exc}", kind="configuration") from exc
        except (TimeoutError, AMQPError, OSError) as exc:
            raise BrokerError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            if connection is not None:
                await connection.close()


class _Layout:
    """Exchange, queue and routing key as the channel's ``amqp`` binding describes them."""

    def __init__(self, target: BrokerTarget) -> None:
        host_port(target, 5672)  # a malformed URL is a configuration error, here first
        spec = binding(target, "channel")
        self.address = target.channel
        self.is_queue = spec.get("is", "routingKey") == "queue"
        if spec.get("is", "routingKey") not in ("routingKey", "queue"):
            raise BrokerError(
                f"the amqp channel binding's 'is' must be routingKey or queue, not {spec['is']!r}",
                kind="configuration",
            )
        self.exchange_spec = _mapping(spec.get("exchange"), "exchange")
        self.queue_spec = _mapping(spec.get("queue"), "queue")
        kind = self.exchange_spec.get("type")
        if kind is not None and kind != "default" and kind not in _EXCHANGE_TYPES:
            raise BrokerError(
                f"the amqp exchange type must be one of default, {', '.join(_EXCHANGE_TYPES)}; "
                f"got {kind!r}",
                kind="configuration",
            )
        name = self.exchange_spec.get("name")
        self.exchange_name = "" if self.is_queue or kind == "default" else str(name or "")
        vhost = self.queue_spec.get("vhost") or self.exchange_spec.get("vhost")
        if vhost is None:
            vhost = unquote(urlsplit(target.url).path[1:]) or "/"
        self.vhost = str(vhost)

    def routing_key(self) -> str:
        if self.is_queue:
            return self.queue_name() or self.address
        return self.address

    def queue_name(self) -> str | None:
        name = self.queue_spec.get("name")
        if name:
            return str(name)
        if self.is_queue or not self.exchange_name:
            return self.address
        return None

    async def exchange(self, channel: AbstractChannel) -> AbstractExchange:
        if not self.exchange_name:
            return channel.default_exchange
        kind = self.exchange_spec.get("type")
        if kind is None:
            return await channel.get_exchange(self.exchange_name, ensure=True)
        return await channel.declare_exchange(
            self.exchange_name,
            type=_EXCHANGE_TYPES[kind],
            durable=bool(self.exchange_spec.get("durable", True)),
            auto_delete=bool(self.exchange_spec.get("autoDelete", False)),
        )

    async def queue(self, channel: AbstractChannel) -> AbstractQueue:
        name = self.queue_name()
        if name is None:
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        else:
            queue = await channel.declare_queue(
                name,
                durable=bool(self.queue_spec.get("durable", True)),
                exclusive=bool(self.queue_spec.get("exclusive", False)),
                auto_delete=bool(self.queue_spec.get("autoDelete", False)),
            )
        if self.exchange_name:
            await queue.bind(await self.exchange(channel), routing_key=self.address)
        return queue


class _AmqpSubscription:
    def __init__(self, queue: AbstractQueue) -> None:
        self._queue = queue
        self._delivered: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._tag: str | None = None

    async def start(self, prefetch: int) -> None:
        await self._queue.channel.set_qos(prefetch_count=prefetch)
        self._tag = await self._queue.consume(self._delivered.put, no_ack=False)

    async def receive(self, timeout: float) -> Received | None:
        try:
            message = await asyncio.wait_for(self._delivered.get(), timeout)
        except TimeoutError:
            return None
        headers = {str(k): text(v) for k, v in (message.headers or {}).items()}
        return Received(text(message.body), headers, token=message)

    async def stop(self, room: int | None) -> list[Received]:
        """Cancel the consumer; what it still holds goes back to the queue unacknowledged."""
        if self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except AMQPError as exc:
                raise BrokerError(f"{type(exc).__name__}: {exc}") from exc
            self._tag = None
        while not self._delivered.empty():
            await self._delivered.get_nowait().reject(requeue=True)
        return []

    async def settle(self, taken: list[Received]) -> None:
        for message in taken:
            token: AbstractIncomingMessage = message.token
            await token.ack()


def _message(message: Outbound, operation: dict[str, Any]) -> aio_pika.Message:
    options: dict[str, Any] = {}
    if operation.get("deliveryMode") in (1, 2):
        options["delivery_mode"] = aio_pika.DeliveryMode(operation["deliveryMode"])
    if isinstance(operation.get("priority"), int):
        options["priority"] = operation["priority"]
    if isinstance(operation.get("expiration"), int):
        # AMQP expiration is milliseconds as text; aio-pika takes seconds.
        options["expiration"] = operation["expiration"] / 1000
    if isinstance(operation.get("userId"), str):
        options["user_id"] = operation["userId"]
    if operation.get("timestamp"):
        options["timestamp"] = time.time()
    headers: dict[str, Any] = dict(message.headers)
    for key in ("cc", "bcc"):  # RabbitMQ's sender-selected distribution headers
        if isinstance(operation.get(key), list):
            headers[key.upper()] = [str(v) for v in operation[key]]
    return aio_pika.Message(
        message.data.encode(),
        headers=headers or None,
        content_type=message.content_type,
        **options,
    )


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BrokerError(
            f"the amqp channel binding's {name} must be an object", kind="configuration"
        )
    return value
