"""``stigmer-runner``: the Temporal worker on the runner queue."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
from opentelemetry.sdk.trace import TracerProvider
from temporalio.worker import Worker

from stigmer_core.api_client import StigmerClient
from stigmer_core.dsl_document import task_validator
from stigmer_core.logs import configure_logging
from stigmer_core.observability import WorkerObservability
from stigmer_core.process import run_until_signal
from stigmer_core.temporal_connect import connect_with_retry
from stigmer_core.temporal_interceptors import temporal_interceptors
from stigmer_core.tracing import TRACER_NAME, TracingSettings, shut_down_after, tracer_provider
from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.activities.client_certificates import open_client_certificates
from stigmer_runner.activities.containers import ContainerActivities, ContainerLimits
from stigmer_runner.activities.events import EventActivities
from stigmer_runner.activities.grpc_call import GrpcCallActivities
from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.activities.processes import ProcessActivities, ProcessLimits
from stigmer_runner.activities.secret_loading import SecretLoading
from stigmer_runner.activities.workflow_lookup import WorkflowLookup
from stigmer_runner.contracts import RunOptions
from stigmer_runner.dsl_workflow import DslWorkflow
from stigmer_runner.event_api import EventApi
from stigmer_runner.execute import ExecuteWorkflow
from stigmer_runner.reporting import Reporter
from stigmer_runner.settings import RunnerSettings
from stigmer_runner.task_spans import TaskSpans

log = logging.getLogger(__name__)


def run_options(settings: RunnerSettings) -> RunOptions:
    return RunOptions(
        task_timeout_seconds=settings.stigmer_runner_task_timeout_seconds,
        task_heartbeat_seconds=settings.stigmer_runner_task_heartbeat_seconds,
        http_timeout_seconds=settings.stigmer_runner_http_timeout_seconds,
        iterations_per_run=settings.stigmer_runner_iterations_per_run,
        default_catalog_url=settings.stigmer_runner_default_catalog_url,
    )


def process_limits(settings: RunnerSettings) -> ProcessLimits:
    return ProcessLimits(
        allow_shell=settings.stigmer_runner_allow_shell,
        allow_script=settings.stigmer_runner_allow_script,
        timeout_seconds=settings.stigmer_runner_process_timeout_seconds,
        output_limit_bytes=settings.stigmer_runner_process_output_limit_bytes,
    )


def container_limits(settings: RunnerSettings) -> ContainerLimits:
    return ContainerLimits(
        runtime=settings.stigmer_runner_container_runtime,
        network=settings.stigmer_runner_container_network,
        volume_roots=tuple(settings.stigmer_runner_container_volume_roots),
        timeout_seconds=settings.stigmer_runner_process_timeout_seconds,
        output_limit_bytes=settings.stigmer_runner_process_output_limit_bytes,
    )


async def run(
    settings: RunnerSettings,
    *,
    started: asyncio.Event | None = None,
    tracing: TracerProvider | None = None,
) -> None:
    """Poll the runner queue until cancelled, then let in-flight activities finish
    within the grace period and close clients in reverse order.

    Metrics and probes are served from the start (liveness while Temporal is awaited) until
    the worker has drained (readiness fails during the drain). With ``tracing``, activities,
    the DSL workflow and each DSL task become spans of the execution's trace, and tasks' HTTP
    calls carry its context.
    """
    async with WorkerObservability.start(settings, service="runner") as observability:
        await _run(settings, observability, started, tracing)


async def _run(
    settings: RunnerSettings,
    observability: WorkerObservability,
    started: asyncio.Event | None,
    tracing: TracerProvider | None,
) -> None:
    # Cataloged functions are checked against the DSL schema inside the DSL workflow: read
    # the packaged schema now, not from workflow code.
    task_validator()
    tracer = tracing.get_tracer(TRACER_NAME) if tracing else None
    client = await connect_with_retry(
        settings, runtime=observability.runtime, interceptors=temporal_interceptors(tracer)
    )
    token = settings.stigmer_runner_token or settings.stigmer_api_token
    async with (
        StigmerClient.connect(
            settings.stigmer_api_url,
            token=token.get_secret_value() if token else None,
            timeout=settings.stigmer_api_timeout_seconds,
        ) as api,
        httpx.AsyncClient(timeout=settings.stigmer_runner_http_timeout_seconds) as http,
        open_client_certificates(
            http,
            settings.stigmer_runner_client_certificates,
            timeout=settings.stigmer_runner_http_timeout_seconds,
        ) as certificates,
    ):
        execute = ExecuteWorkflow(api=api, temporal=client, options=run_options(settings))
        reporter = Reporter(
            api=api, temporal=client, spans=TaskSpans(tracer=tracer) if tracer else None
        )
        http_calls = HttpCallActivities(http=http, certificates=certificates)
        asyncapi_calls = AsyncApiActivities()
        grpc_calls = GrpcCallActivities(http=http)
        processes = ProcessActivities(limits=process_limits(settings))
        containers = ContainerActivities(limits=container_limits(settings))
        lookup = WorkflowLookup(api=api)
        secret_loading = SecretLoading(settings=settings)
        events = EventActivities(events=EventApi(api=api))
        worker = Worker(
            client,
            task_queue=settings.temporal_workflow_execution_runner_task_queue,
            workflows=[DslWorkflow],
            activities=[
                execute.execute,
                reporter.report,
                reporter.complete,
                http_calls.call,
                asyncapi_calls.publish,
                asyncapi_calls.subscribe,
                grpc_calls.call,
                processes.run,
                containers.run,
                lookup.resolve,
                secret_loading.load,
                events.emit,
                events.subscribe,
                events.unsubscribe,
            ],
            max_concurrent_activities=settings.stigmer_runner_max_concurrent_activities,
            max_concurrent_workflow_tasks=settings.stigmer_runner_max_concurrent_workflow_tasks,
            graceful_shutdown_timeout=timedelta(seconds=settings.stigmer_shutdown_grace_seconds),
        )
        try:
            async with worker, observability.watching(worker, client):
                log.info(
                    "runner polling %r on %s",
                    settings.temporal_workflow_execution_runner_task_queue,
                    settings.temporal_host_port,
                )
                if started is not None:
                    started.set()
                await asyncio.Event().wait()
        finally:
            # What still runs in the background (await: false) must not outlive the runner.
            await containers.aclose()
            await processes.aclose()


def main() -> None:
    settings = RunnerSettings()
    configure_logging(settings.stigmer_log_level, settings.stigmer_log_format)
    tracing = tracer_provider(TracingSettings(), service="stigmer-runner")
    run_until_signal(shut_down_after(run(settings, tracing=tracing), tracing))
