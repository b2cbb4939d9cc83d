"""Names and payloads that cross process boundaries through Temporal.

The API starts the invoke workflow, the orchestrator runs it and calls the runner's
activity by name, and the runner hosts the DSL workflow. None of them imports another;
they agree on what is in this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INVOKE_WORKFLOW = "stigmer/workflow-execution/invoke"
EXECUTE_WORKFLOW_ACTIVITY = "ExecuteWorkflow"
RECORD_SYSTEM_FAILURE_ACTIVITY = "RecordSystemFailure"
DSL_WORKFLOW = "stigmer/dsl/run"
# The Temporal header in which Temporal's TracingInterceptor carries the W3C trace context
# (its default key); the DSL workflow reads it to parent its tasks' spans.
TRACE_HEADER = "_tracer-data"
ACTIVITY_TASK_QUEUE_MEMO = "activityTaskQueue"
# The DSL run tells its invoke workflow it has started (see InvokeWorkflowInput.handoff...).
RUN_STARTED_SIGNAL = "stigmer.run-started"
# A Temporal schedule starts this workflow on the stigmer queue at every fire time; it
# creates one execution through the API.
SCHEDULED_RUN_WORKFLOW = "stigmer/schedule/run"
START_SCHEDULED_EXECUTION_ACTIVITY = "StartScheduledExecution"
# ``schedule.after``: one long-lived loop per DSL namespace/name on the stigmer queue starts
# an execution, waits until it ends (polling this activity between durable timers), sleeps
# the ``after`` duration and continues as new.
AFTER_LOOP_WORKFLOW = "stigmer/schedule/after"
EXECUTION_ENDED_ACTIVITY = "ExecutionEnded"
# The memo key that names the Stigmer workflow (version) a loop starts.
AFTER_TARGET_MEMO = "stigmerWorkflowId"
# The API delivers a CloudEvent (a JSON object) to a listening execution's DSL workflow.
EVENT_SIGNAL = "stigmer.runner.event"


def invoke_workflow_id(execution_id: str) -> str:
    """Deterministic, so a second start of the same execution is rejected by Temporal."""
    return f"{INVOKE_WORKFLOW}/{execution_id}"


def dsl_workflow_id(execution_id: str) -> str:
    return f"stigmer/dsl/{execution_id}"


def schedule_id(task_queue: str, namespace: str, name: str) -> str:
    """One Temporal schedule per DSL namespace/name and Stigmer installation (its queue).

    DSL namespaces and names are hostname-like (no ``/``), so the id parses back.
    """
    return f"{SCHEDULE_ID_PREFIX}{task_queue}/{namespace}/{name}"


SCHEDULE_ID_PREFIX = "stigmer/schedule/"


AFTER_LOOP_ID_PREFIX = "stigmer/after/"


def after_loop_id(task_queue: str, namespace: str, name: str) -> str:
    """One ``schedule.after`` loop per DSL namespace/name and installation, like schedules."""
    return f"{AFTER_LOOP_ID_PREFIX}{task_queue}/{namespace}/{name}"


def scheduled_run_workflow_id(workflow_id: str) -> str:
    """The id the schedule's action gives its runs; Temporal appends the fire time, so a
    fire is started at most once and the id doubles as the execution's request id."""
    return f"stigmer/scheduled/{workflow_id}"


@dataclass
class InvokeWorkflowInput:
    execution_id: str
    # How long the runner fleet may take to pick up the execution before it FAILS.
    runner_start_timeout_seconds: float = 300.0
    # Upper bound on one execution's run time.
    execution_timeout_seconds: float = 7 * 24 * 3600.0
    # After the runner start timeout, how much longer the invoke workflow waits for the DSL
    # run to report that it started before it hands the execution to a runner again. Covers
    # an ExecuteWorkflow task Temporal recorded as started but no runner ever ran.
    handoff_grace_seconds: float = 120.0
    # How many hand-offs are tried before the execution FAILS.
    max_handoffs: int = 3


@dataclass
class ExecuteWorkflowInput:
    execution_id: str


@dataclass
class ExecutionOutcome:
    """What ExecuteWorkflow returns: the final phase with output or RFC 7807 error."""

    execution_id: str
    phase: str
    output: Any = None
    error: dict[str, Any] | None = None


@dataclass
class ScheduledRunInput:
    """The argument a Temporal schedule passes to the scheduled-run workflow."""

    workflow_id: str
    # How long the run may keep trying to create the execution (the API may be down).
    start_timeout_seconds: float = 3600.0


@dataclass
class ScheduledStart:
    """What the scheduled-run workflow asks the orchestrator's activity to create."""

    workflow_id: str
    request_id: str
    scheduled_at: str
    # The ``stigmer-trigger`` label of the execution: ``schedule`` (every/cron) or ``after``.
    trigger: str = "schedule"


@dataclass
class AfterLoopInput:
    """One round of a ``schedule.after`` loop; each round continues as new with the next."""

    workflow_id: str
    after_seconds: float
    # How long a round may keep trying to create its execution (the API may be down).
    start_timeout_seconds: float = 3600.0
    # Between checks of whether the round's execution has ended: starts at the minimum and
    # doubles up to the maximum, so short runs are noticed quickly and long ones cost little.
    poll_min_seconds: float = 1.0
    poll_max_seconds: float = 30.0
    round: int = 0
    # Chosen by the loop's first run and carried over, so request ids are unique to this
    # loop's life: a loop started again for the same version does not reuse old executions.
    loop_id: str = ""
    # Set when a round continued as new while its execution was still running.
    execution_id: str | None = None


@dataclass
class SystemFailure:
    execution_id: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
