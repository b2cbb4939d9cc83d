"""The invoke workflow on a real Temporal server, with stand-in runner activities.

The stand-ins replace the runner (not Temporal): they let a test lose a hand-off on purpose,
which a real runner cannot be made to do on demand.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_core.temporal_contracts import (
    ACTIVITY_TASK_QUEUE_MEMO,
    EXECUTE_WORKFLOW_ACTIVITY,
    INVOKE_WORKFLOW,
    RECORD_SYSTEM_FAILURE_ACTIVITY,
    RUN_STARTED_SIGNAL,
    ExecuteWorkflowInput,
    ExecutionOutcome,
    InvokeWorkflowInput,
    SystemFailure,
    invoke_workflow_id,
)
from stigmer_orchestrator.workflows import InvokeWorkflowExecution

pytestmark = pytest.mark.integration


class StandInRunner:
    def __init__(self, client: Client, *, lose: int, announce: bool) -> None:
        self.client = client
        self.lose = lose
        self.announce = announce
        self.calls = 0
        self.tokens: list[bytes] = []
        self.called = asyncio.Event()
        self.failures: list[SystemFailure] = []

    @activity.defn(name=EXECUTE_WORKFLOW_ACTIVITY)
    async def execute(self, request: ExecuteWorkflowInput) -> ExecutionOutcome:
        self.calls += 1
        self.tokens.append(activity.info().task_token)
        self.called.set()
        if self.announce:
            handle = self.client.get_workflow_handle(invoke_workflow_id(request.execution_id))
            await handle.signal(RUN_STARTED_SIGNAL)
        if self.calls <= self.lose:
            activity.raise_complete_async()  # and nobody ever completes it: a lost hand-off
        if self.announce:
            activity.raise_complete_async()  # the test completes it, like a DSL run would
        return ExecutionOutcome(execution_id=request.execution_id, phase="COMPLETED", output=1)

    @activity.defn(name=RECORD_SYSTEM_FAILURE_ACTIVITY)
    async def record(self, failure: SystemFailure) -> None:
        self.failures.append(failure)


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def _invoke(client: Client, runner: StandInRunner, **timeouts: float) -> ExecutionOutcome:
    suffix = uuid.uuid4().hex[:8]
    stigmer_queue, runner_queue = f"stigmer-{suffix}", f"runner-{suffix}"
    execution_id = f"wex-test-{suffix}"
    async with (
        Worker(
            client,
            task_queue=stigmer_queue,
            workflows=[InvokeWorkflowExecution],
            activities=[runner.record],
        ),
        Worker(client, task_queue=runner_queue, activities=[runner.execute]),
    ):
        handle = await client.start_workflow(
            INVOKE_WORKFLOW,
            InvokeWorkflowInput(execution_id=execution_id, **timeouts),  # type: ignore[arg-type]
            id=invoke_workflow_id(execution_id),
            task_queue=stigmer_queue,
            memo={ACTIVITY_TASK_QUEUE_MEMO: runner_queue},
            result_type=ExecutionOutcome,
        )
        if runner.announce:
            await asyncio.wait_for(runner.called.wait(), timeout=30)
            await asyncio.sleep(3)  # longer than the watchdog: the signal must hold it off
            await client.get_async_activity_handle(task_token=runner.tokens[-1]).complete(
                ExecutionOutcome(execution_id=execution_id, phase="COMPLETED", output=2)
            )
        return await asyncio.wait_for(handle.result(), timeout=60)


async def test_a_lost_handoff_is_handed_off_again(client: Client) -> None:
    runner = StandInRunner(client, lose=1, announce=False)
    outcome = await _invoke(client, runner, runner_start_timeout_seconds=1, handoff_grace_seconds=1)
    assert outcome.phase == "COMPLETED"
    assert outcome.output == 1
    assert runner.calls == 2
    assert runner.failures == []


async def test_a_started_run_is_not_handed_off_again(client: Client) -> None:
    runner = StandInRunner(client, lose=0, announce=True)
    outcome = await _invoke(client, runner, runner_start_timeout_seconds=1, handoff_grace_seconds=1)
    assert outcome.output == 2
    assert runner.calls == 1


async def test_handoffs_run_out_and_the_execution_fails(client: Client) -> None:
    runner = StandInRunner(client, lose=99, announce=False)  # every hand-off is lost
    outcome = await _invoke(
        client, runner, runner_start_timeout_seconds=1, handoff_grace_seconds=0.5, max_handoffs=2
    )
    assert outcome.phase == "FAILED"
    assert len(runner.failures) == 1
    assert "after 2 hand-offs" in runner.failures[0].message
