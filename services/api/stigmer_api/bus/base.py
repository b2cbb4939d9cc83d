"""The bus port: fire-and-forget publish, and subscriptions confirmed before they return.

Messages are strings (JSON of a whole execution envelope). The bus is not a log: a
subscriber sees only what is published after it subscribed, which is why the SSE stream
subscribes first and reads the snapshot from the store second.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol


def execution_channel(execution_id: str) -> str:
    return f"stigmer:execution:{execution_id}"


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[str]: ...

    async def get(self, timeout: float | None = None) -> str | None:
        """The next message, or None when ``timeout`` seconds pass without one."""


class Bus(Protocol):
    async def publish(self, channel: str, message: str) -> None:
        """Publish to everyone subscribed to ``channel`` now. UnavailableError if down."""

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """Subscribe; the subscription is active when ``__aenter__`` returns."""

    async def ping(self) -> None:
        """Raise UnavailableError if the bus cannot be reached."""

    async def close(self) -> None:
        """Release connections."""
