"""A bus that counts the failures of the bus it wraps (`stigmer_bus_errors_total`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from stigmer_api.bus.base import Bus, Subscription
from stigmer_api.metrics import BUS_ERRORS


class _CountedSubscription:
    def __init__(self, subscription: Subscription) -> None:
        self._subscription = subscription

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        try:
            async for message in self._subscription:
                yield message
        except Exception:
            BUS_ERRORS.labels(operation="receive").inc()
            raise

    async def get(self, timeout: float | None = None) -> str | None:
        try:
            return await self._subscription.get(timeout)
        except Exception:
            BUS_ERRORS.labels(operation="receive").inc()
            raise


class InstrumentedBus:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._bus.publish(channel, message)
        except Exception:
            BUS_ERRORS.labels(operation="publish").inc()
            raise

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        return self._subscribe(channel)

    @asynccontextmanager
    async def _subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscribed = False
        try:
            async with self._bus.subscribe(channel) as subscription:
                subscribed = True
                yield _CountedSubscription(subscription)
        except Exception:
            if not subscribed:  # errors of the caller's block are not the bus's
                BUS_ERRORS.labels(operation="subscribe").inc()
            raise

    async def ping(self) -> None:
        try:
            await self._bus.ping()
        except Exception:
            BUS_ERRORS.labels(operation="ping").inc()
            raise

    async def close(self) -> None:
        await self._bus.close()
