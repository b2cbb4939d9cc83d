"""The Temporal workflow that runs one execution's DSL document.

Interpretation happens here, deterministically; every side effect is an activity (task
work such as HTTP calls) or a local activity (status reports), so a runner that dies
mid-run loses nothing: another runner replays the history and carries on, and tasks that
completed are not run again.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    import jq  # noqa: F401  - C extension: load once, outside the sandbox
    import jsonschema  # noqa: F401  - schemas: import once, not in every run's sandbox
    import jwt  # noqa: F401  - token issuers: PyJWT and cryptography, loaded once

    from stigmer_core.temporal_contracts import (
        DSL_WORKFLOW,
        RUN_STARTED_SIGNAL,
        ExecutionOutcome,
        invoke_workflow_id,
    )
    from stigmer_runner.contracts import (
        COMPLETE_ACTIVITY,
        COMPLETION_TOKEN_SIGNAL,
        EVENT_SIGNAL,
        REPORT_ACTIVITY,
        CompleteExecute,
        DslRunInput,
        ExecutionReport,
    )
    from stigmer_runner.dsl.checkpoint import Checkpoint, Resume
    from stigmer_runner.dsl.contracts import (
        HTTP_CALL_ACTIVITY,
        HTTP_INVALID_REQUEST_ERROR,
        HTTP_RESPONSE_TOO_LARGE_ERROR,
        ActivityCall,
        ChildRun,
        HttpRequest,
        HttpResponse,
        TaskEvent,
    )
    from stigmer_runner.dsl.errors import (
        WorkflowError,
        http_failure_problem,
        runtime_problem,
    )
    from stigmer_runner.dsl.interpreter import Interpreter
    from stigmer_runner.dsl.run_contracts import (
        LOAD_SECRETS_ACTIVITY,
        SECRETS_UNAVAILABLE_ERROR,
        SecretsRequest,
    )
    from stigmer_runner.secrets import declared_secrets, mask, secret_strings

REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,  # the API may be restarting: keep trying, the run waits
    non_retryable_error_types=["NotFoundError", "ValidationFailedError"],
)
# Platform-level retries of a task's side effect (a connection reset, a runner that died
# mid-call). DSL-level retries are the workflow author's, through try/retry.
TASK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=3,
    non_retryable_error_types=[HTTP_INVALID_REQUEST_ERROR, HTTP_RESPONSE_TOO_LARGE_ERROR],
)


# Most task events to hold before a report is sent anyway (bounds the payload of one report).
MAX_BUFFERED_EVENTS = 100


class _WorkflowRuntime:
    """The interpreter's port to the outside world, implemented with Temporal commands.

    Task events are buffered and sent in one report before anything that can block (an
    activity) and with the final status: a run of pure tasks (``set``) costs one write
    instead of two per task, and no event is ever later than the next side effect.
    """

    def __init__(self, run: DslRunInput, inbox: list[dict[str, Any]], children: set[str]) -> None:
        self._run = run
        self._running_children = children
        self._pending: list[dict[str, Any]] = []
        # Secret values, masked out of everything reported (status, and so SSE and logs).
        self.secret_needles: list[str] = []
        self._inbox = inbox
        self._children = 0
        self._iterations = 0

    def now(self) -> datetime:
        return workflow.now()

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        options = self._run.options
        await self.flush()
        try:
            response: HttpResponse = await workflow.execute_activity(
                HTTP_CALL_ACTIVITY,
                request,
                result_type=HttpResponse,
                start_to_close_timeout=timedelta(seconds=options.task_timeout_seconds),
                heartbeat_timeout=timedelta(seconds=options.task_heartbeat_seconds),
                retry_policy=TASK_RETRY,
            )
            return response
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                raise WorkflowError(http_failure_problem(cause.type, cause.message)) from err
            raise WorkflowError(
                http_failure_problem(None, f"{request.method} {request.url} failed: {cause or err}")
            ) from err

    async def sleep(self, seconds: float) -> None:
        await self.flush()
        await workflow.sleep(timedelta(seconds=max(seconds, 0.0)))

    def random(self) -> float:
        return workflow.random().random()

    def should_continue_as_new(self) -> bool:
        self._iterations += 1
        budget = self._run.options.iterations_per_run
        return workflow.info().is_continue_as_new_suggested() or (
            budget > 0 and self._iterations >= budget
        )

    async def execute(self, call: ActivityCall) -> Any:
        options = self._run.options
        await self.flush()
        timeout = call.timeout_seconds or options.task_timeout_seconds
        try:
            return await workflow.execute_activity(
                call.name,
                call.payload,
                start_to_close_timeout=timedelta(seconds=timeout),
                heartbeat_timeout=timedelta(seconds=options.task_heartbeat_seconds),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_interval=timedelta(seconds=30),
                    maximum_attempts=call.max_attempts,
                    non_retryable_error_types=call.non_retryable_types or None,
                ),
            )
        except ActivityError as err:
            raise WorkflowError(_problem_of(err, call.name)) from err

    async def run_workflow(self, run: ChildRun) -> Any:
        await self.flush()
        self._children += 1
        child_id = f"{workflow.info().workflow_id}/child-{self._children}"
        self._running_children.add(child_id)
        try:
            outcome = await self._child(run, child_id)
        finally:
            self._running_children.discard(child_id)
        if outcome.phase != "COMPLETED":
            raise WorkflowError(outcome.error or runtime_problem(RuntimeError(outcome.phase)))
        return outcome.output

    async def _child(self, run: ChildRun, child_id: str) -> ExecutionOutcome:
        outcome: ExecutionOutcome = await workflow.execute_child_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=self._run.execution_id,
                workflow_id=self._run.workflow_id,
                document=run.document,
                input=run.input,
                env=self._run.env,
                options=self._run.options,
                child=True,
            ),
            id=child_id,
            result_type=ExecutionOutcome,
        )
        return outcome

    async def next_event(self, timeout_seconds: float | None = None) -> dict[str, Any] | None:
        await self.flush()
        if not self._inbox:
            timeout = None if timeout_seconds is None else timedelta(seconds=timeout_seconds)
            try:
                await workflow.wait_condition(lambda: bool(self._inbox), timeout=timeout)
            except TimeoutError:
                return None
        return self._inbox.pop(0)

    async def report(self, event: TaskEvent) -> None:
        if self._run.child:
            return  # a child run's progress is its parent task's
        task: dict[str, Any] = {
            "id": event.task_id,
            "name": event.name,
            "type": event.type,
            "phase": event.phase,
            "input": mask(event.input, self.secret_needles),
            "output": mask(event.output, self.secret_needles),
            "error": mask(event.error, self.secret_needles),
            "iteration": event.iteration,
        }
        task["started_at" if event.phase == "RUNNING" else "completed_at"] = event.at
        if event.started_at is not None:
            task["started_at"] = event.started_at
        self._pending.append(task)
        if len(self._pending) >= MAX_BUFFERED_EVENTS:
            await self.flush()

    async def flush(self) -> None:
        """Send buffered task events now."""
        if self._pending:
            await self.send({})

    async def send(self, update: dict[str, Any]) -> bool:
        """Send ``update`` together with every buffered task event (events first)."""
        if self._run.child:
            return True
        tasks, self._pending = self._pending, []
        if tasks:
            update = {**update, "tasks": tasks + list(update.get("tasks", []))}
        if self.secret_needles:
            update = mask(update, self.secret_needles)
        try:
            accepted: bool = await workflow.execute_local_activity(
                REPORT_ACTIVITY,
                ExecutionReport(execution_id=self._run.execution_id, update=update),
                result_type=bool,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=REPORT_RETRY,
            )
        except asyncio.CancelledError:
            # The waiter was cancelled (a timeout's timer lost its race): keep the events for
            # the next report. Sending one twice is harmless, status merges are idempotent.
            self._pending = tasks + self._pending
            raise
        return accepted


@workflow.defn(name=DSL_WORKFLOW)
class DslWorkflow:
    def __init__(self) -> None:
        self._token: str | None = None
        self._inbox: list[dict[str, Any]] = []
        self._children: set[str] = set()

    @workflow.signal(name=EVENT_SIGNAL)
    async def event(self, event: dict[str, Any]) -> None:
        """A CloudEvent for ``listen`` tasks; kept in arrival order until consumed.

        Events are addressed to the execution, so running child runs (``run: workflow``)
        get a copy too: a ``listen`` inside a child hears what the execution hears.
        """
        self._inbox.append(event)
        for child_id in sorted(self._children):
            try:
                await workflow.get_external_workflow_handle(child_id).signal(EVENT_SIGNAL, event)
            except FailureError as err:  # the child just ended
                workflow.logger.info("event not forwarded to %s: %s", child_id, err)

    @workflow.signal(name=COMPLETION_TOKEN_SIGNAL)
    def completion_token(self, token: str) -> None:
        """ExecuteWorkflow's latest attempt hands over its task token."""
        self._token = token

    @workflow.run
    async def run(self, run: DslRunInput) -> ExecutionOutcome:
        runtime = _WorkflowRuntime(run, self._inbox, self._children)
        execution_id = run.execution_id
        # Sent alongside the first commands rather than awaited first: waiting for the
        # signal's acknowledgement would cost every run one more workflow task.
        if run.completion_token is not None:
            self._token = run.completion_token
        self._inbox.extend(run.pending_events)
        announced = (
            None
            if run.child or run.continued
            else asyncio.create_task(_announce_start(execution_id))
        )
        checkpoint: Resume | None = None
        try:
            secrets = await _load_secrets(runtime, run.document)
            runtime.secret_needles = secret_strings(secrets)
            interpreter = Interpreter(
                run.document,
                runtime=runtime,
                execution_id=execution_id,
                secrets=secrets,
                resume=run.resume,
                default_catalog=run.options.default_catalog_url,
            )
            output = await interpreter.run(run.input)
            outcome = ExecutionOutcome(execution_id=execution_id, phase="COMPLETED", output=output)
        except Checkpoint as cut:
            checkpoint = cut.resume
            outcome = ExecutionOutcome(execution_id=execution_id, phase="IN_PROGRESS")
        except WorkflowError as err:
            outcome = ExecutionOutcome(execution_id=execution_id, phase="FAILED", error=err.problem)
        except asyncio.CancelledError:
            outcome = ExecutionOutcome(execution_id=execution_id, phase="CANCELLED")
        except Exception as exc:  # a bug in the interpreter must still end the execution
            workflow.logger.exception("interpreter crashed on %s", execution_id)
            outcome = ExecutionOutcome(
                execution_id=execution_id, phase="FAILED", error=runtime_problem(exc)
            )
        if checkpoint is not None:
            await runtime.flush()
            if announced is not None:
                await announced
            workflow.continue_as_new(
                dataclasses.replace(
                    run,
                    resume=checkpoint,
                    completion_token=self._token,
                    pending_events=list(self._inbox),
                    continued=True,
                )
            )
        # A cancel was recorded by the API, and a cancelled execution takes no more updates.
        if outcome.phase != "CANCELLED":
            final: dict[str, Any] = {"phase": outcome.phase}
            if outcome.phase == "COMPLETED":
                final["output"] = outcome.output
            else:
                final["error"] = outcome.error
                final["message"] = (outcome.error or {}).get("title")
            await runtime.send(final)
        if announced is not None:
            await announced
        if run.child:
            return outcome
        await workflow.wait_condition(lambda: self._token is not None)
        assert self._token is not None
        await workflow.execute_local_activity(
            COMPLETE_ACTIVITY,
            CompleteExecute(
                task_token=self._token, outcome=mask(_as_dict(outcome), runtime.secret_needles)
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=REPORT_RETRY,
        )
        return outcome


async def _load_secrets(runtime: _WorkflowRuntime, document: dict[str, Any]) -> dict[str, Any]:
    """The secrets the document declares in ``use.secrets``, from the runner's configuration."""
    names = declared_secrets(document)
    if not names:
        return {}
    loaded = await runtime.execute(
        ActivityCall(
            name=LOAD_SECRETS_ACTIVITY,
            payload=SecretsRequest(names=names).payload(),
            non_retryable_types=[SECRETS_UNAVAILABLE_ERROR],
        )
    )
    return dict(loaded or {})


async def _announce_start(execution_id: str) -> None:
    """Tell the invoke workflow the run started, so it does not hand the execution off again."""
    try:
        await workflow.get_external_workflow_handle(invoke_workflow_id(execution_id)).signal(
            RUN_STARTED_SIGNAL
        )
    except FailureError as err:  # no invoke workflow (it ended, or a run started by hand)
        workflow.logger.info("invoke workflow of %s not signalled: %s", execution_id, err)


def _problem_of(err: ActivityError, name: str) -> dict[str, Any]:
    """The RFC 7807 problem an activity failed with (first detail), else a runtime problem."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.details:
        first = cause.details[0]
        if isinstance(first, dict) and "type" in first:
            return first
    return runtime_problem(RuntimeError(f"activity {name} failed: {cause or err}"))


def _as_dict(outcome: ExecutionOutcome) -> dict[str, Any]:
    return {
        "execution_id": outcome.execution_id,
        "phase": outcome.phase,
        "output": outcome.output,
        "error": outcome.error,
    }
