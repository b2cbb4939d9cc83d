"""An in-memory TaskRuntime for unit tests of the interpreter (no Temporal, no network)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse, TaskEvent

Responder = Callable[[HttpRequest], HttpResponse | Exception]

FIXED_NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)

# Event-loop turns a sleeping runtime lets pass before firing the next timer: enough for
# every runnable coroutine to reach its next sleep (the fake's other calls never block).
SETTLE_TURNS = 50


class FakeRuntime:
    """Canned HTTP responses, recorded requests and task events, and a fixed clock."""

    def __init__(self, responder: Responder | None = None, *, now: datetime = FIXED_NOW) -> None:
        self.events: list[TaskEvent] = []
        self.requests: list[HttpRequest] = []
        # CloudEvents delivered to the run, consumed in order by next_event (listen tasks).
        self.inbox: list[dict[str, Any]] = []
        # False: next_event on an empty inbox fails the test instead of hanging it.
        self.wait_on_empty_inbox = False
        self._responder = responder
        self._now = now
        # Virtual time: sleep() records the seconds, and timers fire in deadline order with
        # the clock advanced to each deadline, without real waiting.
        self.sleeps: list[float] = []
        self.elapsed = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._sequence = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        # Continue-as-new: after this many iteration boundaries the run should be cut (0: never).
        self.iterations_per_run = 0
        self.boundaries = 0
        self.random_values: Sequence[float] = (0.5,)
        """What random() returns, in turn (cycling)."""
        self._randoms = 0

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        if self._responder is None:
            raise AssertionError(f"unexpected HTTP call: {request.method} {request.url}")
        result = self._responder(request)
        if isinstance(result, Exception):
            raise result
        return result

    async def report(self, event: TaskEvent) -> None:
        self.events.append(event)

    def now(self) -> datetime:
        return self._now + timedelta(seconds=self.elapsed)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        deadline = self.elapsed + max(seconds, 0.0)
        heapq.heappush(self._timers, (deadline, next(self._sequence), waiter))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._fire_timers())
        await waiter

    async def _fire_timers(self) -> None:
        while self._timers:
            for _ in range(SETTLE_TURNS):
                await asyncio.sleep(0)
            deadline, _, waiter = heapq.heappop(self._timers)
            if waiter.done():  # cancelled: a timeout that lost its race, say
                continue
            self.elapsed = max(self.elapsed, deadline)
            waiter.set_result(None)

    def should_continue_as_new(self, *, nested: bool = False) -> bool:
        self.boundaries += 1
        return self.iterations_per_run > 0 and self.boundaries >= self.iterations_per_run

    def random(self) -> float:
        value = self.random_values[self._randoms % len(self.random_values)]
        self._randoms += 1
        return value

    async def next_event(self, timeout_seconds: float | None = None) -> dict[str, Any] | None:
        if self.inbox:
            return self.inbox.pop(0)
        if timeout_seconds is None:
            if not self.wait_on_empty_inbox:
                raise AssertionError("a listen task would wait forever: the inbox is empty")
            await asyncio.get_running_loop().create_future()  # until cancelled (a timeout)
        return None

    def phases(self) -> list[tuple[str, str]]:
        """(task id, phase) of every reported event, in order."""
        return [(event.task_id, event.phase) for event in self.events]


def json_response(
    request: HttpRequest, content: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    """A JSON response to ``request``, as the HTTP activity would build it."""
    return HttpResponse(
        status_code=status,
        headers={"content-type": "application/json", **(headers or {})},
        content=content,
        content_type="application/json",
        request_method=request.method,
        request_uri=request.url,
        request_headers={k.lower(): v for k, v in request.headers.items()},
    )
