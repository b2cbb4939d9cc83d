"""The API's /metrics and readiness over real HTTP (embedded store and bus, Temporal off)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from stigmer_api.bus.instrumented import InstrumentedBus
from stigmer_api.bus.memory import MemoryBus
from stigmer_api.settings import ApiSettings
from stigmer_api.storage import Collection
from stigmer_api.storage.instrumented import InstrumentedStore
from stigmer_api.storage.sqlite import SqliteStore
from stigmer_core.errors import ConflictError, UnavailableError
from stigmer_core.observability import stigmer_metrics
from tests.api.conftest import USER, ApiServer, _no_temporal, document, serve_api
from tests.metrics_scrape import ascrape, parse
from tests.services import free_port


async def test_requests_creates_and_pending_are_counted(api_server: ApiServer) -> None:
    before = await ascrape(api_server.url)
    async with api_server.client() as http:
        registered = await http.post(
            "/v1/workflows",
            content=document("counted"),
            headers={"Content-Type": "application/yaml"},
        )
        assert registered.status_code == 201, registered.text
        workflow_id = registered.json()["metadata"]["id"]
        for _ in range(2):
            created = await http.post("/v1/executions", json={"workflow_id": workflow_id})
            assert created.status_code == 201
        missing = await http.get("/v1/executions/wex-01J0000000000000000000000A")
        assert missing.status_code == 404
        assert (await http.get("/no/such/path/123")).status_code == 404
    after = await ascrape(api_server.url)

    assert after.value("stigmer_executions_created_total", workflow="tests/counted") == 2
    requests = "stigmer_http_request_duration_seconds_count"

    def delta(**labels: str) -> float:
        return after.value(requests, **labels) - before.value(requests, **labels)

    assert delta(route="/v1/executions", method="POST", status="201") == 2
    # The template, never the id, is the label; unknown paths share one label.
    assert delta(route="/v1/executions/{execution_id}", method="GET", status="404") == 1
    assert delta(route="<unmatched>", method="GET", status="404") == 1
    assert not any("wex-01J" in str(labels) for _, labels, _ in after.samples)
    assert after.value("stigmer_build_info", component="api") == 1
    # Temporal is off: both executions wait in PENDING, as the reconciler counts.
    assert after.types["stigmer_executions_pending"] == "gauge"


async def test_pending_gauge_follows_the_reconciler(api_server: ApiServer) -> None:
    async with api_server.client() as http:
        registered = await http.post(
            "/v1/workflows",
            content=document("pending"),
            headers={"Content-Type": "application/yaml"},
        )
        workflow_id = registered.json()["metadata"]["id"]
        await http.post("/v1/executions", json={"workflow_id": workflow_id})
    pending = await api_server.store.count(
        Collection.EXECUTIONS, {"status.phase": "PENDING", "status.dispatched_at": None}
    )
    for _ in range(50):  # the reconciler samples every 0.2 s here
        page = await ascrape(api_server.url)
        if page.value("stigmer_executions_pending") == pending:
            break
        await asyncio.sleep(0.1)
    assert pending >= 1
    assert page.value("stigmer_executions_pending") == pending


async def test_readiness_requires_temporal_only_when_configured(tmp_path: Path) -> None:
    port = free_port()
    settings = ApiSettings(
        stigmer_api_port=port,
        stigmer_api_token=USER,  # type: ignore[arg-type]
        stigmer_readiness_requires_temporal=True,
    )
    store = await SqliteStore.open(tmp_path / "api.db")
    bus = MemoryBus()
    server, task = await serve_api(settings, store, bus, _no_temporal)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            ready = await http.get("/readyz")
    finally:
        server.should_exit = True
        await task
        await bus.close()
        await store.close()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "checks": {"store": "ok", "bus": "ok", "temporal": "unavailable"},
    }


async def test_store_and_bus_failures_are_counted(tmp_path: Path) -> None:
    before = parse(stigmer_metrics().decode())
    sqlite = await SqliteStore.open(tmp_path / "closed.db")
    store = InstrumentedStore(sqlite)
    await store.insert(Collection.REQUESTS, {"metadata": {"id": "req-1", "version": 1}})
    with pytest.raises(ConflictError):  # an answer, not a failure
        await store.insert(Collection.REQUESTS, {"metadata": {"id": "req-1", "version": 1}})
    await sqlite.close()
    with pytest.raises(UnavailableError):
        await store.get(Collection.REQUESTS, "req-1")
    with pytest.raises(UnavailableError):
        await store.ping()
    memory = MemoryBus()
    bus = InstrumentedBus(memory)
    await memory.close()
    with pytest.raises(UnavailableError):
        await bus.publish("c", "m")
    after = parse(stigmer_metrics().decode())

    def delta(name: str, operation: str) -> float:
        return after.value(name, operation=operation) - before.value(name, operation=operation)

    assert delta("stigmer_store_errors_total", "get") == 1
    assert delta("stigmer_store_errors_total", "ping") == 1
    assert delta("stigmer_store_errors_total", "insert") == 0
    assert delta("stigmer_bus_errors_total", "publish") == 1
