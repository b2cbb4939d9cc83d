"""The Redis pub/sub bus, on redis-py's asyncio client.

Each subscription holds its own pub/sub connection, and entering it waits for Redis to
confirm the SUBSCRIBE, so a message published after ``__aenter__`` returns is delivered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from stigmer_core.errors import StigmerError, UnavailableError, ValidationFailedError


class RedisSubscription:
    """Messages of one channel, in the order Redis delivered them."""

    def __init__(self, *, pubsub: PubSub, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel
        self.closed = False

    async def get(self, timeout: float | None = None) -> str | None:
        """The next message, or None when ``timeout`` seconds pass without one.

        Once the subscription's context has exited there are no more messages: None.
        """
        if self.closed:
            return None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            with _translated(f"reading {self._channel}"):
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=remaining
                )
            if message is not None and message.get("type") == "message":
                return _text(message["data"])
            # None also comes back for a skipped control message: wait out the deadline.
            if deadline is not None and loop.time() >= deadline:
                return None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while not self.closed:
            message = await self.get()
            if message is not None:
                yield message


class RedisBus:
    """A Bus on Redis pub/sub."""

    def __init__(self, *, client: Redis, confirm_timeout_seconds: float = 5.0) -> None:
        self._client = client
        self._confirm_timeout = confirm_timeout_seconds

    @classmethod
    async def open(cls, url: str, *, timeout_seconds: float = 5.0) -> RedisBus:
        """Connect to ``url`` (``redis://host:port/db``) and check that Redis answers."""
        try:
            client = Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=timeout_seconds,
                # A few quick retries ride out a blip; a down Redis fails within a second.
                retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3),
            )
        except ValueError as exc:
            raise ValidationFailedError(f"invalid Redis URL: {exc}", field="url") from exc
        bus = cls(client=client, confirm_timeout_seconds=timeout_seconds)
        try:
            await bus.ping()
        except BaseException:
            await client.aclose()
            raise
        return bus

    async def publish(self, channel: str, message: str) -> None:
        """Publish to everyone subscribed to ``channel`` now. UnavailableError if down."""
        with _translated(f"publishing to {channel}"):
            await self._client.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[RedisSubscription]:
        """Subscribe; the subscription is active when ``__aenter__`` returns."""
        pubsub = self._client.pubsub()
        subscription: RedisSubscription | None = None
        try:
            with _translated(f"subscribing to {channel}"):
                await pubsub.subscribe(channel)
                await self._confirmed(pubsub, channel)
            subscription = RedisSubscription(pubsub=pubsub, channel=channel)
            yield subscription
        finally:
            if subscription is not None:
                subscription.closed = True
            await _release(pubsub, channel)

    async def _confirmed(self, pubsub: PubSub, channel: str) -> None:
        try:
            async with asyncio.timeout(self._confirm_timeout):
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if (
                        message is not None
                        and message.get("type") == "subscribe"
                        and _text(message["channel"]) == channel
                    ):
                        return
        except TimeoutError as exc:
            raise UnavailableError(f"Redis did not confirm the subscription to {channel}") from exc

    async def ping(self) -> None:
        """Raise UnavailableError if Redis cannot be reached."""
        with _translated("pinging"):
            await self._client.ping()

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self._client.aclose()


async def _release(pubsub: PubSub, channel: str) -> None:
    try:
        if pubsub.connection is not None:
            await pubsub.unsubscribe(channel)
    except (RedisError, OSError):
        pass  # The connection is gone, and with it the subscription.
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn redis-py's exceptions into domain errors, so none crosses the port."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise UnavailableError(f"Redis is unavailable while {action}: {exc}") from exc
    except RedisError as exc:
        raise StigmerError(f"Redis refused {action}: {exc}") from exc


def _text(data: object) -> str:
    return data.decode() if isinstance(data, bytes) else str(data)
