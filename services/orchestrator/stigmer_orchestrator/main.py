"""``stigmer-orchestrator``: the Temporal worker on the stigmer queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from opentelemetry.sdk.trace import TracerProvider
from temporalio.worker import Worker

from stigmer_core.api_client import StigmerClient
from stigmer_core.logs import configure_logging
from stigmer_core.observability import WorkerObservability
from stigmer_core.process import run_until_signal
from stigmer_core.temporal_connect import connect_with_retry
from stigmer_core.temporal_interceptors import temporal_interceptors
from stigmer_core.tracing import TRACER_NAME, TracingSettings, shut_down_after, tracer_provider
from stigmer_orchestrator.activities import ExecutionWatcher, FailureRecorder, ScheduledStarter
from stigmer_orchestrator.settings import OrchestratorSettings
from stigmer_orchestrator.workflows import AfterLoop, InvokeWorkflowExecution, ScheduledRun

log = logging.getLogger(__name__)


async def run(
    settings: OrchestratorSettings,
    *,
    started: asyncio.Event | None = None,
    tracing: TracerProvider | None = None,
) -> None:
    """Poll the stigmer queue until cancelled, then drain within the grace period.

    Metrics and probes are served from the start (liveness while Temporal is awaited) until
    the worker has drained (readiness fails during the drain). With ``tracing``, workflows
    and activities become spans of the execution's trace.
    """
    async with WorkerObservability.start(settings, service="orchestrator") as observability:
        await _run(settings, observability, started, tracing)


async def _run(
    settings: OrchestratorSettings,
    observability: WorkerObservability,
    started: asyncio.Event | None,
    tracing: TracerProvider | None,
) -> None:
    client = await connect_with_retry(
        settings,
        runtime=observability.runtime,
        interceptors=temporal_interceptors(tracing.get_tracer(TRACER_NAME) if tracing else None),
    )
    token = settings.stigmer_runner_token or settings.stigmer_api_token
    async with StigmerClient.connect(
        settings.stigmer_api_url,
        token=token.get_secret_value() if token else None,
        timeout=settings.stigmer_api_timeout_seconds,
    ) as api:
        worker = Worker(
            client,
            task_queue=settings.temporal_workflow_execution_stigmer_task_queue,
            workflows=[InvokeWorkflowExecution, ScheduledRun, AfterLoop],
            activities=[
                FailureRecorder(api=api).record,
                ScheduledStarter(api=api).start,
                ExecutionWatcher(api=api).ended,
            ],
            max_concurrent_workflow_tasks=settings.stigmer_orchestrator_max_concurrent_workflow_tasks,
            graceful_shutdown_timeout=timedelta(seconds=settings.stigmer_shutdown_grace_seconds),
        )
        async with worker, observability.watching(worker, client):
            log.info(
                "orchestrator polling %r on %s",
                settings.temporal_workflow_execution_stigmer_task_queue,
                settings.temporal_host_port,
            )
            if started is not None:
                started.set()
            await asyncio.Event().wait()


def main() -> None:
    settings = OrchestratorSettings()
    configure_logging(settings.stigmer_log_level, settings.stigmer_log_format)
    tracing = tracer_provider(TracingSettings(), service="stigmer-orchestrator")
    run_until_signal(shut_down_after(run(settings, tracing=tracing), tracing))
