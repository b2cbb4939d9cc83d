"""``run`` tasks in the real DSL workflow on a Temporal server: payloads, failures, subflows.

The API that resolves ``run: workflow`` is an httpx transport serving one canned page of
workflows (the lookup's own logic is what is under test); Temporal and the processes are
real.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import Metadata, Workflow, WorkflowSpec
from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.activities.processes import ProcessActivities, ProcessLimits
from stigmer_runner.activities.workflow_lookup import WorkflowLookup
from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl_workflow import DslWorkflow

pytestmark = pytest.mark.integration

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "parent", "version": "1.0.0"}
CHILD: dict[str, Any] = {
    "document": {"dsl": "1.0.3", "namespace": "test", "name": "child", "version": "0.2.0"},
    "do": [{"shout": {"set": {"loud": "${ .text | ascii_upcase }"}}}],
}


def _registered(document: dict[str, Any], version: str) -> dict[str, Any]:
    meta = document["document"]
    workflow = Workflow(
        metadata=Metadata(id=f"wf-{version}", name=meta["name"]),
        spec=WorkflowSpec(
            namespace=meta["namespace"], name=meta["name"], version=version, document=document
        ),
    )
    return workflow.to_doc()


def _api(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/workflows" and request.url.params.get("name") == "child":
        old = {**CHILD, "do": [{"old": {"set": {"loud": "old"}}}]}
        items = [_registered(old, "0.1.0"), _registered(CHILD, "0.2.0")]
        return httpx.Response(200, json={"items": items, "next_cursor": None})
    return httpx.Response(200, json={"items": [], "next_cursor": None})


@pytest.fixture
async def client(temporal_address: str) -> Client:
    return await Client.connect(temporal_address)


async def _run(client: Client, document: dict[str, Any], given: Any) -> ExecutionOutcome:
    queue = f"run-tasks-{uuid.uuid4()}"
    processes = ProcessActivities(
        limits=ProcessLimits(allow_shell=True, allow_script=True, timeout_seconds=20)
    )
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(_api), base_url="http://api") as http,
        Worker(
            client,
            task_queue=queue,
            workflows=[DslWorkflow],
            activities=[processes.run, WorkflowLookup(api=StigmerClient(http=http)).resolve],
        ),
    ):
        outcome: ExecutionOutcome = await client.execute_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=f"exec-{uuid.uuid4()}",
                workflow_id="wf-parent",
                document={"document": HEADER, **document},
                input=given,
                child=True,  # no status reports: this test has no API to report to
            ),
            id=f"run-tasks-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=60),
        )
    return outcome


async def test_shell_script_and_subflow_run_durably(client: Client) -> None:
    document = {
        "do": [
            {
                "greet": {
                    "run": {
                        "shell": {
                            "command": 'echo "$GREETING, $1"',
                            "arguments": ["${ .name }"],
                            "environment": {"GREETING": "hello"},
                        },
                        "return": "all",
                    }
                }
            },
            {
                "trim": {
                    "run": {
                        "script": {
                            "language": "python",
                            "stdin": "${ .stdout }",
                            "code": "import sys; print(sys.stdin.read().strip(), end='')",
                        }
                    },
                    "output": {"as": "{ text: . }"},
                }
            },
            {"sub": {"run": {"workflow": {"namespace": "test", "name": "child"}}}},
        ]
    }
    outcome = await _run(client, document, {"name": "ada"})
    assert outcome.error is None
    assert outcome.phase == "COMPLETED"
    assert outcome.output == {"loud": "HELLO, ADA"}


async def test_failures_carry_their_problem_through_temporal(client: Client) -> None:
    failing = {"do": [{"boom": {"run": {"shell": {"command": "echo bad >&2; exit 9"}}}}]}
    outcome = await _run(client, failing, {})
    assert outcome.phase == "FAILED"
    assert outcome.error is not None
    assert outcome.error["type"].endswith("/errors/runtime")
    assert "exited with code 9" in outcome.error["detail"]
    assert outcome.error["instance"] == "/do/0/boom"

    unknown = {"do": [{"sub": {"run": {"workflow": {"namespace": "x", "name": "nope"}}}}]}
    outcome = await _run(client, unknown, {})
    assert outcome.phase == "FAILED"
    assert outcome.error is not None
    assert outcome.error["type"].endswith("/errors/configuration")
    assert "x/nope version latest, which is not registered" in outcome.error["detail"]


async def test_an_unsupported_language_fails_the_task(client: Client) -> None:
    document = {"do": [{"js": {"run": {"script": {"language": "cobol", "code": "x"}}}}]}
    outcome = await _run(client, document, {})
    assert outcome.phase == "FAILED"
    assert outcome.error is not None
    assert outcome.error["type"].endswith("/errors/configuration")
    assert "'cobol' is not supported" in outcome.error["detail"]
