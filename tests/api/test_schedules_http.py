"""Schedules and idempotent creates over HTTP, with Temporal switched off (tests/e2e runs
schedules on Temporal)."""

from __future__ import annotations

import asyncio

import httpx

from stigmer_core.model import Workflow
from tests.api.conftest import HEADER, RUNNER, ApiServer

YAML = {"Content-Type": "application/yaml"}


def scheduled(name: str, schedule: str, version: str = "1.0.0") -> str:
    return (
        HEADER.format(name=name, version=version)
        + f"schedule:\n{schedule}"
        + "do:\n  - one:\n      set: {a: 1}\n"
    )


async def register(http: httpx.AsyncClient, body: str) -> Workflow:
    response = await http.post("/v1/workflows", content=body, headers=YAML)
    assert response.status_code == 201, response.text
    return Workflow.model_validate(response.json())


async def test_a_schedule_waits_pending_while_temporal_is_away(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, scheduled("every", "  every: {seconds: 2}\n"))
        assert workflow.status.schedule is not None
        assert workflow.status.schedule.state == "PENDING"
        response = await http.get(f"/v1/workflows/{workflow.metadata.id}/schedule")
        assert response.status_code == 200
        body = response.json()
        assert body["schedule"] == {"every": {"seconds": 2}}
        assert body["status"]["state"] == "PENDING"
        assert body["next_fire_times"] == []


async def test_after_and_on_wait_pending_while_temporal_is_away(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        after = await register(http, scheduled("after", "  after: {minutes: 1}\n"))
        assert after.status.schedule is not None
        assert (after.status.schedule.state, after.status.schedule.kind) == ("PENDING", "after")
        on = await register(
            http, scheduled("on", "  on:\n    one:\n      with: {type: com.example.x}\n")
        )
        assert on.status.schedule is not None
        assert (on.status.schedule.state, on.status.schedule.kind) == ("PENDING", "event")
        # Not ACTIVE yet: a matching event starts nothing.
        async with api_server.client(token=RUNNER) as service:
            response = await service.post(
                "/v1/events",
                json={"specversion": "1.0", "id": "e1", "source": "t", "type": "com.example.x"},
            )
        assert response.status_code == 200, response.text
        assert response.json()["started"] == []


async def test_after_combined_with_every_registers_as_unsupported(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        both = await register(
            http, scheduled("both", "  after: {minutes: 1}\n  every: {minutes: 1}\n")
        )
        assert both.status.schedule is not None
        assert both.status.schedule.state == "UNSUPPORTED"
        assert "cannot be combined" in (both.status.schedule.message or "")


async def test_a_workflow_without_schedule_has_none(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        body = HEADER.format(name="plain", version="1.0.0") + "do:\n  - one:\n      set: {a: 1}\n"
        workflow = await register(http, body)
        assert workflow.status.schedule is None
        response = await http.get(f"/v1/workflows/{workflow.metadata.id}/schedule")
        assert response.json()["status"] is None


async def test_a_cron_that_is_no_cron_is_422(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        response = await http.post(
            "/v1/workflows", content=scheduled("bad", "  cron: banana\n"), headers=YAML
        )
        assert response.status_code == 422
        assert response.json()["field"] == "/schedule/cron"


async def test_create_with_a_request_id_is_idempotent(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, scheduled("idem", "  every: {minutes: 1}\n"))
        body = {"workflow_id": workflow.metadata.id, "request_id": "fire-1"}
        # The runner (service) token may create: the orchestrator starts scheduled runs.
        async with api_server.client(token=RUNNER) as service:
            answers = await asyncio.gather(
                *(service.post("/v1/executions", json=body) for _ in range(5))
            )
        assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
        ids = {a.json()["metadata"]["id"] for a in answers}
        assert len(ids) == 1
        other = await http.post("/v1/executions", json={**body, "request_id": "fire-2"})
        assert other.json()["metadata"]["id"] not in ids
        listed = await http.get("/v1/executions", params={"workflow_id": workflow.metadata.id})
        assert len(listed.json()["items"]) == 2
