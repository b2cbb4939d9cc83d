"""The AsyncAPI activities: publish to and consume from a Redis pub/sub channel.

Each activity opens its own connection and closes it before returning: a subscription
lives exactly as long as one batch. Failures raise an ``ApplicationError`` whose first
detail is the RFC 7807 problem the task reports (see ``dsl.asyncapi_contracts``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import AuthenticationError, RedisError
from temporalio import activity
from temporalio.exceptions import ApplicationError

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
# How long to wait for the server to confirm an unsubscribe while draining.
_DRAIN_SECONDS = 2.0


class AsyncApiActivities:
    """Activities that carry ``call: asyncapi`` messages over Redis pub/sub."""

    def __init__(self, *, connect_timeout_seconds: float = 10.0) -> None:
        self._connect_timeout = connect_timeout_seconds

    @activity.defn(name=ASYNCAPI_PUBLISH_ACTIVITY)
    async def publish(self, request: PublishRequest) -> PublishResult:
        """``PUBLISH`` the message; return how many subscribers received it."""
        target = request.target
        async with heartbeating():
            client = self._connect(target)
            try:
                receivers = await client.publish(target.channel, request.data)
            except RedisError as exc:
                raise _failure(target, "publish to", exc) from exc
            finally:
                await client.aclose()
        return PublishResult(receivers=int(receivers))

    @activity.defn(name=ASYNCAPI_SUBSCRIBE_ACTIVITY)
    async def subscribe(self, request: SubscribeRequest) -> SubscribeResult:
        """``SUBSCRIBE`` and collect one batch of messages (see SubscribeRequest)."""
        target = request.target
        async with heartbeating():
            client = self._connect(target)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(target.channel)
                messages = await _collect(pubsub, request)
                await pubsub.unsubscribe(target.channel)
                messages.extend(await _drain(pubsub, request, len(messages)))
            except RedisError as exc:
                raise _failure(target, "subscribe to", exc) from exc
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()
        return SubscribeResult(messages=messages)

    def _connect(self, target: BrokerTarget) -> Redis:
        if target.protocol != "redis":
            raise _configuration(
                target, f"the AsyncAPI activities speak redis, not {target.protocol}"
            )
        options: dict[str, Any] = {
            "socket_connect_timeout": self._connect_timeout,
            "decode_responses": False,
        }
        if target.username is not None:
            options["username"] = target.username
        if target.password is not None:
            options["password"] = target.password
        try:
            return Redis.from_url(target.url, **options)
        except ValueError as exc:
            raise _configuration(target, f"bad Redis URL {target.url!r}: {exc}") from exc


async def _collect(pubsub: PubSub, request: SubscribeRequest) -> list[str]:
    """Read messages until a limit of ``request`` is reached."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(request.max_seconds, 0.0)
    messages: list[str] = []
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
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(left, wait))
        if message is not None and message.get("type") == "message":
            text = _text(message.get("data"))
            messages.append(text)
            size += len(text)
        elif message is None and request.return_early and messages:
            return messages


async def _drain(pubsub: PubSub, request: SubscribeRequest, taken: int) -> list[str]:
    """Messages delivered before the unsubscribe took effect: received, so not dropped,
    unless ``max_messages`` is already reached."""
    room = None if request.max_messages is None else request.max_messages - taken
    extra: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _DRAIN_SECONDS
    while (left := deadline - loop.time()) > 0:
        message = await pubsub.get_message(timeout=left)
        if message is None or message.get("type") == "unsubscribe":
            break
        if message.get("type") == "message" and (room is None or len(extra) < room):
            extra.append(_text(message.get("data")))
    return extra


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return str(data)


def _failure(target: BrokerTarget, what: str, exc: RedisError) -> ApplicationError:
    where = f"{target.task}: cannot {what} Redis channel {target.channel!r} at {_safe(target)}"
    if isinstance(exc, AuthenticationError):
        detail = f"{where}: {exc}"
        body = problem(ErrorType.AUTHENTICATION, detail=detail)
        return ApplicationError(detail, body, type=ASYNCAPI_CONFIGURATION_ERROR, non_retryable=True)
    detail = f"{where}: {type(exc).__name__}: {exc}"
    body = problem(ErrorType.COMMUNICATION, detail=detail, status=502)
    return ApplicationError(detail, body, type=ASYNCAPI_TRANSPORT_ERROR)


def _configuration(target: BrokerTarget, detail: str) -> ApplicationError:
    detail = f"{target.task}: {detail}"
    body = problem(ErrorType.CONFIGURATION, detail=detail)
    return ApplicationError(detail, body, type=ASYNCAPI_CONFIGURATION_ERROR, non_retryable=True)


def _safe(target: BrokerTarget) -> str:
    """The URL without credentials, for messages."""
    scheme, _, rest = target.url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else target.url
