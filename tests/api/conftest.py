"""An API served over real HTTP in this process, on the embedded store and bus.

Temporal is deliberately unreachable here (a connector that always fails), so these
tests pin down the API's own behaviour; tests/e2e runs it against Temporal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from temporalio.client import Client

from stigmer_api.app import create_app
from stigmer_api.bus.memory import MemoryBus
from stigmer_api.main import _Server
from stigmer_api.settings import ApiSettings
from stigmer_api.storage.sqlite import SqliteStore
from tests.services import free_port

USER = "user-secret"
RUNNER = "runner-secret"


async def _no_temporal() -> Client:
    raise RuntimeError("Temporal is switched off in API tests")


@dataclass
class ApiServer:
    url: str
    store: SqliteStore
    bus: MemoryBus

    def client(self, token: str | None = USER) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)


async def serve_api(
    settings: ApiSettings,
    store: SqliteStore,
    bus: MemoryBus,
    connect: Callable[[], Awaitable[Client]],
) -> tuple[_Server, asyncio.Task[None]]:
    import uvicorn

    app = create_app(settings, store=store, bus=bus, connect_temporal=connect)
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.stigmer_api_port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.02)
    return server, task


@pytest_asyncio.fixture
async def api_server(tmp_path: Path) -> AsyncIterator[ApiServer]:
    port = free_port()
    settings = ApiSettings(
        stigmer_api_port=port,
        stigmer_api_token=USER,  # type: ignore[arg-type]
        stigmer_runner_token=RUNNER,  # type: ignore[arg-type]
        stigmer_reconcile_interval_seconds=0.2,
        stigmer_sse_keepalive_seconds=0.5,
    )
    store = await SqliteStore.open(tmp_path / "api.db")
    bus = MemoryBus()
    server, task = await serve_api(settings, store, bus, _no_temporal)
    try:
        yield ApiServer(url=f"http://127.0.0.1:{port}", store=store, bus=bus)
    finally:
        server.should_exit = True
        await task
        await bus.close()
        await store.close()


HEADER = "document:\n  dsl: '1.0.0'\n  namespace: tests\n  name: {name}\n  version: '{version}'\n"


def document(name: str = "demo", version: str = "1.0.0", tasks: str | None = None) -> str:
    body = tasks if tasks is not None else "  - one:\n      set: {a: 1}\n"
    return HEADER.format(name=name, version=version) + "do:\n" + body


def json_of(response: httpx.Response) -> Any:
    return response.json()
