"""Metrics and probes of the fleet's processes after real executions (issue 4, items 1, 4, 6).

Counters and histograms are read as deltas between two scrapes (other tests may share a
process) or, when labelled by a workflow this test registered, as absolute values.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet, ServiceProcess
from tests.e2e.stub_server import StubServer
from tests.metrics_scrape import Scrape, ascrape, scrape
from tests.services import free_port

pytestmark = pytest.mark.integration


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def watch_to_end(api: StigmerClient, execution_id: str) -> WorkflowExecution:
    snapshots = [s async for s in api.watch_execution(execution_id)]
    return snapshots[-1]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait until ``check()`` is true."""
    deadline = time.monotonic() + timeout
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def workers_ready(fleet: Fleet) -> list[ServiceProcess]:
    workers = [p for p in fleet.processes if p.observability_port]
    assert [p.name for p in workers] == ["orchestrator", "runner"]
    for worker in workers:
        fleet.wait_worker_ready(worker)
    return workers


async def test_executions_move_the_counters_and_histograms(
    fleet: Fleet, api: StigmerClient, stub: StubServer, workers_ready: list[ServiceProcess]
) -> None:
    orchestrator, runner = workers_ready
    before_api, before_runner = scrape(fleet.api_url), scrape(runner.observability_url)

    ok = await api.register_workflow(
        workflow_yaml(
            unique("metrics-ok"),
            "  - start:\n"
            "      set: {petId: 7}\n"
            "  - fetch:\n"
            "      call: http\n"
            "      with:\n"
            "        method: get\n"
            f"        endpoint: {stub.url}/pets/7\n",
        )
    )
    failing = await api.register_workflow(
        workflow_yaml(
            unique("metrics-fail"),
            "  - first:\n"
            "      set: {a: 1}\n"
            "  - boom:\n"
            "      raise:\n"
            "        error:\n"
            "          type: https://serverlessworkflow.io/spec/1.0.0/errors/validation\n"
            "          status: 400\n"
            "          title: Bad input\n",
        )
    )
    created = [
        await api.create_execution(workflow_id=ok.metadata.id),
        await api.create_execution(workflow_id=failing.metadata.id),
    ]
    finals = await asyncio.wait_for(
        asyncio.gather(*(watch_to_end(api, e.metadata.id) for e in created)), timeout=90
    )
    assert [f.status.phase for f in finals] == [ExecutionPhase.COMPLETED, ExecutionPhase.FAILED]
    ok_label, failing_label = (f"tests/{w.spec.name}" for w in (ok, failing))

    after_api = scrape(fleet.api_url)
    # Workflow-labelled series are this test's own: absolute values.
    assert after_api.value("stigmer_executions_created_total", workflow=ok_label) == 1
    assert after_api.value("stigmer_executions_created_total", workflow=failing_label) == 1
    finished = "stigmer_executions_finished_total"
    assert after_api.value(finished, workflow=ok_label, phase="COMPLETED") == 1
    assert after_api.value(finished, workflow=failing_label, phase="FAILED") == 1
    assert after_api.value(finished, workflow=ok_label, phase="FAILED") == 0
    duration = "stigmer_execution_duration_seconds"
    assert after_api.value(f"{duration}_count", workflow=ok_label, phase="COMPLETED") == 1
    assert after_api.value(f"{duration}_sum", workflow=ok_label, phase="COMPLETED") > 0
    assert after_api.types[duration] == "histogram"

    def delta(name: str, **labels: str) -> float:
        return after_api.value(name, **labels) - before_api.value(name, **labels)

    # Each run: dispatched_at, IN_PROGRESS, task reports, the terminal update.
    assert delta("stigmer_status_updates_total", outcome="applied") >= 6
    requests = "stigmer_http_request_duration_seconds_count"
    assert delta(requests, route="/v1/executions", method="POST", status="201") == 2
    assert delta(requests, route="/v1/executions/{execution_id}/events", method="GET") == 2
    assert after_api.value("stigmer_build_info", component="api") == 1
    assert after_api.has("stigmer_executions_pending")
    # Both streams ended with their executions.
    assert after_api.value("stigmer_sse_subscribers") == before_api.value("stigmer_sse_subscribers")

    # Task durations and reports are recorded by the runner's report activity.
    after_runner = scrape(runner.observability_url)

    def task_delta(task_type: str, outcome: str) -> float:
        name = "stigmer_task_duration_seconds_count"
        labels = {"task_type": task_type, "outcome": outcome}
        return after_runner.value(name, **labels) - before_runner.value(name, **labels)

    assert task_delta("set", "completed") == 2
    assert task_delta("call", "completed") == 1
    assert task_delta("raise", "failed") == 1
    reports = "stigmer_task_reports_total"
    assert after_runner.value(reports, outcome="applied") > before_runner.value(
        reports, outcome="applied"
    )
    assert after_runner.value("stigmer_build_info", component="runner") == 1

    # The Temporal SDK's metrics follow on the same page.
    queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"]
    for worker_type in ("WorkflowWorker", "ActivityWorker", "LocalActivityWorker"):
        assert after_runner.has(
            "temporal_worker_task_slots_available", task_queue=queue, worker_type=worker_type
        )
    assert after_runner.value("temporal_num_pollers", task_queue=queue) > 0
    schedule_to_start = "temporal_activity_schedule_to_start_latency_seconds_count"
    assert after_runner.value(schedule_to_start, task_queue=queue) > 0
    assert after_runner.value("temporal_workflow_task_queue_poll_succeed_total") > 0

    orchestrator_page = scrape(orchestrator.observability_url)
    stigmer_queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_STIGMER_TASK_QUEUE"]
    assert orchestrator_page.value("stigmer_build_info", component="orchestrator") == 1
    assert (
        orchestrator_page.value(
            "temporal_workflow_task_schedule_to_start_latency_seconds_count",
            task_queue=stigmer_queue,
        )
        >= 2
    )

    async def invoke_workflows_ended() -> bool:
        # The invoke workflow ends just after the execution's terminal status is written.
        page = await ascrape(orchestrator.observability_url)
        (Path(fleet.workdir) / "orchestrator-metrics.txt").write_text(page.text)
        invoke = {"workflow_type": "stigmer/workflow-execution/invoke", "task_queue": stigmer_queue}
        return page.value("temporal_workflow_completed_total", **invoke) >= 2

    await eventually(invoke_workflows_ended)
    (Path(fleet.workdir) / "runner-metrics.txt").write_text(after_runner.text)
    (Path(fleet.workdir) / "api-metrics.txt").write_text(after_api.text)


async def test_worker_probes_answer_while_polling(workers_ready: list[ServiceProcess]) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for worker in workers_ready:
            assert (await http.get(f"{worker.observability_url}/healthz")).status_code == 200
            ready = await http.get(f"{worker.observability_url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"worker": "polling", "temporal": "ok"},
            }


async def test_api_serves_metrics_and_keeps_readiness_detail(fleet: Fleet) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        ready = await http.get(f"{fleet.api_url}/readyz")
        page = await http.get(f"{fleet.api_url}/metrics")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "bus": "ok", "temporal": "ok"}
    assert page.status_code == 200
    assert "# TYPE stigmer_http_request_duration_seconds histogram" in page.text


async def test_backlog_is_reported_while_no_runner_polls(
    tmp_path: Path, temporal_address: str, mongodb_uri: str, redis_url: str
) -> None:
    fleet = new_fleet(
        tmp_path,
        temporal_address,
        mongodb_uri,
        redis_url,
        STIGMER_BACKLOG_SAMPLE_INTERVAL_SECONDS="0.5",
    )
    try:
        fleet.start_api()
        fleet.wait_worker_ready(fleet.start_orchestrator())  # and no runner
        queue = fleet.env["TEMPORAL_WORKFLOW_EXECUTION_RUNNER_TASK_QUEUE"]
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            workflow = await api.register_workflow(
                workflow_yaml(unique("queued"), "  - only:\n      set: {x: 1}\n")
            )
            executions = [await api.create_execution(workflow_id=workflow.metadata.id)]
            executions.append(await api.create_execution(workflow_id=workflow.metadata.id))
            last: list[Scrape] = []

            async def backlog_seen() -> bool:
                last[:] = [await ascrape(fleet.api_url)]
                backlog = {"task_queue": queue, "queue_type": "activity"}
                return last[0].value("stigmer_task_queue_backlog", **backlog) >= 2

            await eventually(backlog_seen, timeout=30)
            page = last[0]
            age = "stigmer_task_queue_backlog_age_seconds"
            assert page.value(age, task_queue=queue, queue_type="activity") > 0
            assert page.has("stigmer_task_queue_backlog", task_queue=queue, queue_type="workflow")
            # Dispatched (Temporal has them): nothing PENDING awaits dispatch.
            assert page.value("stigmer_executions_pending") == 0
            for execution in executions:  # leave nothing waiting on the shared Temporal
                await api.cancel_execution(execution.metadata.id)
            after = await ascrape(fleet.api_url)
            label = f"tests/{workflow.spec.name}"
            finished = "stigmer_executions_finished_total"
            assert after.value(finished, workflow=label, phase="CANCELLED") == 2
    finally:
        fleet.stop()


async def test_worker_readiness_fails_while_connecting_and_while_draining(
    tmp_path: Path,
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    stub: StubServer,
) -> None:
    fleet = new_fleet(
        tmp_path, temporal_address, mongodb_uri, redis_url, STIGMER_SHUTDOWN_GRACE_SECONDS="20"
    )
    try:
        fleet.start_api()
        fleet.wait_worker_ready(fleet.start_orchestrator())
        # A runner that cannot reach Temporal: alive, not ready.
        nothing_there = f"127.0.0.1:{free_port()}"
        lost = fleet.start_runner("runner-lost", TEMPORAL_HOST_PORT=nothing_there)
        async with httpx.AsyncClient(timeout=10) as http:

            async def lost_answers() -> bool:
                try:
                    return (await http.get(f"{lost.observability_url}/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(lost_answers)
            not_ready = await http.get(f"{lost.observability_url}/readyz")
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"]["worker"].startswith("not started")
            lost.stop()

            # A runner draining a call in flight after SIGTERM: alive, not ready.
            runner = fleet.start_runner("runner")
            fleet.wait_worker_ready(runner)
            async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
                workflow = await api.register_workflow(
                    workflow_yaml(
                        unique("draining"),
                        "  - slow:\n"
                        "      call: http\n"
                        "      with:\n"
                        "        method: get\n"
                        f"        endpoint: {stub.url}/slow?seconds=4\n",
                    )
                )
                execution = await api.create_execution(workflow_id=workflow.metadata.id)

                async def slow_running() -> bool:
                    current = await api.get_execution(execution.metadata.id)
                    return current.status.task("/do/0/slow") is not None

                await eventually(slow_running)
                assert runner.popen is not None
                runner.popen.terminate()  # SIGTERM: stop polling, drain
                answers: list[tuple[int, dict[str, object]]] = []

                async def draining_seen() -> bool:
                    response = await http.get(f"{runner.observability_url}/readyz")
                    answers.append((response.status_code, response.json()))
                    return response.status_code == 503

                await eventually(draining_seen, timeout=10)
                body = answers[-1][1]
                assert body["checks"]["worker"].startswith("stopping")  # type: ignore[index]
                assert runner.alive(), "still draining the call in flight"
                assert await asyncio.to_thread(runner.stop, 30.0) == 0
    finally:
        fleet.stop()
