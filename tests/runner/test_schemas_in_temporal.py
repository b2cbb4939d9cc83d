"""Schema validation inside Temporal's workflow sandbox: jsonschema must import and run there."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from tests.runner.sandbox_workflow import InterpreterWorkflow

pytestmark = pytest.mark.integration

DOCUMENT: dict[str, Any] = {
    "document": {"dsl": "1.0.3", "namespace": "default", "name": "schemas", "version": "1.0.0"},
    "input": {"schema": {"document": {"type": "object", "required": ["n"]}}},
    "do": [
        {
            "double": {
                "set": {"n": "${ .n * 2 }"},
                "output": {
                    "schema": {
                        "format": "json",
                        "document": {
                            "type": "object",
                            "properties": {"n": {"type": "integer", "maximum": 10}},
                        },
                    }
                },
            }
        }
    ],
}


async def _run(client: Client, given: Any) -> tuple[dict[str, Any], Any]:
    queue = f"schemas-sandbox-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[InterpreterWorkflow],
        # A sandbox violation fails the run at once instead of retrying the task forever.
        workflow_failure_exception_types=[Exception],
    ):
        handle = await client.start_workflow(
            InterpreterWorkflow.run,
            {"document": DOCUMENT, "input": given},
            id=f"schemas-sandbox-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=60),
        )
        result: dict[str, Any] = await handle.result()
    return result, await handle.fetch_history()


async def test_schemas_validate_inside_the_sandbox_and_replay(temporal_address: str) -> None:
    client = await Client.connect(temporal_address)

    passed, history = await _run(client, {"n": 3})
    assert passed["error"] is None
    assert passed["output"] == {"n": 6}
    await Replayer(workflows=[InterpreterWorkflow]).replay_workflow(history)

    failed, history = await _run(client, {"n": 7})
    assert failed["error"]["type"] == ("https://serverlessworkflow.io/spec/1.0.0/errors/validation")
    assert failed["error"]["instance"] == "/do/0/double"
    assert "$.n" in failed["error"]["detail"]
    await Replayer(workflows=[InterpreterWorkflow]).replay_workflow(history)

    rejected, _ = await _run(client, {"m": 1})
    assert rejected["error"]["instance"] == "/input/schema"
    assert "'n' is a required property" in rejected["error"]["detail"]
