"""The HTTP API's contract: validation, errors, auth, idempotency, pagination, SSE."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from stigmer_api.storage import Collection
from tests.api.conftest import RUNNER, ApiServer, document

YAML = {"Content-Type": "application/yaml"}


async def register(http: httpx.AsyncClient, body: str) -> dict[str, object]:
    response = await http.post("/v1/workflows", content=body, headers=YAML)
    assert response.status_code in (200, 201), response.text
    data: dict[str, object] = response.json()
    return data


async def test_register_is_idempotent_per_version(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        first = await http.post("/v1/workflows", content=document("idem"), headers=YAML)
        assert first.status_code == 201
        assert first.json()["apiVersion"] == "stigmer.io/v1"
        assert first.json()["kind"] == "Workflow"
        assert first.json()["metadata"]["id"].startswith("wfl-")
        again = await http.post("/v1/workflows", content=document("idem"), headers=YAML)
        assert again.status_code == 200
        assert again.json()["metadata"]["id"] == first.json()["metadata"]["id"]
        changed = document("idem", tasks="  - other:\n      set: {b: 2}\n")
        clash = await http.post("/v1/workflows", content=changed, headers=YAML)
        assert clash.status_code == 409
        assert clash.json()["field"] == "/document/version"
        as_json = await http.post(
            "/v1/workflows",
            json={
                "document": {
                    "dsl": "1.0.0",
                    "namespace": "tests",
                    "name": "idem-json",
                    "version": "1.0.0",
                },
                "do": [{"one": {"set": {"a": 1}}}],
            },
        )
        assert as_json.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (document(tasks="  - f:\n      call: http\n      with: {method: get}\n"), "/do/0/f/with"),
        ("document: {dsl: 1.0.0}\ndo: []\n", "/document"),
        ("do: [\n", ""),
        ("[1, 2]", ""),
    ],
)
async def test_invalid_document_is_422_naming_the_pointer(
    api_server: ApiServer, body: str, field: str
) -> None:
    async with api_server.client() as http:
        response = await http.post("/v1/workflows", content=body, headers=YAML)
        assert response.status_code == 422
        payload = response.json()
        assert payload["error"] == "invalid"
        assert payload["field"] == field
        assert "Traceback" not in response.text
        listed = await http.get("/v1/workflows")
        assert listed.json()["items"] == []


async def test_unknown_ids_are_404_with_json(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        for path in ("/v1/workflows/wfl-nope", "/v1/instances/win-nope", "/v1/executions/wex-nope"):
            response = await http.get(path)
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"
        response = await http.get("/v1/nowhere")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


async def test_create_execution_validation(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        neither = await http.post("/v1/executions", json={})
        assert neither.status_code == 422
        assert neither.json()["field"] == "workflow_id"
        missing = await http.post(
            "/v1/executions", json={"workflow_id": "wfl-01J00000000000000000000000"}
        )
        assert missing.status_code == 404
        assert missing.json()["field"] == "workflow_id"
        bad_env = await http.post("/v1/executions", json={"workflow_id": "x", "env": {"A": [1]}})
        assert bad_env.status_code == 422
        assert bad_env.json()["field"] == "env.A"
        not_json = await http.post(
            "/v1/executions", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 422


async def test_execution_waits_pending_without_temporal(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("pending"))
        created = await http.post(
            "/v1/executions",
            json={"workflow_id": workflow["metadata"]["id"], "input": {"x": 1}},  # type: ignore[index]
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["status"]["phase"] == "PENDING"
        assert body["status"]["dispatched_at"] is None
        assert body["status"]["temporal_workflow_id"] == (
            f"stigmer/workflow-execution/invoke/{body['metadata']['id']}"
        )
        assert body["spec"]["input"] == {"x": 1}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"store": "ok", "bus": "ok", "temporal": "unavailable"}


async def test_concurrent_first_runs_create_one_default_instance(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("race"))
        workflow_id = workflow["metadata"]["id"]  # type: ignore[index]
        responses = await asyncio.gather(
            *(http.post("/v1/executions", json={"workflow_id": workflow_id}) for _ in range(20))
        )
        assert all(r.status_code == 201 for r in responses)
        instance_ids = {r.json()["spec"]["instance_id"] for r in responses}
        assert len(instance_ids) == 1
        instances = await http.get("/v1/instances", params={"workflow_id": workflow_id})
        assert len(instances.json()["items"]) == 1
        assert instances.json()["items"][0]["spec"]["default"] is True


async def test_explicit_instance_env_is_merged(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("envs"))
        instance = await http.post(
            "/v1/instances",
            json={"workflow_id": workflow["metadata"]["id"], "env": {"A": "1", "B": "1"}},  # type: ignore[index]
        )
        assert instance.status_code == 201
        created = await http.post(
            "/v1/executions",
            json={"instance_id": instance.json()["metadata"]["id"], "env": {"B": "2"}},
        )
        assert created.json()["spec"]["env"] == {"A": "1", "B": "2"}
        wrong = await http.post(
            "/v1/executions",
            json={
                "instance_id": instance.json()["metadata"]["id"],
                "workflow_id": "wfl-01J00000000000000000000000",
            },
        )
        assert wrong.status_code == 422
        assert wrong.json()["field"] == "workflow_id"


async def test_list_executions_pages_newest_first(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("pages"))
        ids = []
        for _ in range(5):
            created = await http.post(
                "/v1/executions",
                json={"workflow_id": workflow["metadata"]["id"]},  # type: ignore[index]
            )
            ids.append(created.json()["metadata"]["id"])
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, "phase": "PENDING"} | ({"cursor": cursor} if cursor else {})
            page = (await http.get("/v1/executions", params=params)).json()
            seen += [item["metadata"]["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        none = await http.get("/v1/executions", params={"phase": "COMPLETED"})
        assert none.json()["items"] == []
        bad = await http.get("/v1/executions", params={"phase": "DONE"})
        assert bad.status_code == 422
        assert bad.json()["field"] == "phase"
        too_many = await http.get("/v1/executions", params={"limit": 10_000})
        assert too_many.status_code == 422
        assert too_many.json()["field"] == "limit"


async def test_tokens_and_roles(api_server: ApiServer) -> None:
    async with api_server.client(token=None) as anonymous:
        response = await anonymous.get("/v1/workflows")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert (await anonymous.get("/healthz")).status_code == 200
    async with api_server.client(token="wrong") as wrong:
        assert (await wrong.get("/v1/workflows")).status_code == 401
    async with api_server.client() as user:
        workflow = await register(user, document("roles"))
        created = await user.post(
            "/v1/executions",
            json={"workflow_id": workflow["metadata"]["id"]},  # type: ignore[index]
        )
        execution_id = created.json()["metadata"]["id"]
    async with api_server.client(token=RUNNER) as runner:
        assert (await runner.get(f"/v1/executions/{execution_id}")).status_code == 200
        forbidden = await runner.post("/v1/workflows", content=document("x"), headers=YAML)
        assert forbidden.status_code == 403
        update = await runner.post(
            f"/v1/executions/{execution_id}/status", json={"phase": "IN_PROGRESS"}
        )
        assert update.status_code == 200
        assert update.json()["status"]["phase"] == "IN_PROGRESS"


async def test_terminal_phase_is_sticky_over_http(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("sticky"))
        created = await http.post(
            "/v1/executions",
            json={"workflow_id": workflow["metadata"]["id"]},  # type: ignore[index]
        )
        execution_id = created.json()["metadata"]["id"]
        cancelled = await http.post(f"/v1/executions/{execution_id}/cancel")
        assert cancelled.json()["status"]["phase"] == "CANCELLED"
        again = await http.post(
            f"/v1/executions/{execution_id}/status", json={"phase": "COMPLETED"}
        )
        assert again.status_code == 409
        assert again.json()["error"] == "terminal"
        assert (await http.post(f"/v1/executions/{execution_id}/cancel")).status_code == 409


async def _sse(
    http: httpx.AsyncClient,
    execution_id: str,
    into: list[dict[str, object]],
    first: asyncio.Event | None = None,
) -> None:
    async with http.stream("GET", f"/v1/executions/{execution_id}/events") as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                into.append(json.loads(line[5:]))
                if first is not None:
                    first.set()


async def test_sse_snapshot_first_then_every_update_then_close(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("sse"))
        created = await http.post(
            "/v1/executions",
            json={"workflow_id": workflow["metadata"]["id"]},  # type: ignore[index]
        )
        execution_id = created.json()["metadata"]["id"]
        events: list[dict[str, object]] = []
        first = asyncio.Event()
        watcher = asyncio.create_task(_sse(http, execution_id, events, first))
        await asyncio.wait_for(first.wait(), timeout=5)
        updates = (
            [{"phase": "IN_PROGRESS"}]
            + [
                {"tasks": [{"id": f"/do/{i}/t", "name": "t", "type": "set", "phase": "COMPLETED"}]}
                for i in range(5)
            ]
            + [{"phase": "COMPLETED", "output": {"ok": True}}]
        )
        for update in updates:
            response = await http.post(f"/v1/executions/{execution_id}/status", json=update)
            assert response.status_code == 200
        await asyncio.wait_for(watcher, timeout=10)
        sequences = [e["status"]["sequence"] for e in events]  # type: ignore[index]
        first = sequences[0]
        assert sequences == list(range(first, first + len(updates) + 1))
        assert events[-1]["status"]["phase"] == "COMPLETED"  # type: ignore[index]
        # Subscribing to a terminal execution: one snapshot, then the stream closes.
        late: list[dict[str, object]] = []
        await asyncio.wait_for(_sse(http, execution_id, late), timeout=5)
        assert len(late) == 1
        assert late[0]["status"]["output"] == {"ok": True}  # type: ignore[index]


async def test_sse_catches_up_from_the_store_when_a_publish_is_lost(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        workflow = await register(http, document("lost"))
        created = await http.post(
            "/v1/executions",
            json={"workflow_id": workflow["metadata"]["id"]},  # type: ignore[index]
        )
        execution_id = created.json()["metadata"]["id"]
        events: list[dict[str, object]] = []
        first = asyncio.Event()
        watcher = asyncio.create_task(_sse(http, execution_id, events, first))
        await asyncio.wait_for(first.wait(), timeout=5)
        # Write straight to the store, as if the bus had dropped the message.
        doc = await api_server.store.get(Collection.EXECUTIONS, execution_id)
        assert doc is not None
        doc["status"]["phase"] = "COMPLETED"
        doc["status"]["sequence"] += 1
        doc["metadata"]["version"] += 1
        assert await api_server.store.replace(
            Collection.EXECUTIONS, doc, expected_version=doc["metadata"]["version"] - 1
        )
        await asyncio.wait_for(watcher, timeout=5)  # keep-alive interval is 0.5 s here
        assert events[-1]["status"]["phase"] == "COMPLETED"  # type: ignore[index]


async def test_openapi_lists_the_routes(api_server: ApiServer) -> None:
    async with api_server.client(token=None) as http:
        spec = (await http.get("/openapi.json")).json()
        paths = set(spec["paths"])
        assert {
            "/v1/workflows",
            "/v1/workflows/{workflow_id}",
            "/v1/instances",
            "/v1/executions",
            "/v1/executions/{execution_id}",
            "/v1/executions/{execution_id}/cancel",
            "/v1/executions/{execution_id}/status",
            "/v1/executions/{execution_id}/events",
            "/healthz",
            "/readyz",
        } <= paths
        body = spec["paths"]["/v1/workflows"]["post"]["requestBody"]["content"]
        assert "application/yaml" in body
