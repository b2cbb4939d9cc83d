"""ASGI middleware timing every request by route template, method and status.

A plain ASGI middleware, not Starlette's BaseHTTPMiddleware, so event streams pass through
untouched; the time is taken when the response starts, so a long stream does not count as a
slow request.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stigmer_api.metrics import HTTP_REQUEST_DURATION

UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(scope: Scope) -> str:
    """The matched route's template; one label for every path no route matched (404s),
    so scanners cannot grow the metric."""
    route: Any = scope.get("route")
    if isinstance(route, BaseRoute):
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    return UNMATCHED_ROUTE


def method_label(method: str) -> str:
    return method if method in _METHODS else "OTHER"


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            HTTP_REQUEST_DURATION.labels(
                route=route_label(scope),
                method=method_label(str(scope.get("method", ""))),
                status=str(status),
            ).observe(time.perf_counter() - started)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception:
            record(500)  # the server answers 500 for an exception that escapes the app
            raise
