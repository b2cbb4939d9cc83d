"""``schedule.after`` and ``schedule.on`` on the fleet (API, orchestrator and runner
processes on real Temporal, MongoDB and Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from stigmer_api.scheduling.after_loops import AfterLoops
from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, ScheduleKind, ScheduleState, WorkflowExecution
from stigmer_core.temporal_contracts import after_loop_id
from tests.e2e.fleet import USER_TOKEN, Fleet
from tests.e2e.test_schedules import executions_of, wait_completed

pytestmark = pytest.mark.integration


def document(name: str, version: str, schedule: str, tasks: str) -> str:
    return (
        "document:\n"
        "  dsl: '1.0.0'\n"
        "  namespace: tests\n"
        f"  name: {name}\n"
        f"  version: '{version}'\n"
        f"schedule:\n{schedule}"
        f"do:\n{tasks}"
    )


AFTER_ONE_SECOND = "  after: {seconds: 1}\n"
# Long enough that a loop that did not wait for the end would overlap executions.
SLOW_TASKS = "  - slow:\n      wait: {seconds: 2}\n  - mark:\n      set: {done: true}\n"


async def test_after_starts_the_next_execution_only_after_the_previous_one_ended(
    api: StigmerClient, fleet: Fleet
) -> None:
    name = f"after-{uuid.uuid4().hex[:6]}"
    queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE"]
    temporal = await Client.connect(fleet.temporal_address)
    try:
        await after_scenario(api, temporal, queue, name)
    finally:  # a failed run must not leave its loop on the shared Temporal
        with contextlib.suppress(RPCError):
            await temporal.get_workflow_handle(after_loop_id(queue, "tests", name)).terminate()


async def after_scenario(api: StigmerClient, temporal: Client, queue: str, name: str) -> None:
    v1 = await api.register_workflow(document(name, "1.0.0", AFTER_ONE_SECOND, SLOW_TASKS))
    status = v1.status.schedule
    assert status is not None
    assert (status.state, status.kind) == (ScheduleState.ACTIVE, ScheduleKind.AFTER), status
    assert status.schedule_id == after_loop_id(queue, "tests", name)

    # Never two at once: watch while the loop runs three rounds.
    deadline = time.monotonic() + 90
    executions: list[WorkflowExecution] = []
    while True:
        executions = await executions_of(api, v1.metadata.id)
        running = [e for e in executions if not e.status.phase.terminal]
        assert len(running) <= 1, [e.metadata.id for e in running]
        done = [e for e in executions if e.status.phase is ExecutionPhase.COMPLETED]
        if len(done) >= 3:
            break
        assert not [e for e in executions if e.status.phase is ExecutionPhase.FAILED]
        assert time.monotonic() < deadline, f"only {len(done)} rounds completed"
        await asyncio.sleep(0.3)
    ordered = sorted(executions, key=lambda e: e.metadata.created_at)
    assert all(e.metadata.labels["stigmer-trigger"] == "after" for e in ordered)
    for previous, following in itertools.pairwise(ordered):
        assert previous.status.completed_at is not None
        # The next round starts `after` (1 s) after the previous execution ended.
        gap = following.metadata.created_at - previous.status.completed_at
        assert gap >= timedelta(seconds=0.9), (previous.metadata.id, following.metadata.id, gap)

    # The reconciler's sweep finds running loops on Temporal (to stop orphans).
    loops = AfterLoops(
        task_queue=queue,
        rpc_timeout=timedelta(seconds=5),
        start_timeout_seconds=60,
        poll_max_seconds=30,
    )
    deadline = time.monotonic() + 30
    while ("tests", name) not in await loops.names(temporal):
        assert time.monotonic() < deadline, "the running loop is not listed"
        await asyncio.sleep(0.5)

    # A newer version takes the loop over; the older one starts nothing more.
    v2 = await api.register_workflow(document(name, "2.0.0", AFTER_ONE_SECOND, SLOW_TASKS))
    assert v2.status.schedule is not None
    assert v2.status.schedule.state is ScheduleState.ACTIVE
    old = await api.get_workflow(v1.metadata.id)
    assert old.status.schedule is not None
    assert old.status.schedule.state is ScheduleState.SUPERSEDED
    await wait_completed(api, v2.metadata.id, 1)
    v1_count = len(await executions_of(api, v1.metadata.id))
    await asyncio.sleep(4)
    assert len(await executions_of(api, v1.metadata.id)) == v1_count

    # Deleting both versions ends the loop.
    await api.delete_workflow(v2.metadata.id)
    await api.delete_workflow(v1.metadata.id)
    description = await temporal.get_workflow_handle(status.schedule_id).describe()
    assert description.status is WorkflowExecutionStatus.TERMINATED


def cloud_event(event_type: str, event_id: str, data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://tests.example",
        "type": event_type,
        "data": data,
    }


async def wait_output(api: StigmerClient, execution_id: str) -> WorkflowExecution:
    last = None
    async for snapshot in api.watch_execution(execution_id):
        last = snapshot
    assert last is not None
    assert last.status.phase is ExecutionPhase.COMPLETED, last.status
    return last


async def test_a_matching_event_starts_one_execution_with_the_event_as_input(
    api: StigmerClient, fleet: Fleet
) -> None:
    name = f"on-{uuid.uuid4().hex[:6]}"
    paid = f"com.example.order.paid.{uuid.uuid4().hex[:6]}"
    workflow = await api.register_workflow(
        document(
            name,
            "1.0.0",
            f"  on:\n    one:\n      with: {{type: {paid}}}\n",
            "  - handle:\n      set:\n        order: ${ $workflow.input[0].data.order }\n"
            "        eventId: ${ $workflow.input[0].id }\n",
        )
    )
    assert workflow.status.schedule is not None
    assert (workflow.status.schedule.state, workflow.status.schedule.kind) == (
        ScheduleState.ACTIVE,
        ScheduleKind.EVENT,
    )
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=30) as http:
        # An event of another type starts nothing.
        other = await http.post("/v1/events", json=cloud_event(paid + ".not", "e-0", {}))
        assert other.status_code == 200, other.text
        assert other.json()["started"] == []

        event = cloud_event(paid, f"order-42-{uuid.uuid4().hex[:6]}", {"order": 42})
        first = await http.post("/v1/events", json=event)
        assert first.status_code == 200, first.text
        (execution_id,) = first.json()["started"]
        # The same event again (a retried post) starts no second execution.
        again = await http.post("/v1/events", json=event)
        assert again.json()["started"] == [execution_id]

    done = await wait_output(api, execution_id)
    assert done.status.output == {"order": 42, "eventId": event["id"]}
    assert done.spec.input == [event]
    assert done.metadata.labels["stigmer-trigger"] == "event"
    assert [e.metadata.id for e in await executions_of(api, workflow.metadata.id)] == [execution_id]


async def test_all_starts_one_execution_per_complete_set_of_events(
    api: StigmerClient, fleet: Fleet
) -> None:
    name = f"on-all-{uuid.uuid4().hex[:6]}"
    prefix = f"com.example.{uuid.uuid4().hex[:6]}"
    workflow = await api.register_workflow(
        document(
            name,
            "1.0.0",
            "  on:\n    all:\n"
            f"      - with: {{type: {prefix}.paid}}\n"
            f"      - with: {{type: {prefix}.packed}}\n",
            "  - handle:\n      set:\n        types: '${ [$workflow.input[].type] }'\n",
        )
    )
    assert workflow.status.schedule is not None
    assert workflow.status.schedule.state is ScheduleState.ACTIVE
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=30) as http:
        packed = cloud_event(f"{prefix}.packed", "p-1", {})
        first = await http.post("/v1/events", json=packed)
        assert first.json()["started"] == []
        # Posting the same event again does not complete the set.
        assert (await http.post("/v1/events", json=packed)).json()["started"] == []
        paid = cloud_event(f"{prefix}.paid", "a-1", {})
        complete = await http.post("/v1/events", json=paid)
        (execution_id,) = complete.json()["started"]
        assert (await http.post("/v1/events", json=paid)).json()["started"] == []

    done = await wait_output(api, execution_id)
    assert done.spec.input == [paid, packed]  # filter order
    assert done.status.output == {"types": [f"{prefix}.paid", f"{prefix}.packed"]}
    assert len(await executions_of(api, workflow.metadata.id)) == 1
