"""The orchestrator's workflows: the invoke workflow (hand the execution to a runner and
record platform failures), a schedule's fire, and the ``schedule.after`` loop.

Deterministic and free of I/O. It knows the runner only by activity name and queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

with workflow.unsafe.imports_passed_through():
    from stigmer_core.temporal_contracts import (
        ACTIVITY_TASK_QUEUE_MEMO,
        AFTER_LOOP_WORKFLOW,
        AFTER_TARGET_MEMO,
        EXECUTE_WORKFLOW_ACTIVITY,
        EXECUTION_ENDED_ACTIVITY,
        INVOKE_WORKFLOW,
        RECORD_SYSTEM_FAILURE_ACTIVITY,
        RUN_STARTED_SIGNAL,
        SCHEDULED_RUN_WORKFLOW,
        START_SCHEDULED_EXECUTION_ACTIVITY,
        AfterLoopInput,
        ExecuteWorkflowInput,
        ExecutionOutcome,
        InvokeWorkflowInput,
        ScheduledRunInput,
        ScheduledStart,
        SystemFailure,
    )

# The runner's own failures (API unreachable, Temporal hiccups) are retried a few times;
# a run that keeps failing is reported rather than retried forever.
EXECUTE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=["NotFoundError", "ValidationFailedError"],
)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
    non_retryable_error_types=["TerminalPhaseError", "NotFoundError"],
)


@workflow.defn(name=INVOKE_WORKFLOW)
class InvokeWorkflowExecution:
    def __init__(self) -> None:
        self._run_started = False

    @workflow.signal(name=RUN_STARTED_SIGNAL)
    def run_started(self) -> None:
        """The DSL run on the runner has started."""
        self._run_started = True

    @workflow.run
    async def run(self, request: InvokeWorkflowInput) -> ExecutionOutcome:
        queue = workflow.memo_value(ACTIVITY_TASK_QUEUE_MEMO, None, type_hint=str)
        if not queue:
            return await self._fail(
                request.execution_id,
                f"the workflow memo has no {ACTIVITY_TASK_QUEUE_MEMO!r}: no runner queue to use",
            )
        watchdog = timedelta(
            seconds=request.runner_start_timeout_seconds + request.handoff_grace_seconds
        )
        for handoff in range(1, request.max_handoffs + 1):
            workflow.logger.info(
                "execution %s: hand-off %d to runner queue %r", request.execution_id, handoff, queue
            )
            execute = workflow.start_activity(
                EXECUTE_WORKFLOW_ACTIVITY,
                ExecuteWorkflowInput(execution_id=request.execution_id),
                task_queue=queue,
                result_type=ExecutionOutcome,
                # Not retried by Temporal: with no runner polling the queue, the execution
                # FAILS after this long instead of waiting in PENDING forever.
                schedule_to_start_timeout=timedelta(seconds=request.runner_start_timeout_seconds),
                # ExecuteWorkflow completes asynchronously when the DSL run ends.
                start_to_close_timeout=timedelta(seconds=request.execution_timeout_seconds),
                retry_policy=EXECUTE_RETRY,
            )
            # An async-completed activity has no heartbeat, so a task Temporal handed to a
            # runner that never ran it would sit until the start-to-close timeout. The run's
            # "started" signal tells us the hand-off worked; without it, hand off again.
            try:
                await workflow.wait_condition(
                    lambda: self._run_started or execute.done(),  # noqa: B023 - awaited here
                    timeout=watchdog,
                )
            except TimeoutError:
                workflow.logger.warning(
                    "execution %s: no run started %ss after hand-off %d; handing off again",
                    request.execution_id,
                    watchdog.total_seconds(),
                    handoff,
                )
                execute.cancel()
                with contextlib.suppress(ActivityError, asyncio.CancelledError):
                    await execute
                continue
            try:
                outcome: ExecutionOutcome = await execute
            except ActivityError as err:
                return await self._fail(request.execution_id, describe_failure(err, queue, request))
            return outcome
        return await self._fail(
            request.execution_id,
            f"no runner started the execution after {request.max_handoffs} hand-offs to "
            f"task queue {queue!r}",
        )

    async def _fail(self, execution_id: str, message: str) -> ExecutionOutcome:
        workflow.logger.error("execution %s failed: %s", execution_id, message)
        await workflow.execute_local_activity(
            RECORD_SYSTEM_FAILURE_ACTIVITY,
            SystemFailure(execution_id=execution_id, message=message),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )
        return ExecutionOutcome(
            execution_id=execution_id,
            phase="FAILED",
            error={
                "type": "https://serverlessworkflow.io/spec/1.0.0/errors/runtime",
                "status": 500,
                "title": "Execution failed",
                "detail": message,
            },
        )


# The API may be down for a while: keep trying within the run's start timeout.
START_SCHEDULED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=["NotFoundError", "ValidationFailedError", "DispatchFailedError"],
)
# Temporal sets this on every workflow a schedule starts: the fire's nominal time.
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


@workflow.defn(name=SCHEDULED_RUN_WORKFLOW)
class ScheduledRun:
    """One fire of a Temporal schedule: create the Stigmer execution, return its id.

    The execution then runs like any other (its own invoke workflow); this run does not
    wait for it. Its workflow id (the schedule's action id plus the fire time) is the
    request id, so a fire creates one execution however often the activity is retried.
    """

    @workflow.run
    async def run(self, request: ScheduledRunInput) -> str:
        info = workflow.info()
        scheduled_at = info.typed_search_attributes.get(SCHEDULED_START_TIME) or info.start_time
        execution_id: str = await workflow.execute_activity(
            START_SCHEDULED_EXECUTION_ACTIVITY,
            ScheduledStart(
                workflow_id=request.workflow_id,
                request_id=info.workflow_id,
                scheduled_at=scheduled_at.isoformat(),
            ),
            result_type=str,
            start_to_close_timeout=timedelta(seconds=60),
            schedule_to_close_timeout=timedelta(seconds=request.start_timeout_seconds),
            retry_policy=START_SCHEDULED_RETRY,
        )
        return execution_id


# Checking an execution's phase is a cheap read: retry it for as long as the API is away.
POLL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)
# A round that waits on a long execution continues as new after this many checks, so the
# history of one run stays small whatever the execution's length.
MAX_POLLS_PER_RUN = 200


@workflow.defn(name=AFTER_LOOP_WORKFLOW)
class AfterLoop:
    """``schedule.after``: start an execution, wait until it ends, sleep, start the next.

    One run per round: it creates the round's execution through the same activity as a
    schedule's fire, with a request id unique to the loop and the round (a retried create
    returns the same execution), checks between durable timers whether it has ended, sleeps
    ``after`` and continues as new for the next round, so the history stays flat. The API
    starts, retargets and terminates the loop as it does Temporal schedules.
    """

    @workflow.run
    async def run(self, request: AfterLoopInput) -> None:
        info = workflow.info()
        loop_id = request.loop_id or str(workflow.uuid4())
        execution_id = request.execution_id
        if execution_id is None:
            try:
                execution_id = await workflow.execute_activity(
                    START_SCHEDULED_EXECUTION_ACTIVITY,
                    ScheduledStart(
                        workflow_id=request.workflow_id,
                        request_id=f"{info.workflow_id}/{loop_id}/{request.round}",
                        scheduled_at=workflow.now().isoformat(),
                        trigger="after",
                    ),
                    result_type=str,
                    start_to_close_timeout=timedelta(seconds=60),
                    schedule_to_close_timeout=timedelta(seconds=request.start_timeout_seconds),
                    retry_policy=START_SCHEDULED_RETRY,
                )
            except ActivityError as err:
                kind = err.cause.type if isinstance(err.cause, ApplicationError) else None
                if kind in ("NotFoundError", "ValidationFailedError"):
                    # The workflow is gone: the API's next sync removes this loop anyway.
                    workflow.logger.warning("after loop ends: %s", err.cause)
                    return
                if kind != "DispatchFailedError":
                    # Timed out waiting for the API: try the same round (same request id).
                    self._next(request, loop_id, request.round, None)
                # Otherwise the execution was stored FAILED at once: it has ended.
        polls = 0
        poll = request.poll_min_seconds
        while execution_id is not None:
            ended: bool = await workflow.execute_activity(
                EXECUTION_ENDED_ACTIVITY,
                execution_id,
                result_type=bool,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=POLL_RETRY,
            )
            if ended:
                break
            polls += 1
            if polls >= MAX_POLLS_PER_RUN or info.is_continue_as_new_suggested():
                self._next(request, loop_id, request.round, execution_id)
            await workflow.sleep(timedelta(seconds=poll))
            poll = min(poll * 2, request.poll_max_seconds)
        await workflow.sleep(timedelta(seconds=request.after_seconds))
        self._next(request, loop_id, request.round + 1, None)

    @staticmethod
    def _next(request: AfterLoopInput, loop_id: str, round_: int, execution_id: str | None) -> None:
        workflow.continue_as_new(
            dataclasses.replace(request, round=round_, loop_id=loop_id, execution_id=execution_id),
            # Kept explicitly: the API reads the loop's target from it.
            memo={AFTER_TARGET_MEMO: request.workflow_id},
        )


def describe_failure(err: ActivityError, queue: str, request: InvokeWorkflowInput) -> str:
    """A message that tells an operator what to look at."""
    cause = err.cause
    if isinstance(cause, ActivityTimeoutError):
        if cause.type == TimeoutType.SCHEDULE_TO_START:
            return (
                f"no runner picked up the execution within "
                f"{request.runner_start_timeout_seconds:g}s: is a runner polling task queue "
                f"{queue!r}?"
            )
        return f"the runner did not finish in time ({cause.type.name if cause.type else 'timeout'})"
    if isinstance(cause, ApplicationError):
        return f"the runner failed: {cause.message}"
    return f"the runner failed: {cause or err}"
