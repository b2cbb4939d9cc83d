"""``listen`` and ``emit`` end to end: events through the API to waiting executions, on
real Temporal, MongoDB (wire protocol) and Redis, with API, orchestrator and runner as
separate processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Replayer

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from stigmer_core.temporal_contracts import dsl_workflow_id
from stigmer_runner.dsl_workflow import DslWorkflow
from tests.e2e.conftest import workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def finished(api: StigmerClient, execution_id: str) -> WorkflowExecution:
    last = None
    async for snapshot in api.watch_execution(execution_id):
        last = snapshot
    assert last is not None
    return last


async def subscribed(http: httpx.AsyncClient, execution_id: str, timeout: float = 60) -> None:
    """Wait until the execution's listen task has registered its filters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/executions/{execution_id}/subscriptions")
        if response.status_code == 200 and response.json():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{execution_id} never subscribed")


async def start_listener(api: StigmerClient, event_type: str) -> str:
    document = workflow_yaml(
        unique("listener"),
        "  - waitForIt:\n"
        "      listen:\n"
        "        to:\n"
        "          one:\n"
        "            with:\n"
        f"              type: {event_type}\n"
        "              data: ${ .ready == true }\n",
    )
    workflow = await api.register_workflow(document)
    execution = await api.create_execution(workflow_id=workflow.metadata.id)
    return execution.metadata.id


def cloud_event(event_type: str, data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "https://tests.example",
        "type": event_type,
        "data": data,
    }


async def test_a_listening_execution_completes_with_the_event_posted_to_the_api(
    api: StigmerClient, fleet: Fleet
) -> None:
    event_type = f"com.example.{uuid.uuid4().hex[:8]}.ready"
    execution_id = await start_listener(api, event_type)
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=10) as http:
        await subscribed(http, execution_id)
        # Delivered (it matches the literal type) but not consumed: data fails the filter.
        early = await http.post("/v1/events", json=cloud_event(event_type, {"ready": False}))
        assert early.json()["delivered_to"] == [execution_id]
        response = await http.post("/v1/events", json=cloud_event(event_type, {"ready": True}))
        assert response.status_code == 200, response.text
        assert response.json()["delivered_to"] == [execution_id]
        final = await asyncio.wait_for(finished(api, execution_id), timeout=60)
        assert final.status.phase is ExecutionPhase.COMPLETED, final.status
        assert final.status.output == [{"ready": True}]
        # The listen task removed its subscription on the way out.
        remaining = await http.get(f"/v1/executions/{execution_id}/subscriptions")
        assert remaining.json() == []
        late = await http.post("/v1/events", json=cloud_event(event_type, {"ready": True}))
        assert late.json()["delivered_to"] == []


async def test_an_emitted_event_reaches_another_listening_execution(
    api: StigmerClient, fleet: Fleet, temporal_address: str
) -> None:
    event_type = f"com.example.{uuid.uuid4().hex[:8]}.ready"
    listener_id = await start_listener(api, event_type)
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=10) as http:
        await subscribed(http, listener_id)
    emitter = await api.register_workflow(
        workflow_yaml(
            unique("emitter"),
            "  - announce:\n"
            "      emit:\n"
            "        event:\n"
            "          with:\n"
            "            source: https://emitter.example\n"
            f"            type: {event_type}\n"
            "            data:\n"
            "              ready: ${ .go }\n"
            "              by: emitter\n",
        )
    )
    emitting = await api.create_execution(workflow_id=emitter.metadata.id, input={"go": True})
    emitted = await asyncio.wait_for(finished(api, emitting.metadata.id), timeout=60)
    assert emitted.status.phase is ExecutionPhase.COMPLETED, emitted.status
    event = emitted.status.output
    assert event["type"] == event_type
    assert event["source"] == "https://emitter.example"
    assert event["specversion"] == "1.0"
    assert {"id", "time"} <= set(event)

    heard = await asyncio.wait_for(finished(api, listener_id), timeout=60)
    assert heard.status.phase is ExecutionPhase.COMPLETED, heard.status
    assert heard.status.output == [{"ready": True, "by": "emitter"}]

    # Both runs replay from their histories: emit's id and the listen's inbox handling are
    # deterministic.
    temporal = await Client.connect(temporal_address)
    for execution_id in (emitting.metadata.id, listener_id):
        history = await temporal.get_workflow_handle(dsl_workflow_id(execution_id)).fetch_history()
        await Replayer(workflows=[DslWorkflow]).replay_workflow(history)


async def test_a_listen_inside_a_child_run_hears_the_execution_s_events(
    api: StigmerClient, fleet: Fleet
) -> None:
    event_type = f"com.example.{uuid.uuid4().hex[:8]}.child"
    child_name = unique("child-listener")
    await api.register_workflow(
        workflow_yaml(
            child_name,
            "  - waitForIt:\n"
            "      listen:\n"
            "        to:\n"
            "          one:\n"
            "            with:\n"
            f"              type: {event_type}\n",
        )
    )
    parent = await api.register_workflow(
        workflow_yaml(
            unique("parent"),
            "  - callChild:\n"
            "      run:\n"
            "        workflow:\n"
            "          namespace: tests\n"
            f"          name: {child_name}\n"
            "          version: '1.0.0'\n",
        )
    )
    execution = await api.create_execution(workflow_id=parent.metadata.id)
    execution_id = execution.metadata.id
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=10) as http:
        await subscribed(http, execution_id)
        response = await http.post("/v1/events", json=cloud_event(event_type, {"from": "test"}))
        assert response.json()["delivered_to"] == [execution_id]
        final = await asyncio.wait_for(finished(api, execution_id), timeout=60)
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == [{"from": "test"}]
