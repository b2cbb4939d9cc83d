"""Tracing end to end: API, orchestrator and runner as processes exporting OTLP/HTTP to a
local receiver; one execution is one trace, from the create request to each task and the
HTTP call a task makes."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from tests.e2e.conftest import workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet, running_fleet
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.e2e.stub_server import StubServer

pytestmark = pytest.mark.integration

SERVER, CLIENT = 2, 3  # OTLP SpanKind values


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as found:
        yield found


@pytest.fixture(scope="module")
def traced_fleet(
    receiver: OtlpReceiver,
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    with running_fleet(
        tmp_path_factory.mktemp("traced"),
        temporal_address=temporal_address,
        mongodb_uri=mongodb_uri,
        redis_url=redis_url,
        extra_env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        },
    ) as fleet:
        yield fleet


async def _run(fleet: Fleet, document: str) -> WorkflowExecution:
    async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
        workflow = await api.register_workflow(document)
        execution = await api.create_execution(workflow_id=workflow.metadata.id, input={})
        snapshots = [s async for s in api.watch_execution(execution.metadata.id)]
        assert snapshots[-1].status.phase is ExecutionPhase.COMPLETED, snapshots[-1].status
        return await api.get_execution(execution.metadata.id)


def _json_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith("{")]


def _one(spans: list[ReceivedSpan], service: str, name: str) -> ReceivedSpan:
    found = [s for s in spans if s.service == service and s.name == name]
    assert len(found) == 1, (service, name, render_tree(spans))
    return found[0]


def render_tree(spans: list[ReceivedSpan]) -> str:
    """The trace as an indented tree (what docs/tracing.md shows)."""
    by_parent: dict[str, list[ReceivedSpan]] = {}
    ids = {s.span_id for s in spans}
    for span in sorted(spans, key=lambda s: s.start_ns):
        parent = span.parent_span_id if span.parent_span_id in ids else ""
        by_parent.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for span in by_parent.get(parent, []):
            task = span.attributes.get("stigmer.task.pointer")
            extra = f" {task} ({span.attributes.get('stigmer.task.outcome')})" if task else ""
            lines.append(f"{'  ' * depth}{span.name}{extra}  [{span.service}]")
            walk(span.span_id, depth + 1)

    walk("", 0)
    return "\n".join(lines)


async def test_one_trace_from_the_request_to_each_task(
    traced_fleet: Fleet, receiver: OtlpReceiver, stub: StubServer, tmp_path: Path
) -> None:
    name = f"traced-{uuid.uuid4().hex[:6]}"
    execution = await _run(
        traced_fleet,
        workflow_yaml(
            name,
            "  - start:\n"
            "      set:\n"
            "        petId: 7\n"
            "  - fetch:\n"
            "      call: http\n"
            "      with:\n"
            "        method: get\n"
            f"        endpoint: {stub.url}/pets/{{petId}}\n",
        ),
    )
    trace_id = execution.status.trace_id
    assert trace_id is not None
    assert len(trace_id) == 32
    assert int(trace_id, 16) > 0

    def complete(spans: list[ReceivedSpan]) -> bool:
        names = {(s.service, s.name) for s in spans}
        return {
            ("stigmer-api", "POST /v1/executions"),
            ("stigmer-orchestrator", "RunWorkflow:stigmer/workflow-execution/invoke"),
            ("stigmer-runner", "RunWorkflow:stigmer/dsl/run"),
            ("stigmer-orchestrator", "CompleteWorkflow:stigmer/workflow-execution/invoke"),
        } <= names and sum(s.name.startswith("Task:") for s in spans) == 2

    spans = await asyncio.to_thread(receiver.wait_for, complete, trace_id)
    tree = render_tree(spans)
    (tmp_path / "trace.txt").write_text(tree)
    print(tree)
    assert complete(spans), tree

    # API: the request is the root; the Temporal start its child.
    request = _one(spans, "stigmer-api", "POST /v1/executions")
    assert request.parent_span_id == ""
    assert request.kind == SERVER
    start = _one(spans, "stigmer-api", "StartWorkflow:stigmer/workflow-execution/invoke")
    assert start.parent_span_id == request.span_id
    assert start.kind == CLIENT
    # Orchestrator: the invoke workflow runs in the start's context and hands off.
    invoke = _one(spans, "stigmer-orchestrator", "RunWorkflow:stigmer/workflow-execution/invoke")
    assert invoke.parent_span_id == start.span_id
    handoff = _one(spans, "stigmer-orchestrator", "StartActivity:ExecuteWorkflow")
    assert handoff.parent_span_id == start.span_id
    # Runner: ExecuteWorkflow signal-with-starts the DSL workflow within its own span.
    execute = _one(spans, "stigmer-runner", "RunActivity:ExecuteWorkflow")
    assert execute.parent_span_id == handoff.span_id
    signal_start = _one(spans, "stigmer-runner", "SignalWithStartWorkflow:stigmer/dsl/run")
    assert signal_start.parent_span_id == execute.span_id
    dsl = _one(spans, "stigmer-runner", "RunWorkflow:stigmer/dsl/run")
    assert dsl.parent_span_id == signal_start.span_id

    # One span per task, children of the DSL run's context, with their real durations.
    tasks = {s.attributes["stigmer.task.pointer"]: s for s in spans if s.name.startswith("Task:")}
    assert set(tasks) == {"/do/0/start", "/do/1/fetch"}
    for pointer, task in tasks.items():
        assert task.parent_span_id == signal_start.span_id, pointer
        assert task.attributes["stigmer.execution.id"] == execution.metadata.id
        assert task.attributes["stigmer.task.outcome"] == "completed"
        assert task.end_ns >= task.start_ns
    assert tasks["/do/0/start"].name == "Task:set"
    assert tasks["/do/1/fetch"].name == "Task:call"
    assert tasks["/do/1/fetch"].end_ns > tasks["/do/1/fetch"].start_ns
    assert tasks["/do/0/start"].end_ns <= tasks["/do/1/fetch"].start_ns

    # The task's HTTP call carried the trace: its parent is the runner's activity span.
    http_activities = [
        s
        for s in spans
        if s.service == "stigmer-runner" and s.name.startswith("RunActivity:") and "http" in s.name
    ]
    assert len(http_activities) == 1, tree
    received = stub.headers["/pets/7"][-1]["traceparent"]
    version, header_trace, header_parent, flags = received.split("-")
    assert (version, header_trace) == ("00", trace_id)
    assert int(flags, 16) & 1, "sampled"
    assert header_parent == http_activities[0].span_id

    # Status reports from the runner land in the same trace as API spans.
    assert any(
        s.service == "stigmer-api" and s.name == "POST /v1/executions/{execution_id}/status"
        for s in spans
    ), tree

    # Log lines of every process name the execution and carry the trace.
    for process in traced_fleet.processes:
        lines = [json.loads(line) for line in _json_lines(process.log_path)]
        ours = [line for line in lines if line.get("execution_id") == execution.metadata.id]
        assert ours, f"no log line of {process.name} names the execution"
        assert any(line.get("trace_id") == trace_id for line in ours), process.name
