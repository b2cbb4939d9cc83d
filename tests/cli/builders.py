"""Small builders of execution snapshots for the CLI's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from stigmer_core.model import (
    ExecutionPhase,
    ExecutionSpec,
    ExecutionStatus,
    Metadata,
    TaskPhase,
    TaskStatus,
    WorkflowExecution,
)

EXECUTION_ID = "wex-01JD0000000000000000000000"
WORKFLOW_ID = "wfl-01JD0000000000000000000000"
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def task(
    pointer: str, phase: TaskPhase, *, seconds: float | None = None, **fields: Any
) -> TaskStatus:
    """A task status; ``seconds`` sets start and end that far apart."""
    name = pointer.rsplit("/", 1)[-1]
    timing: dict[str, Any] = {}
    if seconds is not None:
        timing = {"started_at": T0, "completed_at": T0 + timedelta(seconds=seconds)}
    return TaskStatus(id=pointer, name=name, type="set", phase=phase, **timing, **fields)


def snapshot(
    phase: ExecutionPhase = ExecutionPhase.PENDING,
    *,
    sequence: int = 0,
    tasks: list[TaskStatus] | None = None,
    **status: Any,
) -> WorkflowExecution:
    """An execution of the ``hello`` workflow at ``sequence``."""
    return WorkflowExecution(
        metadata=Metadata(id=EXECUTION_ID, name="hello", created_at=T0),
        spec=ExecutionSpec(workflow_id=WORKFLOW_ID, instance_id="win-01JD0000000000000000000000"),
        status=ExecutionStatus(phase=phase, sequence=sequence, tasks=tasks or [], **status),
    )
