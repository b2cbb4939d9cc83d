"""Failure modes on real services: Temporal down at create, a refused start, a runner
killed mid-run, no runner at all, and cancellation."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import DispatchFailedError
from stigmer_core.model import ExecutionPhase, TaskPhase, WorkflowExecution
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet
from tests.e2e.stub_server import StubServer

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def final_state(
    api: StigmerClient, execution_id: str, timeout: float = 90
) -> WorkflowExecution:
    async def last() -> WorkflowExecution:
        snapshots = [s async for s in api.watch_execution(execution_id)]
        return snapshots[-1]

    return await asyncio.wait_for(last(), timeout=timeout)


async def wait_for_task(
    api: StigmerClient, execution_id: str, task_id: str, timeout: float = 30
) -> None:
    async def poll() -> None:
        while True:
            execution = await api.get_execution(execution_id)
            task = execution.status.task(task_id)
            if task is not None and task.phase is TaskPhase.RUNNING:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout=timeout)


async def test_temporal_down_at_create_then_up(
    tmp_path: Path,
    mongodb_uri: str,
    redis_url: str,
    temporal_server_factory: Callable[..., Any],
) -> None:
    temporal = temporal_server_factory()
    temporal.stop()  # Temporal is down when the API starts: nothing listens on its port
    fleet = new_fleet(tmp_path, temporal.address, mongodb_uri, redis_url)
    try:
        fleet.start_api()
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            ready = await api.ready()
            assert ready["checks"]["temporal"] == "unavailable"
            workflow = await api.register_workflow(
                workflow_yaml(unique("later"), "  - only:\n      set: {late: true}\n")
            )
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            assert execution.status.phase is ExecutionPhase.PENDING
            assert execution.status.dispatched_at is None
            await asyncio.sleep(1.5)  # a few reconciler rounds with Temporal still down
            still = await api.get_execution(execution.metadata.id)
            assert still.status.phase is ExecutionPhase.PENDING

            temporal.start()
            temporal.wait_ready()
            fleet.start_orchestrator()
            fleet.start_runner()
            final = await final_state(api, execution.metadata.id)
            assert final.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
            assert final.status.output == {"late": True}
            assert final.status.dispatched_at is not None
    finally:
        fleet.stop()
        temporal.stop()


async def test_refused_start_fails_the_execution(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, TEMPORAL_NAMESPACE="no-such-namespace"
    )
    try:
        fleet.start_api()
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(
                workflow_yaml(unique("refused"), "  - only:\n      set: {x: 1}\n")
            )
            with pytest.raises(DispatchFailedError) as caught:
                await api.create_execution(workflow_id=workflow.metadata.id)
            assert "no-such-namespace" in caught.value.message
            failed = await api.list_executions(phase="FAILED", workflow_id=workflow.metadata.id)
            assert len(failed.items) == 1
            execution = WorkflowExecution.model_validate(failed.items[0])
            assert execution.status.message is not None
            assert "refused" in execution.status.message
            assert execution.status.error is not None
            assert execution.status.completed_at is not None
    finally:
        fleet.stop()


async def test_runner_killed_mid_run_completes_without_rerunning_tasks(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, stub: StubServer
) -> None:
    fleet = new_fleet(
        tmp_path,
        temporal_address,
        mongodb_uri,
        redis_url,
        STIGMER_RUNNER_TASK_HEARTBEAT_SECONDS="2",
    )
    pet = random.randint(10_000, 99_999)
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        first = fleet.start_runner("runner-1")
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(
                workflow_yaml(
                    unique("survivor"),
                    "  - fetch:\n"
                    "      call: http\n"
                    "      with:\n"
                    "        method: get\n"
                    f"        endpoint: {stub.url}/pets/{pet}\n"
                    "  - slow:\n"
                    "      call: http\n"
                    "      with:\n"
                    "        method: get\n"
                    f"        endpoint: {stub.url}/slow?seconds=3&pet={pet}\n"
                    "  - done:\n"
                    "      set:\n"
                    "        slept: ${ .slept }\n",
                )
            )
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            await wait_for_task(api, execution.metadata.id, "/do/1/slow")
            first.kill()
            fleet.start_runner("runner-2")
            final = await final_state(api, execution.metadata.id)
            assert final.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
            assert final.status.output == {"slept": 3.0}
            assert [t.phase for t in final.status.tasks] == [TaskPhase.COMPLETED] * 3
        # The completed call ran once; only the call in flight at the kill ran again.
        assert stub.hits[f"/pets/{pet}"] == 1
    finally:
        fleet.stop()


async def test_no_runner_fails_with_clear_message(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_RUNNER_START_TIMEOUT_SECONDS="2"
    )
    try:
        fleet.start_api()
        fleet.start_orchestrator()  # and no runner
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(
                workflow_yaml(unique("orphan"), "  - only:\n      set: {x: 1}\n")
            )
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            final = await final_state(api, execution.metadata.id, timeout=60)
            assert final.status.phase is ExecutionPhase.FAILED
            assert final.status.message is not None
            assert "no runner picked up" in final.status.message
            assert (
                fleet.env["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"] in final.status.message
            )
    finally:
        fleet.stop()


async def test_cancel_stops_a_running_execution(fleet: Fleet, stub: StubServer) -> None:
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
        workflow = await api.register_workflow(
            workflow_yaml(
                unique("cancelled"),
                "  - slow:\n"
                "      call: http\n"
                "      with:\n"
                "        method: get\n"
                f"        endpoint: {stub.url}/slow?seconds=5\n"
                "  - never:\n"
                "      set: {reached: true}\n",
            )
        )
        execution = await api.create_execution(workflow_id=workflow.metadata.id)
        await wait_for_task(api, execution.metadata.id, "/do/0/slow")
        cancelled = await api.cancel_execution(execution.metadata.id)
        assert cancelled.status.phase is ExecutionPhase.CANCELLED
        final = await final_state(api, execution.metadata.id, timeout=10)
        assert final.status.phase is ExecutionPhase.CANCELLED
        await asyncio.sleep(6)  # past the slow call: nothing may leave CANCELLED
        after = await api.get_execution(execution.metadata.id)
        assert after.status.phase is ExecutionPhase.CANCELLED
        assert after.status.task("/do/1/never") is None


async def test_sigterm_lets_the_call_in_flight_finish(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str, stub: StubServer
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_SHUTDOWN_GRACE_SECONDS="20"
    )
    pet = random.randint(10_000, 99_999)
    try:
        fleet.start_api()
        fleet.start_orchestrator()
        first = fleet.start_runner("runner-1")
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(
                workflow_yaml(
                    unique("graceful"),
                    "  - slow:\n"
                    "      call: http\n"
                    "      with:\n"
                    "        method: get\n"
                    f"        endpoint: {stub.url}/slow?seconds=2&pet={pet}\n",
                )
            )
            execution = await api.create_execution(workflow_id=workflow.metadata.id)
            await wait_for_task(api, execution.metadata.id, "/do/0/slow")
            # SIGTERM: stop polling, finish the call in flight, exit cleanly.
            exit_code = await asyncio.to_thread(first.stop, 30.0)
            assert exit_code == 0, first.log_tail()
            fleet.start_runner("runner-2")  # replays the DSL workflow and carries on
            final = await final_state(api, execution.metadata.id)
            assert final.status.phase is ExecutionPhase.COMPLETED, fleet.logs()
            assert final.status.output == {"slept": 2.0}
        assert stub.hits["/slow"] >= 1
        assert stub.slow_hits(pet) == 1  # finished by runner-1, not run again by runner-2
    finally:
        fleet.stop()
