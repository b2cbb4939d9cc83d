"""Interceptors on every Stigmer Temporal client (and so on its workers).

- ``TracingInterceptor`` (Temporal's OpenTelemetry contrib), when tracing is on: starting a
  workflow, running a workflow and each activity become spans, and the trace context
  travels in Temporal headers from the API through the orchestrator to the runner and the
  DSL workflow.
- ``LogContextInterceptor``, always: every line logged while an activity runs carries the
  execution id and the Temporal workflow id and activity type, whichever logger wrote it.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from temporalio import activity, client, worker

from stigmer_core.logs import bind, execution_of


class LogContextInterceptor(worker.Interceptor):
    """Binds the activity's execution, Temporal workflow and type to its log lines."""

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _BoundActivity(next)


class _BoundActivity(worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        info = activity.info()
        values: dict[str, Any] = {"activity": info.activity_type}
        if info.workflow_id:
            values["temporal_workflow_id"] = info.workflow_id
            execution_id = execution_of(info.workflow_id)
            if execution_id is not None:
                values["execution_id"] = execution_id
        with bind(**values):
            return await self.next.execute_activity(input)


def temporal_interceptors(tracer: trace.Tracer | None) -> list[client.Interceptor]:
    """The interceptors for ``Client.connect``: tracing first (outermost), so the log
    interceptor runs inside the activity's span."""
    found: list[client.Interceptor] = []
    if tracer is not None:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        found.append(TracingInterceptor(tracer))
    found.append(_ClientAndWorker())
    return found


class _ClientAndWorker(client.Interceptor, LogContextInterceptor):
    """LogContextInterceptor in the client's list: clients pass on to their workers the
    interceptors that are worker interceptors too."""
