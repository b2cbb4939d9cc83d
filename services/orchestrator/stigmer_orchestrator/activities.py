"""The orchestrator's only activity: record a platform failure on the execution."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import NotFoundError, TerminalPhaseError
from stigmer_core.model import ExecutionPhase
from stigmer_core.status import StatusUpdate
from stigmer_core.temporal_contracts import RECORD_SYSTEM_FAILURE_ACTIVITY, SystemFailure


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
