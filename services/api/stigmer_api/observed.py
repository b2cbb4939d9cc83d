"""Request spans and log context for the HTTP API.

- With tracing on, every request is a server span (OpenTelemetry's FastAPI
  instrumentation), continuing the caller's trace when it sends a ``traceparent``; the
  Temporal client's tracing interceptor then carries the trace into the workflows.
- Always, every line logged while a request about one execution or workflow is handled
  carries its id (and, within a span, the trace and span ids: see ``stigmer_core.logs``).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from starlette.types import ASGIApp, Receive, Scope, Send

from stigmer_core.logs import bind

# Probes and scrapes would be most of the spans and tell nothing.
_UNTRACED = "/healthz,/readyz,/metrics"
_IDS_IN_PATH = re.compile(r"^/v1/(?P<kind>executions|workflows|instances)/(?P<id>[A-Za-z0-9-]+)")
_FIELD_OF_KIND = {
    "executions": "execution_id",
    "workflows": "workflow_id",
    "instances": "instance_id",
}


def instrument(app: FastAPI, tracing: TracerProvider | None) -> None:
    """Add request spans (when ``tracing``) and the log context to ``app``."""
    app.add_middleware(LogContextMiddleware)
    if tracing is None:
        return
    # Imported here: the instrumentation is only loaded when tracing is on.
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracing,
        excluded_urls=_UNTRACED,
        # Per-message spans of streaming responses (SSE) would flood the trace.
        exclude_spans=["receive", "send"],
    )


class LogContextMiddleware:
    """Binds the id a request's path names (execution, workflow, instance) to its log lines.

    A route that learns an id later (create) adds it with ``stigmer_core.logs.bind_here``;
    the binding ends with the request either way.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        values: dict[str, str] = {}
        found = _IDS_IN_PATH.match(scope.get("path", ""))
        if found is not None:
            values[_FIELD_OF_KIND[found["kind"]]] = found["id"]
        with bind(**values):
            await self.app(scope, receive, send)
