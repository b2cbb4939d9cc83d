"""Local activities of the DSL workflow: status reports to the API, and completing
the ExecuteWorkflow activity."""

from __future__ import annotations

import base64

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import TerminalPhaseError
from stigmer_core.status import StatusUpdate
from stigmer_core.temporal_contracts import ExecutionOutcome
from stigmer_runner.contracts import (
    COMPLETE_ACTIVITY,
    REPORT_ACTIVITY,
    CompleteExecute,
    ExecutionReport,
)
from stigmer_runner.metrics import ReportOutcome, record_report
from stigmer_runner.task_spans import TaskSpans


class Reporter:
    def __init__(
        self, *, api: StigmerClient, temporal: Client, spans: TaskSpans | None = None
    ) -> None:
        self._api = api
        self._temporal = temporal
        self._spans = spans

    @activity.defn(name=REPORT_ACTIVITY)
    async def report(self, report: ExecutionReport) -> bool:
        """Send one status update; False when the execution already ended (e.g. cancelled).

        Reports are idempotent upserts, so a retry after a lost response is harmless.
        """
        update = StatusUpdate.model_validate(report.update)
        try:
            await self._api.update_status(report.execution_id, update)
        except TerminalPhaseError:
            record_report(update.tasks, ReportOutcome.REJECTED)
            return False
        except Exception:
            record_report(update.tasks, ReportOutcome.FAILED)
            raise
        record_report(update.tasks, ReportOutcome.APPLIED)
        # After a successful send only: a report that fails is retried, and would make its
        # tasks' spans twice.
        if self._spans is not None:
            self._spans.record(report.execution_id, report.update, report.trace_context)
        return True

    @activity.defn(name=COMPLETE_ACTIVITY)
    async def complete(self, request: CompleteExecute) -> None:
        """Complete ExecuteWorkflow with the run's outcome."""
        handle = self._temporal.get_async_activity_handle(
            task_token=base64.b64decode(request.task_token)
        )
        try:
            await handle.complete(ExecutionOutcome(**request.outcome))
        except RPCError as exc:
            # NOT_FOUND: the invoke workflow is gone (cancelled or timed out); nobody waits.
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            activity.logger.info("ExecuteWorkflow no longer waits: %s", exc)
