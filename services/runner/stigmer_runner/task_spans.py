"""One span per DSL task, made activity-side from the task events a report carries.

Workflow code cannot hold a span open (a replay would make it again, or never end it), so
the report activity makes each task's span when the task has ended, with the start and
end times the workflow recorded, as a child of the DSL workflow's trace context (which the
workflow passes along with the report). Replays do not run local activities again, so
every task has one span.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Task phases that end a task (stigmer_core.model.TaskPhase values).
_ENDED = {
    "COMPLETED": "completed",
    "FAILED": "failed",
    "SKIPPED": "skipped",
    "CANCELLED": "cancelled",
}
_propagator = TraceContextTextMapPropagator()


class TaskSpans:
    """Records the spans of the tasks that ended in one report."""

    def __init__(self, *, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def record(
        self,
        execution_id: str,
        update: Mapping[str, Any],
        trace_context: Mapping[str, str] | None,
    ) -> int:
        """Make a span for each ended task in ``update``; return how many were made.

        Nothing is made without ``trace_context``: a run started without tracing (or
        before it was turned on) has no trace to add tasks to.
        """
        if not trace_context:
            return 0
        parent = _propagator.extract(dict(trace_context))
        if not trace.get_current_span(parent).get_span_context().is_valid:
            return 0
        made = 0
        for task in update.get("tasks", []):
            outcome = _ENDED.get(str(task.get("phase")))
            ended = _nanos(task.get("completed_at"))
            if outcome is None or ended is None:
                continue
            started = _nanos(task.get("started_at")) or ended
            self._span(execution_id, task, outcome, parent, min(started, ended), ended)
            made += 1
        return made

    def _span(
        self,
        execution_id: str,
        task: Mapping[str, Any],
        outcome: str,
        parent: Any,
        start: int,
        end: int,
    ) -> None:
        attributes: dict[str, str | int] = {
            "stigmer.execution.id": execution_id,
            "stigmer.task.pointer": str(task.get("id")),
            "stigmer.task.name": str(task.get("name")),
            "stigmer.task.type": str(task.get("type")),
            "stigmer.task.outcome": outcome,
        }
        if task.get("iteration") is not None:
            attributes["stigmer.task.iteration"] = int(task["iteration"])
        span = self._tracer.start_span(
            f"Task:{task.get('type')}",
            context=parent,
            kind=trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=start,
        )
        if outcome == "failed":
            error = task.get("error") or {}
            span.set_status(trace.StatusCode.ERROR, str(error.get("title") or "task failed"))
        span.end(end_time=end)


def _nanos(value: Any) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 time, or None."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return int(at.timestamp() * 1_000_000_000)
