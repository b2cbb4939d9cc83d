"""``stigmer-api``: serve the HTTP API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from opentelemetry.sdk.trace import TracerProvider

from stigmer_api.app import create_app
from stigmer_api.auth import Authenticator
from stigmer_api.dispatch import temporal_connector
from stigmer_api.settings import ApiSettings
from stigmer_core.logs import configure_logging
from stigmer_core.process import run_until_signal
from stigmer_core.temporal_interceptors import temporal_interceptors
from stigmer_core.tracing import TRACER_NAME, TracingSettings, shut_down_after, tracer_provider

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process owner cancels us instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    settings: ApiSettings,
    *,
    started: asyncio.Event | None = None,
    tracing: TracerProvider | None = None,
) -> None:
    """Serve until cancelled; then stop accepting connections and finish open requests.

    Start-up order is the lifespan's: store, bus, Temporal client, then the listener.
    With ``tracing``, requests and the Temporal starts they make are spans.
    """
    tracer = tracing.get_tracer(TRACER_NAME) if tracing else None
    # Checked before the server starts, so missing tokens stop us with one clear message
    # rather than a failed lifespan's traceback.
    Authenticator(settings=settings)
    # Built before the server starts, so an unusable payload key stops us with its message.
    app = create_app(
        settings,
        connect_temporal=temporal_connector(settings, interceptors=temporal_interceptors(tracer)),
        tracing=tracing,
    )
    config = uvicorn.Config(
        app,
        host=settings.stigmer_api_host,
        port=settings.stigmer_api_port,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # re-raise the start-up error
                raise RuntimeError("the API server stopped during start-up")
            await asyncio.sleep(0.05)
        if started is not None:
            started.set()
        await asyncio.shield(task)
    except asyncio.CancelledError:
        services = getattr(app.state, "services", None)
        if services is not None:
            services.draining.set()  # end event streams first, or they hold shutdown up
        server.should_exit = True
        await task
        raise


def main() -> None:
    settings = ApiSettings()
    configure_logging(settings.stigmer_log_level, settings.stigmer_log_format)
    tracing = tracer_provider(TracingSettings(), service="stigmer-api")
    run_until_signal(shut_down_after(serve(settings, tracing=tracing), tracing))
