"""Task spans made activity-side from a report: times from the events, parent from the DSL
workflow's trace context, one span per ended task."""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stigmer_runner.task_spans import TaskSpans

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
CONTEXT = {"traceparent": f"00-{TRACE_ID}-{PARENT}-01"}


def spans_of(
    update: dict[str, object], context: dict[str, str] | None = CONTEXT
) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    TaskSpans(tracer=provider.get_tracer("tests")).record("wex-1", update, context)
    return list(exporter.get_finished_spans())


def test_ended_tasks_become_child_spans_with_their_times() -> None:
    update = {
        "tasks": [
            {
                "id": "/do/0/a",
                "name": "a",
                "type": "set",
                "phase": "RUNNING",
                "started_at": "2025-01-01T00:00:00+00:00",
            },
            {
                "id": "/do/1/b",
                "name": "b",
                "type": "call",
                "phase": "FAILED",
                "started_at": "2025-01-01T00:00:01+00:00",
                "completed_at": "2025-01-01T00:00:03+00:00",
                "iteration": 2,
                "error": {"title": "Not found"},
            },
        ]
    }
    (span,) = spans_of(update)
    assert span.name == "Task:call"
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert f"{span.parent.span_id:016x}" == PARENT
    assert span.end_time - span.start_time == 2_000_000_000
    assert span.attributes["stigmer.task.pointer"] == "/do/1/b"
    assert span.attributes["stigmer.task.outcome"] == "failed"
    assert span.attributes["stigmer.task.iteration"] == 2
    assert span.status.description == "Not found"


def test_no_spans_without_the_runs_trace_context() -> None:
    update = {
        "tasks": [
            {
                "id": "/do/0/a",
                "name": "a",
                "type": "set",
                "phase": "COMPLETED",
                "completed_at": "2025-01-01T00:00:00+00:00",
            }
        ]
    }
    assert spans_of(update, None) == []
    assert len(spans_of(update)) == 1
