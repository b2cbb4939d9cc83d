"""The Redis pub/sub bus, on redis-py's asyncio client.

All subscriptions share one pub/sub connection per bus; entering a subscription waits for
Redis to confirm the SUBSCRIBE, so a message published after ``__aenter__`` returns is
delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
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

_BROKEN = object()  # put in a subscriber's queue when the shared connection fails


class RedisSubscription:
    """Messages of one channel for one subscriber, in the order Redis delivered them."""

    def __init__(self, *, queue: asyncio.Queue[object], channel: str) -> None:
        self._queue = queue
        self._channel = channel
        self.closed = False

    async def get(self, timeout: float | None = None) -> str | None:
        """The next message, or None when ``timeout`` seconds pass without one.

        Once the subscription's context has exited there are no more messages: None.
        UnavailableError when the connection to Redis broke (this subscription is over;
        subscribe again once Redis is back).
        """
        if self.closed:
            return None
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if item is _BROKEN:
            self._queue.put_nowait(_BROKEN)  # every later get() fails the same way
            raise UnavailableError(f"lost the Redis subscription to {self._channel}")
        return str(item)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while not self.closed:
            message = await self.get()
            if message is not None:
                yield message


class RedisBus:
    """A Bus on Redis pub/sub.

    All subscriptions of one bus share ONE pub/sub connection: a reader task fans messages
    out to per-subscriber queues. A connection per subscriber would exhaust the client's
    pool (and Redis's connections) with a few hundred live SSE watchers.
    """

    def __init__(self, *, client: Redis, confirm_timeout_seconds: float = 5.0) -> None:
        self._client = client
        self._confirm_timeout = confirm_timeout_seconds
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: dict[str, set[asyncio.Queue[object]]] = {}
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()

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
        queue: asyncio.Queue[object] = asyncio.Queue()
        subscription = RedisSubscription(queue=queue, channel=channel)
        async with self._lock:
            listeners = self._listeners.setdefault(channel, set())
            listeners.add(queue)
            if channel not in self._confirmed:
                self._confirmed[channel] = asyncio.get_running_loop().create_future()
                try:
                    with _translated(f"subscribing to {channel}"):
                        pubsub = self._ensure_pubsub()
                        await pubsub.subscribe(channel)
                        self._ensure_reader()
                except BaseException:
                    self._forget(channel, queue)
                    raise
            confirmed = self._confirmed[channel]
        try:
            try:
                await asyncio.wait_for(asyncio.shield(confirmed), self._confirm_timeout)
            except TimeoutError as exc:
                raise UnavailableError(
                    f"Redis did not confirm the subscription to {channel}"
                ) from exc
            yield subscription
        finally:
            subscription.closed = True
            async with self._lock:
                if self._forget(channel, queue) and self._pubsub is not None:
                    # A gone connection took the subscription with it.
                    with contextlib.suppress(RedisError, OSError):
                        await self._pubsub.unsubscribe(channel)

    def _forget(self, channel: str, queue: asyncio.Queue[object]) -> bool:
        """Drop one listener; True when it was the channel's last."""
        listeners = self._listeners.get(channel)
        if listeners is None:
            return False
        listeners.discard(queue)
        if listeners:
            return False
        del self._listeners[channel]
        future = self._confirmed.pop(channel, None)
        if future is not None and not future.done():
            future.cancel()
        return True

    def _ensure_pubsub(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._client.pubsub()
        return self._pubsub

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def _read(self) -> None:
        """Fan messages out to subscribers; on a broken connection, fail them all."""
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            try:
                message = await pubsub.get_message(timeout=1.0)
            except (RedisError, OSError, RuntimeError):
                await self._break()
                return
            if message is None:
                continue
            kind = message.get("type")
            channel = _text(message.get("channel"))
            if kind == "subscribe":
                future = self._confirmed.get(channel)
                if future is not None and not future.done():
                    future.set_result(None)
            elif kind == "message":
                data = _text(message["data"])
                for queue in self._listeners.get(channel, ()):
                    queue.put_nowait(data)

    async def _break(self) -> None:
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            for listeners in self._listeners.values():
                for queue in listeners:
                    queue.put_nowait(_BROKEN)
            for future in self._confirmed.values():
                if not future.done():
                    future.set_exception(UnavailableError("Redis went away"))
            self._listeners.clear()
            self._confirmed.clear()
        if pubsub is not None:
            await _close(pubsub)

    async def ping(self) -> None:
        """Raise UnavailableError if Redis cannot be reached."""
        with _translated("pinging"):
            await self._client.ping()

    async def close(self) -> None:
        """Stop the reader, close the shared subscription and the client's pool."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await _close(self._pubsub)
            self._pubsub = None
        await self._client.aclose()


async def _close(pubsub: PubSub) -> None:
    with contextlib.suppress(RedisError, OSError):
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
