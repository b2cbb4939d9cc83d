"""A timeline of one execution: client moments, stored stamps and Temporal history events.

Used with ``--trace`` on the run with the median latency of each path, it shows every
hop of an execution with its offset from the client's first call, so the round trips
behind a stage can be counted rather than guessed.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.runs import Timed
from stigmer_core.model import WorkflowExecution


def _event_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]


async def timeline(client: Client, timed: Timed, *, labels: list[str]) -> list[tuple[float, str]]:
    """(milliseconds after the client's first call, what happened), in time order."""
    start = float(timed.notes["start_wall"])
    points: list[tuple[float, str]] = [(0.0, "client: call starts")]
    points.append(((timed.finished - timed.started) * 1000, "client: sees the result"))
    for workflow_id, label in zip(timed.notes["workflow_ids"], labels, strict=True):
        handle = client.get_workflow_handle(workflow_id)
        async for event in handle.fetch_history_events():
            at = event.event_time.ToDatetime().timestamp()
            points.append(((at - start) * 1000, f"{label}: {_event_name(event.event_type)}"))
    execution: WorkflowExecution | None = timed.notes.get("execution")
    if execution is not None:
        status = execution.status
        stamps: list[tuple[Any, str]] = [
            (execution.metadata.created_at, "api: execution built"),
            (status.dispatched_at, "api: dispatched_at (Temporal accepted the start)"),
            (status.started_at, "api: IN_PROGRESS stored"),
            (status.completed_at, "api: COMPLETED stored"),
        ]
        for task in status.tasks:
            stamps.append((task.started_at, f"dsl: task {task.id} started (workflow time)"))
            stamps.append((task.completed_at, f"dsl: task {task.id} ended (workflow time)"))
        points.extend(((s.timestamp() - start) * 1000, what) for s, what in stamps if s)
    return sorted(points, key=lambda point: point[0])  # stable: ties keep their order


def median_run(runs: list[Timed]) -> Timed:
    """The run whose latency is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda t: t.seconds)
    return ordered[(len(ordered) - 1) // 2]
