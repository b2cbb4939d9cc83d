"""The ExecuteWorkflow activity: load the run, start the DSL workflow, complete later.

The activity does not hold a slot for the execution's lifetime: it starts (or re-signals)
the DSL workflow with its task token and returns "complete asynchronously"; the DSL
workflow completes it with the final outcome when the run ends.
"""

from __future__ import annotations

import base64

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import TerminalPhaseError
from stigmer_core.logs import bind
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from stigmer_core.status import StatusUpdate
from stigmer_core.temporal_contracts import (
    DSL_WORKFLOW,
    EXECUTE_WORKFLOW_ACTIVITY,
    ExecuteWorkflowInput,
    ExecutionOutcome,
    dsl_workflow_id,
)
from stigmer_runner.contracts import COMPLETION_TOKEN_SIGNAL, DslRunInput, RunOptions


def outcome_of(execution: WorkflowExecution) -> ExecutionOutcome:
    return ExecutionOutcome(
        execution_id=execution.metadata.id,
        phase=execution.status.phase.value,
        output=execution.status.output,
        error=execution.status.error,
    )


class ExecuteWorkflow:
    def __init__(self, *, api: StigmerClient, temporal: Client, options: RunOptions) -> None:
        self._api = api
        self._temporal = temporal
        self._options = options

    @activity.defn(name=EXECUTE_WORKFLOW_ACTIVITY)
    async def execute(self, request: ExecuteWorkflowInput) -> ExecutionOutcome:
        execution_id = request.execution_id
        info = activity.info()
        with bind(execution_id=execution_id):
            execution = await self._api.get_execution(execution_id)
            if execution.status.phase.terminal:  # cancelled before a runner got to it
                return outcome_of(execution)
            instance = await self._api.get_instance(execution.spec.instance_id)
            workflow = await self._api.get_workflow(instance.spec.workflow_id)
            if execution.status.phase is ExecutionPhase.PENDING:
                try:
                    await self._api.update_status(
                        execution_id, StatusUpdate(phase=ExecutionPhase.IN_PROGRESS)
                    )
                except TerminalPhaseError:
                    return outcome_of(await self._api.get_execution(execution_id))
            token = base64.b64encode(info.task_token).decode()
            run = DslRunInput(
                execution_id=execution_id,
                workflow_id=workflow.metadata.id,
                document=workflow.spec.document,
                input=execution.spec.input,
                env=execution.spec.env,
                options=self._options,
            )
            try:
                # Signal-with-start: a retried attempt finds the run already going and
                # only hands it the new token; nothing runs twice.
                await self._temporal.start_workflow(
                    DSL_WORKFLOW,
                    run,
                    id=dsl_workflow_id(execution_id),
                    task_queue=info.task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    start_signal=COMPLETION_TOKEN_SIGNAL,
                    start_signal_args=[token],
                    memo={"execution_id": execution_id},
                )
            except WorkflowAlreadyStartedError:
                # The run already finished (an earlier attempt lost its completion).
                handle = self._temporal.get_workflow_handle(
                    dsl_workflow_id(execution_id), result_type=ExecutionOutcome
                )
                finished: ExecutionOutcome = await handle.result()
                return finished
            activity.logger.info("started DSL run of %s", execution_id)
            activity.raise_complete_async()
