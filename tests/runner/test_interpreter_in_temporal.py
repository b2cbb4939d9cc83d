"""The interpreter inside Temporal's workflow sandbox, then replayed from its history."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client

from tests.runner.sandbox_runs import replays, run_sandboxed

pytestmark = pytest.mark.integration

DOCUMENT: dict[str, Any] = {
    "document": {"dsl": "1.0.3", "namespace": "default", "name": "sandbox", "version": "1.0.0"},
    "do": [
        {
            "getPet": {
                "call": "http",
                "with": {"method": "get", "endpoint": {"uri": "{base}/pets/{petId}"}},
                "output": {"as": "{ pet: .name, at: (now | todate), id: $workflow.id }"},
                "export": {"as": "$context + { seen: .pet }"},
            }
        },
        {
            "check": {
                "do": [
                    {
                        "missing": {
                            "if": '${ $context.seen != "Rex" }',
                            "raise": {"error": {"type": "https://example.com/x", "status": 400}},
                        }
                    },
                    {"done": {"set": {"pet": "${ .pet }", "context": "${ $context }"}}},
                ]
            }
        },
        {
            "broken": {
                "call": "http",
                "with": {"method": "get", "endpoint": "{base}/status/503"},
            }
        },
    ],
}


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def test_interpreter_runs_sandboxed_and_replays(client: Client, server: str) -> None:
    document = _with_base(DOCUMENT, server)
    workflow_id = f"interpreter-sandbox-{uuid.uuid4()}"
    result, handle = await run_sandboxed(
        client,
        {"document": document, "input": {"petId": 7}},
        name="interpreter-sandbox",
        workflow_id=workflow_id,
    )

    assert (
        result["error"]["type"] == "https://serverlessworkflow.io/spec/1.0.0/errors/communication"
    )
    assert result["error"]["status"] == 503
    assert result["error"]["instance"] == "/do/2/broken"
    phases = [(e["task_id"], e["phase"]) for e in result["events"]]
    assert phases == [
        ("/do/0/getPet", "RUNNING"),
        ("/do/0/getPet", "COMPLETED"),
        ("/do/1/check", "RUNNING"),
        ("/do/1/check/do/0/missing", "SKIPPED"),
        ("/do/1/check/do/1/done", "RUNNING"),
        ("/do/1/check/do/1/done", "COMPLETED"),
        ("/do/1/check", "COMPLETED"),
        ("/do/2/broken", "RUNNING"),
        ("/do/2/broken", "FAILED"),
    ]
    got_pet = result["events"][1]["output"]
    assert got_pet["pet"] == "Rex"
    assert got_pet["id"] == workflow_id
    assert result["events"][6]["output"] == {"pet": "Rex", "context": {"seen": "Rex"}}

    # Replaying the recorded history runs the interpreter again; any nondeterminism fails.
    await replays(handle)


def _with_base(value: Any, base: str) -> Any:
    if isinstance(value, str):
        return value.replace("{base}", base)
    if isinstance(value, dict):
        return {k: _with_base(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_base(v, base) for v in value]
    return value
