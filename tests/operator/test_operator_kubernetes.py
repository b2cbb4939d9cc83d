"""The operator in-process against an in-memory Kubernetes API (kmock) and a real Temporal.

One resource's life: a burst queued with no runner scales the Deployment up; once a
runner takes the work the backlog is gone but the executions still run, and the replicas
stay; once they finish, the Deployment reaches zero only after the scale-down window.
Status, conditions and Events are read back from the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_operator.main import run
from stigmer_operator.metrics import Metrics
from stigmer_operator.settings import OperatorSettings
from tests.operator.hold_workflow import HoldWorkflow
from tests.operator.kube_emulator import (
    DEPLOYMENTS,
    RAS,
    KubernetesWithGenerateName,
    create,
    deployment,
    emulator,
    write_kubeconfig,
)
from tests.services import free_port

pytestmark = pytest.mark.integration

NAMESPACE = "stigmer-test"
RUNNER = "stigmer-runner"
DOWN_WINDOW = 4


@pytest_asyncio.fixture(loop_scope="session")
async def kube() -> AsyncIterator[KubernetesWithGenerateName]:
    async for server in emulator():
        yield server


@contextlib.asynccontextmanager
async def operator_running(
    kube: KubernetesWithGenerateName, tmp_path: Path
) -> AsyncIterator[Metrics]:
    """The operator as `stigmer-operator` runs it, in this event loop; stopped at the end."""
    settings = OperatorSettings(
        kubeconfig=write_kubeconfig(tmp_path / "kubeconfig", str(kube.url)),
        stigmer_operator_namespaces=[NAMESPACE],
        stigmer_operator_standalone=True,
        stigmer_operator_liveness_port=free_port(),
    )
    metrics = Metrics()
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run(settings, metrics=metrics, stop_flag=stop, ready_flag=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield metrics
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def autoscaler(task_queue: str, address: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": RUNNER},
        "temporal": {
            "address": address,
            "namespace": "default",
            "taskQueue": task_queue,
            "queueTypes": ["workflow", "activity"],
        },
        "targetBacklogPerReplica": 2,
        "activationBacklog": 0,
        "minReplicas": 0,
        "maxReplicas": 10,
        "scaleUp": {"stabilizationWindowSeconds": 0, "maxStepReplicas": 4},
        "scaleDown": {"stabilizationWindowSeconds": DOWN_WINDOW, "maxStepReplicas": 5},
        "pollingIntervalSeconds": 1,
    }
    spec.update(overrides)
    return {
        "apiVersion": "autoscaling.stigmer.io/v1alpha1",
        "kind": "RunnerAutoscaler",
        "metadata": {"namespace": NAMESPACE, "name": "runners", "generation": 1},
        "spec": spec,
    }


def replicas(kube: KubernetesWithGenerateName) -> int:
    return int(kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER]["spec"]["replicas"])


def status(kube: KubernetesWithGenerateName) -> dict[str, Any]:
    return dict(kube.objects[RAS, NAMESPACE, "runners"].get("status") or {})


def condition(kube: KubernetesWithGenerateName, kind: str) -> dict[str, Any]:
    found = [c for c in status(kube).get("conditions", []) if c["type"] == kind]
    return found[0] if found else {}


def events(kube: KubernetesWithGenerateName) -> list[dict[str, Any]]:
    return [
        dict(obj.raw)
        for (resource, namespace, _), obj in kube.objects.items()
        if resource.plural == "events" and namespace == NAMESPACE
    ]


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until ``check()``; the monotonic time it first held."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic()


async def test_scales_up_holds_for_in_flight_and_reaches_zero_after_the_window(
    kube: KubernetesWithGenerateName, temporal_address: str, tmp_path: Path
) -> None:
    client = await Client.connect(temporal_address)
    task_queue = f"operator-k8s-{uuid.uuid4().hex[:10]}"
    kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER] = deployment(NAMESPACE, RUNNER, 0)
    ids = [f"{task_queue}-{i}" for i in range(6)]
    for workflow_id in ids:
        await client.start_workflow(HoldWorkflow.run, id=workflow_id, task_queue=task_queue)

    async with operator_running(kube, tmp_path) as metrics:
        await create(kube, RAS, autoscaler(task_queue, temporal_address))
        # Created: 6 queued at 2 per replica -> 3 replicas (within the step of 4).
        await eventually(lambda: replicas(kube) == 3, 30, "scale up to 3")
        await eventually(lambda: status(kube).get("desiredReplicas") == 3, 10, "status")
        assert status(kube)["observedBacklog"] == {"workflow": 6, "activity": 0}
        assert condition(kube, "Ready")["status"] == "True"
        assert condition(kube, "Active")["status"] == "True"
        assert condition(kube, "TemporalUnreachable")["status"] == "False"
        scale_ups = [e for e in events(kube) if e.get("reason") == "ScaleUp"]
        assert scale_ups, events(kube)
        assert "0 -> 3" in scale_ups[0]["message"]

        async with Worker(client, task_queue=task_queue, workflows=[HoldWorkflow]):
            # The runner took the work: no backlog, six executions running.
            await eventually(
                lambda: (
                    status(kube).get("observedBacklog", {}).get("workflow") == 0
                    and status(kube).get("inFlight") == 6
                ),
                30,
                "backlog drained, work in flight",
            )
            await asyncio.sleep(DOWN_WINDOW + 2)
            assert replicas(kube) == 3, "in-flight work must hold the replicas"
            assert condition(kube, "ScalingLimited")["reason"] == "InFlight"

            for workflow_id in ids:
                await client.get_workflow_handle(workflow_id).signal(HoldWorkflow.release)
            idle_at = await eventually(
                lambda: status(kube).get("inFlight") == 0, 30, "executions finished"
            )
            zero_at = await eventually(lambda: replicas(kube) == 0, 30, "scale to zero")
        # Idle seen by the operator no later than by this test, so the gap is a lower bound.
        assert zero_at - idle_at >= DOWN_WINDOW - 1.5
        assert condition(kube, "Active")["status"] == "False"
        assert any(e.get("reason") == "ScaleToZero" for e in events(kube))
        assert metrics.decisions.labels(NAMESPACE, "runners", "ScaleUp")._value.get() >= 1


async def test_unreachable_temporal_holds_replicas_and_says_so(
    kube: KubernetesWithGenerateName, tmp_path: Path
) -> None:
    kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER] = deployment(NAMESPACE, RUNNER, 2)
    async with operator_running(kube, tmp_path):
        await create(
            kube, RAS, autoscaler("any", "127.0.0.1:9", scaleDown={"stabilizationWindowSeconds": 0})
        )
        await eventually(
            lambda: condition(kube, "TemporalUnreachable").get("status") == "True",
            60,
            "TemporalUnreachable condition",
        )
        await asyncio.sleep(2)
        assert replicas(kube) == 2
        assert condition(kube, "Ready")["status"] == "False"
        assert any(e.get("reason") == "TemporalUnreachable" for e in events(kube))


async def test_invalid_spec_is_reported_not_retried(
    kube: KubernetesWithGenerateName, tmp_path: Path
) -> None:
    kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER] = deployment(NAMESPACE, RUNNER, 1)
    async with operator_running(kube, tmp_path):
        await create(kube, RAS, autoscaler("any", "127.0.0.1:9", minReplicas=5, maxReplicas=2))
        await eventually(
            lambda: condition(kube, "Ready").get("reason") == "InvalidSpec", 30, "InvalidSpec"
        )
        assert "minReplicas (5) exceeds maxReplicas (2)" in condition(kube, "Ready")["message"]
        await asyncio.sleep(2)
        assert replicas(kube) == 1
        assert len([e for e in events(kube) if e.get("reason") == "InvalidSpec"]) == 1
