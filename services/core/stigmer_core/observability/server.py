"""The worker's HTTP server: `/metrics`, `/healthz` (alive) and `/readyz` (polling).

It starts before the worker connects to Temporal, so liveness answers while a worker waits
for Temporal, and stops after the worker has drained, so readiness reports the drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stigmer_core.errors import UnavailableError
from stigmer_core.observability.exposition import CONTENT_TYPE, merged, stigmer_metrics
from stigmer_core.observability.readiness import WorkerReadiness

log = logging.getLogger(__name__)

_SDK_SCRAPE_TIMEOUT_SECONDS = 5.0


def worker_app(
    *, readiness: WorkerReadiness, sdk_metrics_url: str | None, http: httpx.AsyncClient
) -> Starlette:
    """The probes and the merged metrics, as a small ASGI app."""

    async def metrics(_: Request) -> Response:
        sdk: bytes | None = None
        error: str | None = None
        if sdk_metrics_url is not None:
            try:
                answer = await http.get(sdk_metrics_url, timeout=_SDK_SCRAPE_TIMEOUT_SECONDS)
                answer.raise_for_status()
                sdk = answer.content
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("could not read the Temporal SDK's metrics: %s", error)
        return Response(merged(stigmer_metrics(), sdk, sdk_error=error), media_type=CONTENT_TYPE)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        answer = await readiness.check()
        return JSONResponse(answer.body(), status_code=200 if answer.ready else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process owner cancels us instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening socket; a clear error naming the setting when the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UnavailableError(
            f"cannot serve metrics and probes on {host}:{port}: {exc.strerror or exc}",
            field="STIGMER_OBSERVABILITY_PORT",
        ) from exc
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serving(app: Starlette, *, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``app`` on ``host:port`` inside the block; yields the bound port."""
    sock = listening_socket(host, port)
    bound: int = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]), name="observability-server")
    try:
        while not server.started:
            if task.done():
                await task
                raise UnavailableError(f"the metrics server on {host}:{bound} did not start")
            await asyncio.sleep(0.02)
        log.info("metrics and probes on http://%s:%d", host, bound)
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
        sock.close()
