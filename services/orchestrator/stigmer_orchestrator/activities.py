"""The orchestrator's activities: record a platform failure on an execution, create the
execution of a scheduled fire (or of a ``schedule.after`` round), and tell whether an
execution has ended."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import (
    DispatchFailedError,
    NotFoundError,
    TerminalPhaseError,
    ValidationFailedError,
)
from stigmer_core.model import ExecutionPhase
from stigmer_core.status import StatusUpdate
from stigmer_core.temporal_contracts import (
    EXECUTION_ENDED_ACTIVITY,
    RECORD_SYSTEM_FAILURE_ACTIVITY,
    START_SCHEDULED_EXECUTION_ACTIVITY,
    ScheduledStart,
    SystemFailure,
)

# Labels of executions a schedule started (label keys avoid dots: they are store keys).
TRIGGER_LABEL = "stigmer-trigger"
SCHEDULED_AT_LABEL = "stigmer-scheduled-at"


class FailureRecorder:
    def __init__(self, *, api: StigmerClient) -> None:
        self._api = api

    @activity.defn(name=RECORD_SYSTEM_FAILURE_ACTIVITY)
    async def record(self, failure: SystemFailure) -> None:
        """Mark the execution FAILED with the message; a terminal execution stays as it is."""
        update = StatusUpdate(
            phase=ExecutionPhase.FAILED,
            message=failure.message,
            error={
                "type": "https://serverlessworkflow.io/spec/1.0.0/errors/runtime",
                "status": 500,
                "title": "Execution failed",
                "detail": failure.message,
                "instance": f"/executions/{failure.execution_id}",
            },
        )
        try:
            await self._api.update_status(failure.execution_id, update)
        except TerminalPhaseError:
            activity.logger.info("execution %s already ended", failure.execution_id)
        except NotFoundError as exc:
            raise ApplicationError(str(exc), type="NotFoundError", non_retryable=True) from exc


class ScheduledStarter:
    def __init__(self, *, api: StigmerClient) -> None:
        self._api = api

    @activity.defn(name=START_SCHEDULED_EXECUTION_ACTIVITY)
    async def start(self, request: ScheduledStart) -> str:
        """Create the fire's execution through the API; return its id.

        The request id is the same on every attempt, so a retry after a lost answer
        returns the execution the first attempt created.
        """
        try:
            execution = await self._api.create_execution(
                workflow_id=request.workflow_id,
                request_id=request.request_id,
                labels={TRIGGER_LABEL: request.trigger, SCHEDULED_AT_LABEL: request.scheduled_at},
            )
        except (NotFoundError, ValidationFailedError) as exc:
            # The workflow was deleted: its schedule goes at the API's next sync.
            raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from exc
        except DispatchFailedError as exc:
            # Stored as FAILED by the API, with the message: nothing to retry.
            raise ApplicationError(
                str(exc), type="DispatchFailedError", non_retryable=True
            ) from exc
        activity.logger.info(
            "scheduled fire %s started execution %s", request.request_id, execution.metadata.id
        )
        return execution.metadata.id


class ExecutionWatcher:
    def __init__(self, *, api: StigmerClient) -> None:
        self._api = api

    @activity.defn(name=EXECUTION_ENDED_ACTIVITY)
    async def ended(self, execution_id: str) -> bool:
        """Whether the execution is in a terminal phase (or gone: nothing left to wait for)."""
        try:
            execution = await self._api.get_execution(execution_id)
        except NotFoundError:
            activity.logger.warning("execution %s is gone; not waiting for it", execution_id)
            return True
        return execution.status.phase.terminal
