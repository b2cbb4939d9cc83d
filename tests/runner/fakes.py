"""An in-memory TaskRuntime for unit tests of the interpreter (no Temporal, no network)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse, TaskEvent

Responder = Callable[[HttpRequest], HttpResponse | Exception]

FIXED_NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeRuntime:
    """Canned HTTP responses, recorded requests and task events, and a fixed clock."""

    def __init__(self, responder: Responder | None = None, *, now: datetime = FIXED_NOW) -> None:
        self.events: list[TaskEvent] = []
        self.requests: list[HttpRequest] = []
        self._responder = responder
        self._now = now

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
        return self._now

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
