"""Nested long loops continue as new on a real Temporal server, and the runs replay.

The DSL workflow runs as a child run (no status reports: this test has no API), with a
budget of a few loop iterations per run, so one execution becomes a chain of runs of the
same workflow id.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, Worker

from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.contracts import DslRunInput, RunOptions
from stigmer_runner.dsl.checkpoint import Checkpoint
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.dsl_workflow import DslWorkflow
from tests.runner.fakes import FakeRuntime
from tests.runner.test_continue_as_new import DOCUMENT, NESTED, _old_shape, run_in_segments

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def _chain(client: Client, workflow_id: str, first_run: str) -> list[WorkflowHistory]:
    """The histories of every run of ``workflow_id``, following continue-as-new."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = first_run
    while run_id is not None:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = None
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


async def test_nested_loops_continue_as_new_and_replay(client: Client) -> None:
    whole, _, _ = await run_in_segments(NESTED, 0)
    _, runs, _ = await run_in_segments(NESTED, 3)
    queue = f"continue-as-new-{uuid.uuid4()}"
    workflow_id = f"continue-as-new-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[DslWorkflow]):
        handle = await client.start_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=f"exec-{uuid.uuid4()}",
                workflow_id="wf-nested",
                document=NESTED,
                input={"who": "ada"},
                options=RunOptions(iterations_per_run=3),
                child=True,
            ),
            id=workflow_id,
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=120),
        )
        outcome: ExecutionOutcome = await handle.result()
    assert outcome.error is None
    assert outcome.phase == "COMPLETED"
    assert outcome.output == whole
    assert handle.first_execution_run_id is not None
    histories = await _chain(client, workflow_id, handle.first_execution_run_id)
    # Cut where the interpreter cuts with the same budget: several runs of one workflow id.
    assert len(histories) == runs >= 4
    replayer = Replayer(workflows=[DslWorkflow])
    for history in histories:
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None


async def test_a_run_continued_by_an_older_runner_completes(client: Client) -> None:
    """During an upgrade, the next run of a chain an older runner cut starts on this one."""
    runtime = FakeRuntime()
    runtime.iterations_per_run = 5
    with pytest.raises(Checkpoint) as cut:
        await Interpreter(DOCUMENT, runtime=runtime).run({"who": "ada"})
    # The input as the older runner sent it to continue-as-new: plain JSON, the old shape.
    old: dict[str, Any] = {
        "execution_id": f"exec-{uuid.uuid4()}",
        "workflow_id": "wf-long-loop",
        "document": DOCUMENT,
        "input": {"who": "ada"},
        "child": True,
        "resume": _old_shape(cut.value.resume),
        "continued": True,
    }
    queue = f"continue-as-new-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[DslWorkflow]):
        outcome: ExecutionOutcome = await client.execute_workflow(
            DSL_WORKFLOW,
            old,
            id=f"continue-as-new-old-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=60),
        )
    whole, _, _ = await run_in_segments(DOCUMENT, 0)
    assert outcome.phase == "COMPLETED"
    assert outcome.output == whole
