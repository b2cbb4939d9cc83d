"""`schedule.every` on the fleet: a Temporal schedule starts executions that run to the end;
a newer version takes the schedule over; deleting the workflows stops it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, ScheduleState, WorkflowExecution
from stigmer_core.temporal_contracts import schedule_id
from tests.e2e.conftest import new_fleet
from tests.e2e.fleet import USER_TOKEN, Fleet

pytestmark = pytest.mark.integration


def every_two_seconds(name: str, version: str) -> str:
    return (
        "document:\n"
        "  dsl: '1.0.0'\n"
        "  namespace: tests\n"
        f"  name: {name}\n"
        f"  version: '{version}'\n"
        "schedule:\n"
        "  every: {seconds: 2}\n"
        "do:\n"
        "  - mark:\n"
        "      set:\n"
        f"        version: '{version}'\n"
    )


async def executions_of(api: StigmerClient, workflow_id: str) -> list[WorkflowExecution]:
    page = await api.list_executions(workflow_id=workflow_id, limit=500)
    return [WorkflowExecution.model_validate(item) for item in page.items]


async def wait_completed(
    api: StigmerClient, workflow_id: str, count: int, timeout: float = 60.0
) -> list[WorkflowExecution]:
    """Wait until ``count`` executions of the workflow have COMPLETED; return them all."""
    deadline = time.monotonic() + timeout
    while True:
        executions = await executions_of(api, workflow_id)
        done = [e for e in executions if e.status.phase is ExecutionPhase.COMPLETED]
        if len(done) >= count:
            return executions
        failed = [e for e in executions if e.status.phase is ExecutionPhase.FAILED]
        assert not failed, failed[0].status
        assert time.monotonic() < deadline, f"only {len(done)} of {count} completed"
        await asyncio.sleep(0.5)


async def test_every_starts_executions_and_follows_replace_and_delete(
    api: StigmerClient, fleet: Fleet
) -> None:
    name = f"scheduled-{uuid.uuid4().hex[:6]}"
    temporal = await Client.connect(fleet.temporal_address)
    sid = schedule_id(fleet.env["TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE"], "tests", name)

    v1 = await api.register_workflow(every_two_seconds(name, "1.0.0"))
    assert v1.status.schedule is not None
    assert v1.status.schedule.state is ScheduleState.ACTIVE, v1.status.schedule
    assert v1.status.schedule.schedule_id == sid
    live = await api.get_workflow_schedule(v1.metadata.id)
    assert live.temporal == "ok"
    assert live.next_fire_times, live

    # Executions are created by the schedule and complete like any other.
    first = await wait_completed(api, v1.metadata.id, 2)
    done = [e for e in first if e.status.phase is ExecutionPhase.COMPLETED]
    assert all(e.metadata.labels["stigmer-trigger"] == "schedule" for e in first)
    assert {e.status.output["version"] for e in done} == {"1.0.0"}
    # One execution per fire time: no fire was started twice.
    fired_at = [e.metadata.labels["stigmer-scheduled-at"] for e in first]
    assert len(fired_at) == len(set(fired_at))
    assert (await api.get_workflow_schedule(v1.metadata.id)).fires

    # A newer version takes the schedule over; the older one stops firing.
    v2 = await api.register_workflow(every_two_seconds(name, "2.0.0"))
    assert v2.status.schedule is not None
    assert v2.status.schedule.state is ScheduleState.ACTIVE
    old = await api.get_workflow(v1.metadata.id)
    assert old.status.schedule is not None
    assert old.status.schedule.state is ScheduleState.SUPERSEDED
    await wait_completed(api, v2.metadata.id, 1)
    v1_count = len(await executions_of(api, v1.metadata.id))
    await asyncio.sleep(4.5)
    assert len(await executions_of(api, v1.metadata.id)) == v1_count
    description = await temporal.get_schedule_handle(sid).describe()
    assert v2.metadata.id in (description.schedule.state.note or "")

    # Deleting the newest version hands the schedule back to the newest remaining one ...
    await api.delete_workflow(v2.metadata.id)
    back = await api.get_workflow(v1.metadata.id)
    assert back.status.schedule is not None
    assert back.status.schedule.state is ScheduleState.ACTIVE
    await wait_completed(api, v1.metadata.id, len(done) + 1)

    # ... and deleting the last one deletes the schedule: no more executions.
    await api.delete_workflow(v1.metadata.id)
    with pytest.raises(RPCError) as gone:
        await temporal.get_schedule_handle(sid).describe()
    assert gone.value.status is RPCStatusCode.NOT_FOUND
    await asyncio.sleep(1)  # a fire already running when the schedule went may still land
    settled = len(await executions_of(api, v1.metadata.id))
    await asyncio.sleep(4.5)
    assert len(await executions_of(api, v1.metadata.id)) == settled


async def wait_schedule_state(
    api: StigmerClient, workflow_id: str, state: ScheduleState, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        workflow = await api.get_workflow(workflow_id)
        assert workflow.status.schedule is not None
        if workflow.status.schedule.state is state:
            return
        assert time.monotonic() < deadline, workflow.status.schedule
        await asyncio.sleep(0.5)


async def schedule_exists(temporal: Client, sid: str) -> bool:
    try:
        await temporal.get_schedule_handle(sid).describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_schedules_changed_while_temporal_is_down_are_reconciled(
    tmp_path: Path,
    mongodb_uri: str,
    redis_url: str,
    temporal_server_factory: Callable[..., Any],
) -> None:
    temporal_server = temporal_server_factory()
    fleet = new_fleet(
        tmp_path,
        temporal_server.address,
        mongodb_uri,
        redis_url,
        STIGMER_SCHEDULE_SWEEP_INTERVAL_SECONDS="1",
    )
    queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE"]
    try:
        fleet.start_api()
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            deleted_name, late_name = (
                f"orphan-{uuid.uuid4().hex[:6]}",
                f"late-{uuid.uuid4().hex[:6]}",
            )
            deleted = await api.register_workflow(every_two_seconds(deleted_name, "1.0.0"))
            assert deleted.status.schedule is not None
            assert deleted.status.schedule.state is ScheduleState.ACTIVE

            temporal_server.stop()
            # Deleted while Temporal is down: its schedule is left behind on Temporal.
            await api.delete_workflow(deleted.metadata.id)
            # Registered while Temporal is down: the schedule cannot be created yet.
            late = await api.register_workflow(every_two_seconds(late_name, "1.0.0"))
            assert late.status.schedule is not None
            assert late.status.schedule.state is ScheduleState.PENDING

            temporal_server.start()
            temporal_server.wait_ready()
            fleet.start_orchestrator()
            fleet.start_runner()
            await wait_schedule_state(api, late.metadata.id, ScheduleState.ACTIVE)
            await wait_completed(api, late.metadata.id, 1)

            temporal = await Client.connect(temporal_server.address)
            orphan = schedule_id(queue, "tests", deleted_name)
            deadline = time.monotonic() + 30
            while await schedule_exists(temporal, orphan):
                assert time.monotonic() < deadline, "the orphaned schedule was not deleted"
                await asyncio.sleep(0.5)
            assert await schedule_exists(temporal, schedule_id(queue, "tests", late_name))
    finally:
        fleet.stop()
        temporal_server.stop()
