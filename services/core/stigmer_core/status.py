"""How a status update is merged into an execution's status.

Pure functions, shared by both stores so that MongoDB and the embedded store agree
on the rules: terminal phases are sticky, tasks are upserted by id and never dropped,
and every applied update bumps the sequence by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from stigmer_core.errors import ConflictError, TerminalPhaseError
from stigmer_core.model import (
    ExecutionPhase,
    ExecutionStatus,
    TaskStatus,
    _Model,
)


class StatusUpdate(_Model):
    """A partial status sent by runners (and by the API itself on dispatch and cancel).

    Fields left out are left unchanged; ``output`` and ``error`` count as given when they
    are present in the request, even as null.
    """

    phase: ExecutionPhase | None = None
    message: str | None = None
    tasks: list[TaskStatus] = Field(default_factory=list)
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    temporal_workflow_id: str | None = None
    dispatched_at: datetime | None = None


_PHASE_ORDER = {
    ExecutionPhase.PENDING: 0,
    ExecutionPhase.IN_PROGRESS: 1,
    ExecutionPhase.COMPLETED: 2,
    ExecutionPhase.FAILED: 2,
    ExecutionPhase.CANCELLED: 2,
}


def apply_update(status: ExecutionStatus, update: StatusUpdate, now: datetime) -> ExecutionStatus:
    """Return the status after ``update``; raise if the update is not allowed.

    Raises TerminalPhaseError for any update to a terminal execution (it is sticky),
    and ConflictError for a phase that goes backwards.
    """
    if status.phase.terminal:
        raise TerminalPhaseError(
            f"execution is {status.phase.value}; a terminal phase cannot change",
            field="phase",
        )
    new = status.model_copy(deep=True)
    if update.phase is not None and update.phase != status.phase:
        if _PHASE_ORDER[update.phase] < _PHASE_ORDER[status.phase]:
            raise ConflictError(
                f"phase cannot go from {status.phase.value} back to {update.phase.value}",
                field="phase",
            )
        new.phase = update.phase
        if update.phase is ExecutionPhase.IN_PROGRESS and new.started_at is None:
            new.started_at = update.started_at or now
        if update.phase.terminal:
            new.completed_at = update.completed_at or now
    if update.started_at is not None and new.started_at is None:
        new.started_at = update.started_at
    if update.message is not None:
        new.message = update.message
    given = update.model_fields_set
    if "output" in given:
        new.output = update.output
    if "error" in given:
        new.error = update.error
    if update.temporal_workflow_id is not None:
        new.temporal_workflow_id = update.temporal_workflow_id
    if update.dispatched_at is not None and new.dispatched_at is None:
        new.dispatched_at = update.dispatched_at
    for task in update.tasks:
        _upsert_task(new.tasks, task)
    new.sequence = status.sequence + 1
    return new


def _upsert_task(tasks: list[TaskStatus], incoming: TaskStatus) -> None:
    for i, current in enumerate(tasks):
        if current.id == incoming.id:
            tasks[i] = merge_task(current, incoming)
            return
    tasks.append(incoming)


def merge_task(current: TaskStatus, incoming: TaskStatus) -> TaskStatus:
    """Merge two reports of one task; a late RUNNING report never undoes its end.

    A report of a later loop iteration starts the entry afresh; one of an earlier
    iteration (arriving late) changes nothing.
    """
    if current.iteration is not None and incoming.iteration is not None:
        if incoming.iteration > current.iteration:
            return incoming
        if incoming.iteration < current.iteration:
            return current
    if current.phase.terminal and not incoming.phase.terminal:
        winner, other = current, incoming
    else:
        winner, other = incoming, current
    merged = winner.model_copy()
    for field in ("input", "output", "error", "completed_at"):
        if getattr(merged, field) is None:
            setattr(merged, field, getattr(other, field))
    starts = [t for t in (current.started_at, incoming.started_at) if t is not None]
    merged.started_at = min(starts) if starts else None
    return merged
