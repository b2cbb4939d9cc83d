"""Redis pub/sub: publish = ``PUBLISH``; subscribe = ``SUBSCRIBE`` for one batch.

Pub/sub delivers only to connected subscribers and has no acknowledgements: a message
published while no batch is subscribed is not seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import AuthenticationError, RedisError

from stigmer_runner.activities.brokers.base import BrokerError, Outbound, Received, safe_url, text
from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget

# How long to wait for the server to confirm an unsubscribe while draining.
_DRAIN_SECONDS = 2.0


class RedisTransport:
    """Publishes to and subscribes on Redis channels."""

    noun = "Redis channel"
    headers = False

    def __init__(self, *, connect_timeout_seconds: float = 10.0) -> None:
        self._connect_timeout = connect_timeout_seconds

    async def publish(self, target: BrokerTarget, message: Outbound) -> int:
        client = self._connect(target)
        try:
            return int(await client.publish(target.channel, message.data))
        except RedisError as exc:
            raise _error(exc) from exc
        finally:
            await client.aclose()

    @asynccontextmanager
    async def subscribe(
        self, target: BrokerTarget, *, limit: int | None
    ) -> AsyncIterator[_RedisSubscription]:
        client = self._connect(target)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(target.channel)
            yield _RedisSubscription(pubsub, target.channel)
        except RedisError as exc:
            raise _error(exc) from exc
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    def _connect(self, target: BrokerTarget) -> Redis:
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
            raise BrokerError(
                f"bad Redis URL {safe_url(target.url)!r}: {exc}", kind="configuration"
            ) from exc


class _RedisSubscription:
    def __init__(self, pubsub: PubSub, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel

    async def receive(self, timeout: float) -> Received | None:
        try:
            message = await self._pubsub.get_message(
                ignore_subscribe_messages=True, timeout=timeout
            )
        except RedisError as exc:
            raise _error(exc) from exc
        if message is not None and message.get("type") == "message":
            return Received(text(message.get("data")))
        return None

    async def stop(self, room: int | None) -> list[Received]:
        """Unsubscribe, keeping what arrived before the unsubscribe took effect."""
        try:
            await self._pubsub.unsubscribe(self._channel)
            extra: list[Received] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _DRAIN_SECONDS
            while (left := deadline - loop.time()) > 0:
                message = await self._pubsub.get_message(timeout=left)
                if message is None or message.get("type") == "unsubscribe":
                    break
                if message.get("type") == "message" and (room is None or len(extra) < room):
                    extra.append(Received(text(message.get("data"))))
            return extra
        except RedisError as exc:
            raise _error(exc) from exc

    async def settle(self, taken: list[Received]) -> None:
        """Pub/sub has nothing to acknowledge."""


def _error(exc: RedisError) -> BrokerError:
    if isinstance(exc, AuthenticationError):
        return BrokerError(str(exc), kind="authentication")
    return BrokerError(f"{type(exc).__name__}: {exc}")
