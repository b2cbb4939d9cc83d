"""One run's events, fanned out to every ``listen`` task waiting at the same time.

The runtime's inbox hands each event out once. Two listen tasks in concurrent ``fork``
branches must each see every event (one waits for an approval, the other for a
cancellation), so listens read through a hub: one of them pulls from the inbox at a time,
and each reader has its own cursor into the events pulled since it started reading. An event
is dropped once every reader has passed it. Only asyncio primitives are used, whose wake-up
order Temporal replays exactly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from stigmer_runner.dsl.runtime import TaskRuntime


class EventHub:
    """Readers ``open()``, read with ``next(reader)``, and ``close(reader)`` when done."""

    def __init__(self, runtime: TaskRuntime) -> None:
        self._runtime = runtime
        self._log: list[Mapping[str, Any]] = []
        self._offset = 0  # the absolute position of _log[0]
        self._cursors: dict[int, int] = {}
        self._ids = itertools.count()
        self._pull: asyncio.Future[None] | None = None

    def open(self) -> int:
        """A new reader; it sees the events pulled from now on."""
        reader = next(self._ids)
        self._cursors[reader] = self._offset + len(self._log)
        return reader

    def close(self, reader: int) -> None:
        self._cursors.pop(reader, None)
        self._trim()

    async def next(self, reader: int) -> Mapping[str, Any]:
        """The reader's next event, waiting for one to arrive if need be."""
        while True:
            cursor = self._cursors[reader]
            if cursor < self._offset + len(self._log):
                event = self._log[cursor - self._offset]
                self._cursors[reader] = cursor + 1
                self._trim()
                return event
            if self._pull is None:
                self._pull = asyncio.ensure_future(self._pull_one())
            # Shielded: a reader that is cancelled (its task timed out) must not cancel the
            # pull the other readers wait on.
            await asyncio.shield(self._pull)

    async def _pull_one(self) -> None:
        try:
            event = await self._runtime.next_event(None)
            if isinstance(event, Mapping) and self._cursors:
                self._log.append(event)
        finally:
            self._pull = None

    def _trim(self) -> None:
        low = min(self._cursors.values(), default=self._offset + len(self._log))
        drop = low - self._offset
        if drop > 0:
            del self._log[:drop]
            self._offset = low


# Keyed by the run's runtime: one hub per run, gone with the run. (The interpreter's modules
# are shared by every run a worker hosts, so a plain attribute of this module would not do.)
_HUBS: WeakKeyDictionary[Any, EventHub] = WeakKeyDictionary()


def hub_of(runtime: TaskRuntime) -> EventHub:
    """The event hub of the run ``runtime`` belongs to."""
    hub = _HUBS.get(runtime)
    if hub is None:
        hub = _HUBS[runtime] = EventHub(runtime)
    return hub
