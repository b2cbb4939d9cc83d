"""One execution end to end on real Temporal, MongoDB (wire protocol) and Redis,
with API, orchestrator and runner as separate processes."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import ValidationFailedError
from stigmer_core.model import ExecutionPhase, TaskPhase, WorkflowExecution
from tests.e2e.conftest import workflow_yaml
from tests.e2e.fleet import RUNNER_TOKEN, Fleet
from tests.e2e.stub_server import StubServer

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def watch_all(api: StigmerClient, execution_id: str) -> list[WorkflowExecution]:
    return [snapshot async for snapshot in api.watch_execution(execution_id)]


async def test_happy_path_seen_in_order_over_sse(api: StigmerClient, stub: StubServer) -> None:
    document = workflow_yaml(
        unique("happy"),
        "  - start:\n"
        "      set:\n"
        "        petId: ${ .petId }\n"
        "  - fetch:\n"
        "      call: http\n"
        "      with:\n"
        "        method: get\n"
        f"        endpoint: {stub.url}/pets/{{petId}}\n"
        "  - finish:\n"
        "      set:\n"
        "        name: ${ .name }\n"
        '        greeting: ${ "hello " + .name }\n',
    )
    workflow = await api.register_workflow(document)
    execution = await api.create_execution(workflow_id=workflow.metadata.id, input={"petId": 7})
    snapshots = await asyncio.wait_for(watch_all(api, execution.metadata.id), timeout=60)

    phases = [s.status.phase for s in snapshots]
    assert phases[-1] is ExecutionPhase.COMPLETED, snapshots[-1].status
    assert ExecutionPhase.IN_PROGRESS in phases
    sequences = [s.status.sequence for s in snapshots]
    assert sequences == sorted(set(sequences)), "sequence must strictly increase"
    # Tasks appear in document order, each ending COMPLETED, and are never dropped.
    final = snapshots[-1].status
    assert [t.id for t in final.tasks] == ["/do/0/start", "/do/1/fetch", "/do/2/finish"]
    assert all(t.phase is TaskPhase.COMPLETED for t in final.tasks)
    seen_counts = [len(s.status.tasks) for s in snapshots]
    assert seen_counts == sorted(seen_counts)
    assert final.output == {"name": "Rex", "greeting": "hello Rex"}
    assert final.started_at is not None
    assert final.completed_at is not None
    assert final.task("/do/1/fetch").output == {"id": 7, "name": "Rex", "status": "available"}  # type: ignore[union-attr]


async def test_failing_task_fails_the_execution(api: StigmerClient) -> None:
    document = workflow_yaml(
        unique("fails"),
        "  - ok:\n"
        "      set: {a: 1}\n"
        "  - boom:\n"
        "      raise:\n"
        "        error:\n"
        "          type: https://serverlessworkflow.io/spec/1.0.0/errors/validation\n"
        "          status: 400\n"
        "          title: Bad input\n",
    )
    workflow = await api.register_workflow(document)
    execution = await api.create_execution(workflow_id=workflow.metadata.id)
    snapshots = await asyncio.wait_for(watch_all(api, execution.metadata.id), timeout=60)
    final = snapshots[-1].status
    assert final.phase is ExecutionPhase.FAILED
    assert final.error is not None
    assert final.error["status"] == 400
    assert final.error["title"] == "Bad input"
    assert final.error["instance"] == "/do/1/boom"
    assert final.task("/do/1/boom").phase is TaskPhase.FAILED  # type: ignore[union-attr]
    assert final.task("/do/0/ok").phase is TaskPhase.COMPLETED  # type: ignore[union-attr]


async def test_subscribe_after_terminal_closes_at_once(api: StigmerClient) -> None:
    workflow = await api.register_workflow(
        workflow_yaml(unique("quick"), "  - only:\n      set: {done: true}\n")
    )
    execution = await api.create_execution(workflow_id=workflow.metadata.id)
    await asyncio.wait_for(watch_all(api, execution.metadata.id), timeout=60)
    again = await asyncio.wait_for(watch_all(api, execution.metadata.id), timeout=5)
    assert len(again) == 1
    assert again[0].status.phase is ExecutionPhase.COMPLETED
    assert again[0].status.output == {"done": True}


async def test_fifty_concurrent_task_updates_lose_none(
    fleet: Fleet, api: StigmerClient, stub: StubServer
) -> None:
    # The execution waits on a slow call, so it is IN_PROGRESS while 50 writers report.
    workflow = await api.register_workflow(
        workflow_yaml(
            unique("updates"),
            "  - wait:\n"
            "      call: http\n"
            "      with:\n"
            "        method: get\n"
            f"        endpoint: {stub.url}/slow?seconds=4\n",
        )
    )
    execution = await api.create_execution(workflow_id=workflow.metadata.id)
    execution_id = execution.metadata.id
    for _ in range(100):
        if (await api.get_execution(execution_id)).status.phase is ExecutionPhase.IN_PROGRESS:
            break
        await asyncio.sleep(0.1)

    async with httpx.AsyncClient(
        base_url=fleet.api_url, headers={"Authorization": f"Bearer {RUNNER_TOKEN}"}
    ) as http:

        async def report(i: int) -> int:
            task = {"id": f"/extra/{i}", "name": f"t{i}", "type": "set", "phase": "COMPLETED"}
            response = await http.post(
                f"/v1/executions/{execution_id}/status", json={"tasks": [task]}
            )
            assert response.status_code == 200, response.text
            sequence: int = response.json()["status"]["sequence"]
            return sequence

        sequences = await asyncio.gather(*(report(i) for i in range(50)))
    # Each update was applied on its own: 50 distinct sequence numbers.
    assert len(set(sequences)) == 50
    final = (await asyncio.wait_for(watch_all(api, execution_id), timeout=60))[-1].status
    assert final.phase is ExecutionPhase.COMPLETED
    ids = {t.id for t in final.tasks}
    assert {f"/extra/{i}" for i in range(50)} <= ids
    assert "/do/0/wait" in ids


async def test_invalid_document_is_422_with_pointer(fleet: Fleet, api: StigmerClient) -> None:
    document = workflow_yaml(
        unique("invalid"),
        "  - fetch:\n      call: http\n      with:\n        method: get\n",
    )
    with pytest.raises(ValidationFailedError) as caught:
        await api.register_workflow(document)
    assert caught.value.field == "/do/0/fetch/with"
    assert "endpoint" in caught.value.message
    listed = await api.list_workflows(name=document.split("name: ")[1].split("\n")[0])
    assert listed.items == []  # nothing half-written
