"""The in-process bus for local mode and unit tests: one asyncio.Queue per subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from stigmer_core.errors import UnavailableError


class MemorySubscription:
    """Messages of one channel, in publish order."""

    def __init__(self, *, queue: asyncio.Queue[str]) -> None:
        self._queue = queue
        self.closed = False

    async def get(self, timeout: float | None = None) -> str | None:
        """The next message, or None when ``timeout`` seconds pass without one.

        Once the subscription's context has exited there are no more messages: None.
        """
        if self.closed:
            return None
        if timeout is not None and timeout <= 0:
            return None if self._queue.empty() else self._queue.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        while not self.closed:
            yield await self._queue.get()


class MemoryBus:
    """A Bus inside one process; messages reach subscribers of the same MemoryBus only."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[str]]] = {}
        self._closed = False

    async def publish(self, channel: str, message: str) -> None:
        """Queue ``message`` for every current subscriber of ``channel``."""
        self._check_open()
        for queue in self._subscribers.get(channel, ()):
            # Unbounded queues: a slow reader must not block the publisher, as with Redis.
            queue.put_nowait(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[MemorySubscription]:
        """Subscribe; the subscription is active when ``__aenter__`` returns."""
        self._check_open()
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.setdefault(channel, set()).add(queue)
        subscription = MemorySubscription(queue=queue)
        try:
            yield subscription
        finally:
            subscription.closed = True
            queues = self._subscribers.get(channel)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[channel]

    async def ping(self) -> None:
        """Raise UnavailableError once the bus is closed."""
        self._check_open()

    async def close(self) -> None:
        """Refuse further publishes and subscriptions."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise UnavailableError("the in-process bus is closed")
