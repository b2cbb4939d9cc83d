"""A wide fork's status reports are coalesced on a real Temporal server, and the run replays.

Every branch flushes its buffered task events before it blocks; flushes that come while a
report is in flight share one follow-up report. The report and completion local activities
here record what they are sent, standing in for the API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Replayer, Worker

from stigmer_core.model import ExecutionPhase, ExecutionStatus, TaskPhase
from stigmer_core.status import StatusUpdate, apply_update
from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.contracts import (
    COMPLETE_ACTIVITY,
    REPORT_ACTIVITY,
    CompleteExecute,
    DslRunInput,
    ExecutionReport,
)
from stigmer_runner.dsl_workflow import DslWorkflow

pytestmark = pytest.mark.integration

BRANCHES = 20


def fork_document(branches: int) -> dict[str, Any]:
    """A fork of ``branches`` branches that each wait (a timer: they flush first)."""
    return {
        "document": {"dsl": "1.0.0", "namespace": "test", "name": "wide", "version": "1.0.0"},
        "do": [
            {"start": {"set": {"n": 1}}},
            {
                "fanOut": {
                    "fork": {
                        "branches": [
                            {f"b{i}": {"wait": {"milliseconds": 10}, "output": {"as": str(i)}}}
                            for i in range(branches)
                        ]
                    }
                }
            },
        ],
    }


class ApiStandIn:
    """The report and completion local activities, recording what they are sent."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.outcomes: list[dict[str, Any]] = []

    @activity.defn(name=REPORT_ACTIVITY)
    async def report(self, report: ExecutionReport) -> bool:
        self.reports.append(report.update)
        return True

    @activity.defn(name=COMPLETE_ACTIVITY)
    async def complete(self, request: CompleteExecute) -> None:
        self.outcomes.append(request.outcome)


async def run_wide_fork(
    client: Client, api: ApiStandIn, branches: int
) -> WorkflowHandle[Any, ExecutionOutcome]:
    queue = f"coalescing-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[DslWorkflow], activities=[api.report, api.complete]
    ):
        handle: WorkflowHandle[Any, ExecutionOutcome] = await client.start_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=f"exec-{uuid.uuid4()}",
                workflow_id="wf-wide",
                document=fork_document(branches),
                input={},
                completion_token="dG9rZW4=",
            ),
            id=f"coalescing-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=60),
        )
        await handle.result()
    return handle


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def test_a_wide_fork_sends_a_few_reports_with_the_same_status(client: Client) -> None:
    api = ApiStandIn()
    handle = await run_wide_fork(client, api, BRANCHES)
    # The first branch's flush, one follow-up for the other branches, and the final status.
    assert len(api.reports) <= 4, [sorted(r) for r in api.reports]
    status = ExecutionStatus()
    for update in api.reports:
        status = apply_update(status, StatusUpdate.model_validate(update), datetime.now(UTC))
    assert status.phase is ExecutionPhase.COMPLETED
    assert status.output == list(range(BRANCHES))
    assert len(status.tasks) == 2 + BRANCHES  # start, fanOut and every branch
    assert {task.phase for task in status.tasks} == {TaskPhase.COMPLETED}
    # Every branch was reported RUNNING before its timer started, not only at the end.
    reported_running = {
        task["id"]
        for update in api.reports[:-1]
        for task in update.get("tasks", [])
        if task["phase"] == "RUNNING"
    }
    assert len([t for t in reported_running if "/fork/branches/" in t]) == BRANCHES
    assert api.outcomes[0]["phase"] == "COMPLETED"
    history = await handle.fetch_history()
    result = await Replayer(workflows=[DslWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None
