"""POST /v1/events and listen subscriptions, with Temporal switched off (see conftest).

Delivery through Temporal is covered in tests/e2e/test_events_e2e.py.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stigmer_api.cloud_events import event_matches
from stigmer_api.storage import Collection
from tests.api.conftest import RUNNER, ApiServer, document

YAML = {"Content-Type": "application/yaml"}
TASK = "/do/0/waitForIt"


def cloud_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "https://tests.example",
        "type": "com.example.ready",
        "data": {"n": 1},
    }
    event.update(overrides)
    return {k: v for k, v in event.items() if v is not None}


async def new_execution(http: httpx.AsyncClient) -> str:
    registered = await http.post("/v1/workflows", content=document("listener"), headers=YAML)
    assert registered.status_code in (200, 201), registered.text
    created = await http.post(
        "/v1/executions", json={"workflow_id": registered.json()["metadata"]["id"]}
    )
    assert created.status_code == 201, created.text
    execution_id: str = created.json()["metadata"]["id"]
    return execution_id


@pytest.mark.parametrize("missing", ["specversion", "id", "source", "type"])
async def test_an_event_without_a_required_attribute_is_422_naming_it(
    api_server: ApiServer, missing: str
) -> None:
    async with api_server.client() as http:
        response = await http.post("/v1/events", json=cloud_event(**{missing: None}))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid"
    assert response.json()["field"] == missing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (cloud_event(specversion="0.3"), "specversion"),
        (cloud_event(id=""), "id"),
        (cloud_event(type=7), "type"),
        (cloud_event(subject=["x"]), "subject"),
        (cloud_event(data_base64="AAE="), "data_base64"),
        ([cloud_event()], "body"),
    ],
)
async def test_malformed_events_are_422(api_server: ApiServer, body: Any, field: str) -> None:
    async with api_server.client() as http:
        response = await http.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


async def test_a_body_that_is_not_json_is_422(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        response = await http.post(
            "/v1/events",
            content=b"{not json",
            headers={"Content-Type": "application/cloudevents+json"},
        )
    assert response.status_code == 422
    assert response.json()["field"] == "body"


async def test_an_oversized_event_is_422(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        response = await http.post("/v1/events", json=cloud_event(data="x" * (1024 * 1024)))
    assert response.status_code == 422
    assert response.json()["field"] == "body"


async def test_an_event_nobody_listens_for_is_delivered_to_nobody(api_server: ApiServer) -> None:
    async with api_server.client(token=RUNNER) as http:
        response = await http.post(
            "/v1/events",
            content=httpx.Request("POST", "/", json=cloud_event()).content,
            headers={"Content-Type": "application/cloudevents+json"},
        )
    assert response.status_code == 200, response.text
    assert response.json() == {"event_id": "evt-1", "delivered_to": [], "started": []}


async def test_publishing_needs_a_token(api_server: ApiServer) -> None:
    async with api_server.client(token=None) as http:
        response = await http.post("/v1/events", json=cloud_event())
    assert response.status_code == 401


async def test_subscriptions_are_upserted_listed_and_removed(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        execution_id = await new_execution(http)
    path = f"/v1/executions/{execution_id}/subscriptions"
    async with api_server.client(token=RUNNER) as runner:
        first = await runner.put(path, json={"task": TASK, "filters": [{"type": "a"}]})
        assert first.status_code == 200, first.text
        again = await runner.put(path, json={"task": TASK, "filters": [{"type": "b"}]})
        assert again.json()["metadata"]["version"] == 2
        other = await runner.put(path, json={"task": "/do/1/other", "filters": [{}]})
        assert other.status_code == 200
        listed = (await runner.get(path)).json()
        assert sorted((s["task"], s["filters"][0].get("type")) for s in listed) == [
            ("/do/0/waitForIt", "b"),
            ("/do/1/other", None),
        ]
        assert (await runner.delete(path, params={"task": TASK})).status_code == 204
        assert [s["task"] for s in (await runner.get(path)).json()] == ["/do/1/other"]
        assert (await runner.delete(path)).status_code == 204
        assert (await runner.get(path)).json() == []


async def test_subscribing_needs_a_live_execution(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        missing = await http.put(
            "/v1/executions/wex-nope/subscriptions", json={"task": TASK, "filters": []}
        )
        assert missing.status_code == 404
        execution_id = await new_execution(http)
        path = f"/v1/executions/{execution_id}/subscriptions"
        no_task = await http.put(path, json={"filters": []})
        assert no_task.status_code == 422
        assert no_task.json()["field"] == "task"
        assert (await http.post(f"/v1/executions/{execution_id}/cancel")).status_code == 200
        over = await http.put(path, json={"task": TASK, "filters": []})
        assert over.status_code == 409
        assert over.json()["field"] == "execution_id"


async def test_a_matching_event_is_503_while_temporal_is_unreachable(
    api_server: ApiServer,
) -> None:
    async with api_server.client() as http:
        execution_id = await new_execution(http)
        subscribed = await http.put(
            f"/v1/executions/{execution_id}/subscriptions",
            json={"task": TASK, "filters": [{"type": "com\\.example\\..*"}]},
        )
        assert subscribed.status_code == 200
        unmatched = await http.post("/v1/events", json=cloud_event(type="org.other"))
        assert unmatched.json()["delivered_to"] == []
        response = await http.post("/v1/events", json=cloud_event())
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"


async def test_subscriptions_of_finished_executions_are_dropped_on_delivery(
    api_server: ApiServer,
) -> None:
    async with api_server.client() as http:
        execution_id = await new_execution(http)
        path = f"/v1/executions/{execution_id}/subscriptions"
        await http.put(path, json={"task": TASK, "filters": [{}]})
        await http.post(f"/v1/executions/{execution_id}/cancel")
        response = await http.post("/v1/events", json=cloud_event())
        assert response.status_code == 200
        assert response.json()["delivered_to"] == []
    assert await api_server.store.list(Collection.SUBSCRIPTIONS) == []


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ([{}], True),
        ([], False),
        ([{"type": "com.example.ready"}], True),
        ([{"type": "com\\.example\\.(ready|done)"}], True),
        ([{"type": "com.example"}], False),
        ([{"type": "x"}, {"source": "https://tests.example"}], True),
        ([{"type": "com.example.ready", "subject": "s"}], False),
        ([{"data": {"n": 1}}], True),
        ([{"data": {"n": 2}}], False),
    ],
)
def test_routing_filters(filters: list[dict[str, Any]], matches: bool) -> None:
    assert event_matches(filters, cloud_event()) is matches
