"""A live run exposes every metric name a Grafana dashboard or an alert rule uses (issue 4,
item 5): the fleet's processes are scraped after real executions; the Temporal SDK's rare
series (failed workflow tasks, cache evictions) are made to appear on a bare worker built with
the same Prometheus configuration as Stigmer's workers.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase
from tests.deploy.known_metrics import (
    SCRAPE_GENERATED,
    SDK_EVENT_ONLY,
    STIGMER,
    known_series,
    series_names,
)
from tests.deploy.queries import used_metric_names
from tests.e2e.conftest import new_fleet, workflow_yaml
from tests.e2e.fleet import USER_TOKEN, Fleet
from tests.e2e.sdk_metric_workflows import Modes, echo
from tests.e2e.stub_server import StubServer
from tests.services import free_port

pytestmark = pytest.mark.integration

# SDK series a healthy fleet cannot be made to export from a test: they need broken workflow
# code or a full workflow cache. test_the_sdk_exports_its_rare_series makes them appear.
FLEET_CANNOT_PRODUCE = frozenset(
    {
        "temporal_workflow_task_execution_failed_total",
        "temporal_sticky_cache_miss_total",
        "temporal_sticky_cache_total_forced_eviction_total",
        "temporal_activity_execution_failed_total",
        "temporal_workflow_failed_total",
        "temporal_workflow_canceled_total",
    }
)
# Stigmer series with no sample until their event (a store or bus failure); a live process
# must still declare them (`# TYPE`), which prometheus-client does from start-up.
STIGMER_EVENT_ONLY = frozenset({"stigmer_store_errors_total", "stigmer_bus_errors_total"})
# The first empty long poll returns after about a minute of idling.
EXPOSED_WITHIN_SECONDS = 150.0


# --- assumptions about how the fleet serves metrics: adapt here, nowhere else ---------------


def start_scraped_fleet(fleet: Fleet) -> dict[str, str]:
    """Start the API, the orchestrator and one runner; return process name → /metrics URL.

    The API serves /metrics on its HTTP port; each worker on STIGMER_OBSERVABILITY_PORT,
    given explicitly here so that two workers on one machine never share the default.
    """
    fleet.start_api()
    urls = {"api": f"{fleet.api_url}/metrics"}
    for name, start in (("orchestrator", fleet.start_orchestrator), ("runner", fleet.start_runner)):
        port = free_port()
        start(STIGMER_OBSERVABILITY_HOST="127.0.0.1", STIGMER_OBSERVABILITY_PORT=str(port))
        urls[name] = f"http://127.0.0.1:{port}/metrics"
    return urls


def contract_prometheus_config(bind_address: str) -> PrometheusConfig:
    """The SDK exporter's configuration agreed for Stigmer's workers."""
    return PrometheusConfig(
        bind_address=bind_address,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )


# --- reading an exposition ----------------------------------------------------------------

_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def exposed(text: str) -> tuple[set[str], set[str]]:
    """(sample names with a value, names declared by a ``# TYPE`` line) of one exposition."""
    with_samples: set[str] = set()
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind in {"counter", "gauge", "histogram"}:
                declared |= series_names(name, kind)  # type: ignore[arg-type]
            else:
                declared.add(name)
        elif line and not line.startswith("#"):
            match = _SAMPLE_NAME.match(line)
            assert match, f"not an exposition line: {line!r}"
            with_samples.add(match.group(0))
    return with_samples, declared


async def scrape_all(urls: dict[str, str]) -> tuple[set[str], set[str]]:
    with_samples: set[str] = set()
    declared: set[str] = set()
    for name, url in urls.items():
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                response = await http.get(url)
        except httpx.TransportError as exc:
            raise AssertionError(f"{name}: GET {url} failed: {exc!r}") from exc
        assert response.status_code == 200, f"{name}: GET {url} answered {response.status_code}"
        samples, types = exposed(response.text)
        with_samples |= samples
        declared |= types
    return with_samples, declared


def _where(names: set[str], used: dict[str, set[str]]) -> str:
    return "\n".join(f"  {name}: used by {sorted(used[name])[:3]}" for name in sorted(names))


# --- the tests ------------------------------------------------------------------------------


def test_exposed_reads_samples_and_declarations() -> None:
    text = (
        "# HELP a_total x\n# TYPE a_total counter\n"
        "# TYPE h_seconds histogram\n"
        'h_seconds_bucket{le="1"} 0\nh_seconds_count 0\nb{x="1"} 2\n'
    )
    samples, declared = exposed(text)
    assert samples == {"h_seconds_bucket", "h_seconds_count", "b"}
    assert declared == {"a_total", "h_seconds_bucket", "h_seconds_sum", "h_seconds_count"}


async def _run_executions(api: StigmerClient, stub: StubServer) -> None:
    """One that completes (with an HTTP call), one that fails, one cancelled while it runs."""
    suffix = uuid.uuid4().hex[:6]
    completes = await api.register_workflow(
        workflow_yaml(
            f"dash-ok-{suffix}",
            "  - fetch:\n"
            "      call: http\n"
            "      with:\n"
            "        method: get\n"
            f"        endpoint: {stub.url}/pets/7\n",
        )
    )
    fails = await api.register_workflow(
        workflow_yaml(
            f"dash-fail-{suffix}",
            "  - boom:\n"
            "      raise:\n"
            "        error:\n"
            "          type: https://serverlessworkflow.io/spec/1.0.0/errors/validation\n"
            "          status: 400\n",
        )
    )
    waits = await api.register_workflow(
        workflow_yaml(
            f"dash-wait-{suffix}",
            f"  - slow:\n      call: http\n      with:\n        method: get\n"
            f"        endpoint: {stub.url}/slow?seconds=5\n",
        )
    )

    async def finish(workflow_id: str) -> ExecutionPhase:
        execution = await api.create_execution(workflow_id=workflow_id)
        snapshots = [s async for s in api.watch_execution(execution.metadata.id)]  # SSE
        return snapshots[-1].status.phase

    async def cancel(workflow_id: str) -> ExecutionPhase:
        execution = await api.create_execution(workflow_id=workflow_id)
        deadline = time.monotonic() + 30
        while (await api.get_execution(execution.metadata.id)).status.phase in {
            ExecutionPhase.PENDING
        }:
            assert time.monotonic() < deadline, "the execution never started"
            await asyncio.sleep(0.2)
        await api.cancel_execution(execution.metadata.id)
        snapshots = [s async for s in api.watch_execution(execution.metadata.id)]
        return snapshots[-1].status.phase

    phases = await asyncio.wait_for(
        asyncio.gather(
            finish(completes.metadata.id), finish(fails.metadata.id), cancel(waits.metadata.id)
        ),
        timeout=90,
    )
    assert phases == [ExecutionPhase.COMPLETED, ExecutionPhase.FAILED, ExecutionPhase.CANCELLED]


async def test_a_live_fleet_exposes_every_metric_the_dashboards_and_alerts_use(
    tmp_path: Path,
    temporal_address: str,
    mongodb_uri: str,
    redis_url: str,
    stub: StubServer,
) -> None:
    used = used_metric_names()
    fleet = new_fleet(tmp_path, temporal_address, mongodb_uri, redis_url)
    try:
        urls = start_scraped_fleet(fleet)
        async with StigmerClient.connect(fleet.api_url, token=USER_TOKEN) as api:
            await _run_executions(api, stub)

        must_have_samples = set(used) - SCRAPE_GENERATED - FLEET_CANNOT_PRODUCE
        must_have_samples -= {
            name for family in STIGMER_EVENT_ONLY for name in series_names(family, STIGMER[family])
        }
        must_be_declared = {
            name for name in used if known_series().get(name, name) in STIGMER_EVENT_ONLY
        }
        # Empty polls are counted only once a long poll has idled out: scrape until then.
        deadline = time.monotonic() + EXPOSED_WITHIN_SECONDS
        while True:
            with_samples, declared = await scrape_all(urls)
            missing = must_have_samples - with_samples
            undeclared = must_be_declared - declared - with_samples
            if not (missing or undeclared) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
    finally:
        fleet.stop()
    assert not missing, (
        f"no live sample for these names after real executions:\n{_where(missing, used)}\n"
        f"{fleet.logs()}"
    )
    assert not undeclared, f"not declared by any process:\n{_where(undeclared, used)}"


async def test_the_sdk_exports_its_rare_series(temporal_address: str) -> None:
    """Failed workflow tasks, failed workflows and activities, cancellations and cache
    evictions, as a worker with Stigmer's SDK configuration exports them."""
    port = free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(metrics=contract_prometheus_config(f"127.0.0.1:{port}"))
    )
    client = await Client.connect(temporal_address, runtime=runtime)
    queue = f"sdk-metrics-{uuid.uuid4().hex[:8]}"
    wanted = FLEET_CANNOT_PRODUCE & set(used_metric_names())
    assert wanted, "nothing left for this test to check"

    async def outcome(mode: str) -> str:
        try:
            return await client.execute_workflow(
                Modes.run,
                mode,
                id=f"{queue}-{mode}",
                task_queue=queue,
                execution_timeout=timedelta(seconds=5) if mode == "task-fails" else None,
            )
        except WorkflowFailureError as failure:
            return type(failure.cause).__name__

    async with Worker(
        client, task_queue=queue, workflows=[Modes], activities=[echo], max_cached_workflows=1
    ):
        waiting: WorkflowHandle[Modes, str] = await client.start_workflow(
            Modes.run, "waits", id=f"{queue}-waits", task_queue=queue
        )
        results = await asyncio.gather(
            *(outcome(mode) for mode in ("a", "b", "c", "workflow-fails", "activity-fails")),
            outcome("task-fails"),
        )
        await waiting.cancel()
        with pytest.raises(WorkflowFailureError):
            await waiting.result()
        async with httpx.AsyncClient(timeout=10) as http:
            text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text

    assert results[:3] == ["a", "b", "c"]
    assert results[3:] == ["ApplicationError", "ActivityError", "TimeoutError"]
    samples, _ = exposed(text)
    assert not wanted - samples, f"not exported: {sorted(wanted - samples)}"
    assert SDK_EVENT_ONLY >= FLEET_CANNOT_PRODUCE
