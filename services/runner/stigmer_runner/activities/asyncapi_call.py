"""The AsyncAPI activities: publish to and consume from a broker channel.

One transport per protocol (``activities.brokers``): Redis pub/sub, AMQP 0-9-1, MQTT and
Kafka. Each activity opens its own connection and closes it before returning: a
subscription lives exactly as long as one batch. Failures raise an ``ApplicationError``
whose first detail is the RFC 7807 problem the task reports (see ``dsl.asyncapi_contracts``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_runner.activities.brokers import (
    BrokerError,
    Outbound,
    Received,
    Subscription,
    Transport,
)
from stigmer_runner.activities.brokers.amqp_queues import AmqpTransport
from stigmer_runner.activities.brokers.base import safe_url
from stigmer_runner.activities.brokers.kafka_topics import KafkaTransport
from stigmer_runner.activities.brokers.mqtt_topics import MqttTransport
from stigmer_runner.activities.brokers.redis_pubsub import RedisTransport
from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_CONFIGURATION_ERROR,
    ASYNCAPI_PUBLISH_ACTIVITY,
    ASYNCAPI_SUBSCRIBE_ACTIVITY,
    ASYNCAPI_TRANSPORT_ERROR,
    BrokerTarget,
    PublishRequest,
    PublishResult,
    SubscribeRequest,
    SubscribeResult,
)
from stigmer_runner.dsl.errors import ErrorType, problem

# How long one read waits before the loop looks at its limits again.
_POLL_SECONDS = 1.0
# With ``return_early``: how long to wait for more of a burst once a message has arrived.
_LINGER_SECONDS = 0.05


def default_transports(*, connect_timeout_seconds: float = 10.0) -> dict[str, Transport]:
    """One transport per supported protocol."""
    timeout = connect_timeout_seconds
    return {
        "redis": RedisTransport(connect_timeout_seconds=timeout),
        "amqp": AmqpTransport(connect_timeout_seconds=timeout),
        "mqtt": MqttTransport(connect_timeout_seconds=timeout),
        "kafka": KafkaTransport(connect_timeout_seconds=timeout),
    }


class AsyncApiActivities:
    """Activities that carry ``call: asyncapi`` messages over the protocol's transport."""

    def __init__(
        self,
        *,
        transports: Mapping[str, Transport] | None = None,
        connect_timeout_seconds: float = 10.0,
    ) -> None:
        self._transports = dict(
            transports or default_transports(connect_timeout_seconds=connect_timeout_seconds)
        )

    @activity.defn(name=ASYNCAPI_PUBLISH_ACTIVITY)
    async def publish(self, request: PublishRequest) -> PublishResult:
        """Publish the message; return how many receivers the broker reports."""
        target = request.target
        transport = self._transport(target)
        message = Outbound(request.data, dict(request.headers), request.content_type)
        async with heartbeating():
            try:
                receivers = await transport.publish(target, message)
            except BrokerError as exc:
                raise _failure(target, transport, "publish to", exc) from exc
        return PublishResult(receivers=receivers)

    @activity.defn(name=ASYNCAPI_SUBSCRIBE_ACTIVITY)
    async def subscribe(self, request: SubscribeRequest) -> SubscribeResult:
        """Subscribe and collect one batch of messages (see SubscribeRequest)."""
        target = request.target
        transport = self._transport(target)
        async with heartbeating():
            try:
                async with transport.subscribe(target, limit=request.max_messages) as subscription:
                    taken = await _collect(subscription, request)
                    room = None if request.max_messages is None else request.max_messages
                    if room is not None:
                        room -= len(taken)
                    taken.extend(await subscription.stop(room))
                    await subscription.settle(taken)
            except BrokerError as exc:
                raise _failure(target, transport, "subscribe to", exc) from exc
        result = SubscribeResult(messages=[m.data for m in taken])
        if transport.headers:
            result.headers = [dict(m.headers or {}) for m in taken]
        return result

    def _transport(self, target: BrokerTarget) -> Transport:
        transport = self._transports.get(target.protocol)
        if transport is None:
            raise _configuration(
                target,
                f"the AsyncAPI activities speak {', '.join(sorted(self._transports))}, "
                f"not {target.protocol}",
            )
        return transport


async def _collect(subscription: Subscription, request: SubscribeRequest) -> list[Received]:
    """Read messages until a limit of ``request`` is reached."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(request.max_seconds, 0.0)
    messages: list[Received] = []
    size = 0
    while True:
        if request.max_messages is not None and len(messages) >= request.max_messages:
            return messages
        if size >= request.max_bytes:
            return messages
        left = deadline - loop.time()
        if left <= 0:
            return messages
        wait = _LINGER_SECONDS if request.return_early and messages else _POLL_SECONDS
        message = await subscription.receive(min(left, wait))
        if message is not None:
            messages.append(message)
            size += len(message.data)
        elif request.return_early and messages:
            return messages


def _failure(
    target: BrokerTarget, transport: Transport, what: str, exc: BrokerError
) -> ApplicationError:
    where = (
        f"{target.task}: cannot {what} {transport.noun} {target.channel!r} "
        f"at {safe_url(target.url)}"
    )
    detail = f"{where}: {exc.detail}"
    if exc.kind == "authentication":
        body = problem(ErrorType.AUTHENTICATION, detail=detail)
        return ApplicationError(detail, body, type=ASYNCAPI_CONFIGURATION_ERROR, non_retryable=True)
    if exc.kind == "configuration":
        body = problem(ErrorType.CONFIGURATION, detail=detail)
        return ApplicationError(detail, body, type=ASYNCAPI_CONFIGURATION_ERROR, non_retryable=True)
    body = problem(ErrorType.COMMUNICATION, detail=detail, status=502)
    return ApplicationError(detail, body, type=ASYNCAPI_TRANSPORT_ERROR)


def _configuration(target: BrokerTarget, detail: str) -> ApplicationError:
    detail = f"{target.task}: {detail}"
    body = problem(ErrorType.CONFIGURATION, detail=detail)
    return ApplicationError(detail, body, type=ASYNCAPI_CONFIGURATION_ERROR, non_retryable=True)
