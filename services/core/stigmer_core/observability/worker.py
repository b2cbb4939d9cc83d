"""What a worker process (orchestrator, runner) sets up for observability, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from stigmer_core.observability.exposition import record_build_info
from stigmer_core.observability.readiness import WorkerReadiness
from stigmer_core.observability.runtime import SdkMetrics, sdk_metrics_runtime
from stigmer_core.observability.server import serving, worker_app
from stigmer_core.settings import ObservabilitySettings


class WorkerObservability:
    """The Temporal runtime to connect with, and the readiness the probe server reports.

    Made by :meth:`start`; with `STIGMER_OBSERVABILITY_PORT=0` there is no server and the
    SDK's default runtime (no metrics) is used.
    """

    def __init__(
        self, *, sdk: SdkMetrics | None, readiness: WorkerReadiness, port: int | None
    ) -> None:
        self._sdk = sdk
        self.readiness = readiness
        self.port = port
        """The port the probes and metrics are served on (None: off)."""

    @property
    def runtime(self) -> Runtime | None:
        """Pass to `Client.connect(runtime=...)`; None means the SDK's default runtime."""
        return self._sdk.runtime if self._sdk is not None else None

    @classmethod
    @asynccontextmanager
    async def start(
        cls, settings: ObservabilitySettings, *, service: str
    ) -> AsyncIterator[WorkerObservability]:
        """Serve metrics and probes for the duration of the block."""
        record_build_info(service)
        readiness = WorkerReadiness()
        if settings.stigmer_observability_port == 0:
            yield cls(sdk=None, readiness=readiness, port=None)
            return
        sdk = sdk_metrics_runtime()
        async with httpx.AsyncClient() as http:
            app = worker_app(readiness=readiness, sdk_metrics_url=sdk.url, http=http)
            async with serving(
                app,
                host=settings.stigmer_observability_host,
                port=settings.stigmer_observability_port,
            ) as port:
                yield cls(sdk=sdk, readiness=readiness, port=port)

    @asynccontextmanager
    async def watching(self, worker: Worker, client: Client) -> AsyncIterator[None]:
        """Ready while the block runs (and the worker polls); not ready once it is left,
        which is before the worker drains when used as `async with worker, watching(...)`."""
        self.readiness.watch(worker=worker, client=client)
        try:
            yield
        finally:
            self.readiness.stop()
