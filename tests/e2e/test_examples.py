"""The worked examples of ``examples/``: every one registers, and they run on the fleet.

Each ``examples/*.yaml`` is sent as written to ``POST /v1/workflows`` of a fleet (API,
orchestrator and runner as processes on real Temporal, MongoDB and Redis). The examples
that call a service take its base URL as input, so here they call the local stub server
(tests/e2e/stub_server.py); the event example is completed by posting its CloudEvent to the
API. Pet and order ids are unique to each test so the stub's hit counts are its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.dsl_document import load_yaml
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from tests.e2e.fleet import USER_TOKEN, Fleet
from tests.e2e.stub_server import StubServer

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PATHS = sorted(EXAMPLES.glob("*.yaml"))
RUN_TIMEOUT_SECONDS = 60.0


@pytest.fixture(scope="module")
async def registered(fleet: Fleet) -> AsyncIterator[dict[str, str | Exception]]:
    """Every example registered once on the module's fleet: file stem -> workflow id, or
    the error registering it raised (checked by test_every_example_registers)."""
    results: dict[str, str | Exception] = {}
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as client:
        for path in PATHS:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
            try:
                workflow = await client.register_workflow(text)
            except Exception as exc:  # reported per example, not as a fixture error
                results[path.stem] = exc
            else:
                assert workflow.spec.document == load_yaml(text)
                results[path.stem] = workflow.metadata.id
        yield results


async def run(
    api: StigmerClient, registered: dict[str, str | Exception], stem: str, given: Any
) -> WorkflowExecution:
    workflow_id = registered[stem]
    assert isinstance(workflow_id, str), f"{stem} did not register: {workflow_id}"
    execution = await api.create_execution(workflow_id=workflow_id, input=given)
    return await asyncio.wait_for(finished(api, execution.metadata.id), RUN_TIMEOUT_SECONDS)


async def finished(api: StigmerClient, execution_id: str) -> WorkflowExecution:
    last = None
    async for snapshot in api.watch_execution(execution_id):
        last = snapshot
    assert last is not None
    return last


def test_the_examples_are_there() -> None:
    stems = {path.stem for path in PATHS}
    assert {"hello", "order-approval", "fan-out", "wait-for-event"} <= stems


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
async def test_every_example_registers(path: Path, registered: dict[str, str | Exception]) -> None:
    result = registered[path.stem]
    assert isinstance(result, str), f"{path.name} was refused: {result}"
    assert result.startswith("wfl-")


async def test_hello_greets(api: StigmerClient, registered: dict[str, str | Exception]) -> None:
    final = await run(api, registered, "hello", {"name": "Ada"})
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == {"greeting": "Hello, Ada!"}


async def test_order_approval_small_order_calls_nothing(
    api: StigmerClient, registered: dict[str, str | Exception], stub: StubServer
) -> None:
    final = await run(
        api, registered, "order-approval", {"orderId": 9101, "amount": 40, "api": stub.url}
    )
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == {"orderId": 9101, "decision": "approved", "checked": False}
    assert stub.hits["/pets/9101"] == 0
    assert final.status.task("/do/3/checkStock") is None  # the switch jumped past it


async def test_order_approval_large_order_asks_the_stock_service(
    api: StigmerClient, registered: dict[str, str | Exception], stub: StubServer
) -> None:
    final = await run(
        api, registered, "order-approval", {"orderId": 9102, "amount": 500, "api": stub.url}
    )
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == {"orderId": 9102, "decision": "approved", "checked": True}
    assert stub.hits["/pets/9102"] == 1


async def test_order_approval_retries_a_failing_service_then_fails(
    api: StigmerClient, registered: dict[str, str | Exception], stub: StubServer
) -> None:
    broken = f"{stub.url}/broken"  # the stub answers 404 under this prefix
    final = await run(
        api, registered, "order-approval", {"orderId": 9103, "amount": 500, "api": broken}
    )
    assert final.status.phase is ExecutionPhase.FAILED, final.status
    assert final.status.error is not None
    assert final.status.error["status"] == 404
    assert final.status.error["instance"] == "/do/3/checkStock/try/0/lookup"
    assert stub.hits["/broken/pets/9103"] == 4  # the first attempt and 3 retries


async def test_order_approval_input_schema_refuses_a_bad_order(
    api: StigmerClient, registered: dict[str, str | Exception]
) -> None:
    final = await run(api, registered, "order-approval", {"orderId": "x", "amount": 1})
    assert final.status.phase is ExecutionPhase.FAILED, final.status
    assert final.status.error is not None
    assert final.status.error["type"].endswith("/errors/validation")
    assert final.status.error["instance"] == "/input/schema"


async def test_fan_out_fetches_every_pet_and_quote(
    api: StigmerClient, registered: dict[str, str | Exception], stub: StubServer
) -> None:
    pets = [9201, 9202, 9203]
    final = await run(api, registered, "fan-out", {"api": stub.url, "petIds": pets})
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == {
        "pets": [{"id": pet, "name": "Rex", "slept": 0.2} for pet in pets]
    }
    assert [stub.hits[f"/pets/{pet}"] for pet in pets] == [1, 1, 1]
    assert [stub.slow_hits(pet) for pet in pets] == [1, 1, 1]


async def test_wait_for_event_completes_with_the_matching_payment(
    api: StigmerClient, registered: dict[str, str | Exception], fleet: Fleet
) -> None:
    workflow_id = registered["wait-for-event"]
    assert isinstance(workflow_id, str), workflow_id
    execution = await api.create_execution(workflow_id=workflow_id, input={"orderId": 9301})
    execution_id = execution.metadata.id
    headers = {"Authorization": f"Bearer {USER_TOKEN}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=10) as http:
        await subscribed(http, execution_id)
        # Another order's payment reaches the execution (same type) but does not correlate.
        other = await http.post("/v1/events", json=paid(9300, 1.0))
        assert other.json()["delivered_to"] == [execution_id]
        ours = await http.post("/v1/events", json=paid(9301, 12.5))
        assert ours.status_code == 200, ours.text
        final = await asyncio.wait_for(finished(api, execution_id), RUN_TIMEOUT_SECONDS)
    assert final.status.phase is ExecutionPhase.COMPLETED, final.status
    assert final.status.output == {"orderId": 9301, "paid": 12.5}


def paid(order: int, amount: float) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "https://shop.example",
        "type": "com.example.order.paid",
        "data": {"orderId": order, "amount": amount},
    }


async def subscribed(http: httpx.AsyncClient, execution_id: str, timeout: float = 60) -> None:
    """Wait until the execution's listen task has registered its filters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await http.get(f"/v1/executions/{execution_id}/subscriptions")
        if response.status_code == 200 and response.json():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{execution_id} never subscribed")
