"""The resource model: every resource is an envelope of apiVersion, kind, metadata, spec, status.

Models are pydantic, serialised with camel-case ``apiVersion`` only at the envelope; all
other fields are snake_case, as in the stored documents and the HTTP API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "stigmer.io/v1"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Kind(StrEnum):
    WORKFLOW = "Workflow"
    INSTANCE = "WorkflowInstance"
    EXECUTION = "WorkflowExecution"


class ExecutionPhase(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_PHASES


TERMINAL_PHASES = frozenset(
    {ExecutionPhase.COMPLETED, ExecutionPhase.FAILED, ExecutionPhase.CANCELLED}
)


class TaskPhase(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self is not TaskPhase.RUNNING


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Metadata(_Model):
    id: str
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = Field(
        1, description="Incremented on every write; used for optimistic concurrency."
    )


class _Envelope(_Model):
    api_version: str = Field(API_VERSION, alias="apiVersion")
    metadata: Metadata

    def to_doc(self) -> dict[str, Any]:
        """The JSON form used on the wire and in the stores."""
        return self.model_dump(mode="json", by_alias=True)


# --- Workflow -----------------------------------------------------------------------------


class WorkflowSpec(_Model):
    namespace: str
    name: str
    version: str
    document: dict[str, Any] = Field(
        description="The Serverless Workflow DSL document, as registered."
    )


class ScheduleState(StrEnum):
    PENDING = "PENDING"
    """Waiting for Temporal: the API creates the schedule once Temporal answers."""
    ACTIVE = "ACTIVE"
    """This version's trigger starts executions (a Temporal schedule, an ``after`` loop, or
    matching events)."""
    SUPERSEDED = "SUPERSEDED"
    """A newer registered version of the same namespace/name owns the schedule."""
    UNSUPPORTED = "UNSUPPORTED"
    """The schedule is valid DSL that Stigmer cannot run yet (see ``message``)."""
    FAILED = "FAILED"
    """Temporal refused the schedule (see ``message``)."""


class ScheduleKind(StrEnum):
    TIME = "time"
    """``every`` and/or ``cron``: a Temporal schedule."""
    AFTER = "after"
    """``after``: a loop workflow that starts the next execution once the last one ended."""
    EVENT = "event"
    """``on``: events posted to ``POST /v1/events`` start executions."""


class ScheduleStatus(_Model):
    """Where the document's ``schedule`` stands; absent for workflows without one."""

    state: ScheduleState
    kind: ScheduleKind | None = Field(
        None, description="What starts executions; None when the schedule cannot run."
    )
    schedule_id: str | None = Field(
        None,
        description="The Temporal schedule's id (`time`) or the loop workflow's id (`after`).",
    )
    message: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class WorkflowStatus(_Model):
    task_count: int = 0
    schedule: ScheduleStatus | None = None


class Workflow(_Envelope):
    kind: Literal[Kind.WORKFLOW] = Kind.WORKFLOW
    spec: WorkflowSpec
    status: WorkflowStatus = Field(default_factory=WorkflowStatus)


class ScheduledFire(_Model):
    scheduled_at: datetime = Field(description="The fire time the schedule computed.")
    started_at: datetime = Field(description="When Temporal started the run for it.")


class WorkflowSchedule(_Model):
    """GET /v1/workflows/{id}/schedule: the stored state and, when live, Temporal's view."""

    workflow_id: str
    schedule: dict[str, Any] | None = Field(
        None, description="The document's `schedule`, as registered."
    )
    status: ScheduleStatus | None = None
    temporal: Literal["ok", "unavailable", "not_applicable"] = Field(
        "not_applicable",
        description="Whether the live fields below come from Temporal (only when ACTIVE).",
    )
    paused: bool | None = None
    next_fire_times: list[datetime] = Field(default_factory=list)
    recent_fires: list[ScheduledFire] = Field(default_factory=list)
    fires: int | None = Field(None, description="How many times the schedule has fired.")


# --- Instance -----------------------------------------------------------------------------


class InstanceSpec(_Model):
    workflow_id: str
    default: bool = Field(False, description="True for the instance runs use when none is named.")
    env: dict[str, str] = Field(default_factory=dict, description="Runtime environment for runs.")
    description: str | None = None


class InstanceStatus(_Model):
    pass


class WorkflowInstance(_Envelope):
    kind: Literal[Kind.INSTANCE] = Kind.INSTANCE
    spec: InstanceSpec
    status: InstanceStatus = Field(default_factory=InstanceStatus)


# --- Execution ----------------------------------------------------------------------------


class ExecutionSpec(_Model):
    workflow_id: str
    instance_id: str
    input: Any = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)


class TaskStatus(_Model):
    id: str = Field(
        description="The task's JSON pointer in the workflow document, e.g. /do/0/greet."
    )
    name: str
    type: str
    phase: TaskPhase
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    iteration: int | None = Field(
        None,
        description=(
            "For tasks inside a `for` loop: the index of the (innermost) iteration this "
            "entry describes. One entry per task pointer keeps the status bounded, so a "
            "later iteration replaces an earlier one."
        ),
    )


class ExecutionStatus(_Model):
    phase: ExecutionPhase = ExecutionPhase.PENDING
    message: str | None = None
    tasks: list[TaskStatus] = Field(default_factory=list)
    output: Any = None
    error: dict[str, Any] | None = Field(
        None, description="An RFC 7807 problem (type, status, title, detail, instance)."
    )
    started_at: datetime | None = None
    completed_at: datetime | None = None
    temporal_workflow_id: str | None = None
    dispatched_at: datetime | None = Field(
        None, description="When Temporal accepted the execution's workflow; unset while it waits."
    )
    sequence: int = Field(0, description="Increases by one with every applied status update.")
    trace_id: str | None = Field(
        None,
        description=(
            "The OpenTelemetry trace (32 hex characters) that follows this execution from "
            "the create request through Temporal to each task; unset when tracing is off."
        ),
    )

    def task(self, task_id: str) -> TaskStatus | None:
        return next((t for t in self.tasks if t.id == task_id), None)


class WorkflowExecution(_Envelope):
    kind: Literal[Kind.EXECUTION] = Kind.EXECUTION
    spec: ExecutionSpec
    status: ExecutionStatus = Field(default_factory=ExecutionStatus)


class Page(_Model):
    """One page of a list; pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None
