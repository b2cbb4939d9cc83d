"""Burst benchmark of the runner autoscaling operator (docs/autoscaling.md).

Runs ``stigmer-operator`` in-process against kmock's in-memory Kubernetes API with one
RunnerAutoscaler at the default ``pollingIntervalSeconds`` (10) on a fresh, idle task queue;
once it has polled for a while, queues ``--burst`` workflow executions on that queue, which
nobody polls (on a Temporal server you name), and measures:

- the time from the burst to the operator's scale-up decision (the patch of the
  Deployment's scale), with the decision trace (the Events it posted);
- the Temporal API calls per minute the resource costs, over ``--observe`` seconds.

    python -m bench.operator_burst --temporal 127.0.0.1:7244   # from the repository root

The burst's executions are terminated at the end. A script, not a test: numbers depend on
the machine and are quoted in docs/autoscaling.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import Client
from tests.operator.kube_emulator import DEPLOYMENTS, RAS, create, deployment, emulator
from tests.operator.kube_emulator import write_kubeconfig as kubeconfig_for
from tests.services import free_port

from stigmer_operator.main import run
from stigmer_operator.metrics import Metrics
from stigmer_operator.settings import OperatorSettings

NAMESPACE = "bench"
RUNNER = "stigmer-runner"


def autoscaler(address: str, task_queue: str, interval: int) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling.stigmer.io/v1alpha1",
        "kind": "RunnerAutoscaler",
        "metadata": {"namespace": NAMESPACE, "name": "runners"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": RUNNER},
            "temporal": {"address": address, "namespace": "default", "taskQueue": task_queue},
            "targetBacklogPerReplica": 10,
            "minReplicas": 0,
            "maxReplicas": 20,
            "scaleUp": {"stabilizationWindowSeconds": 0, "maxStepReplicas": 4},
            "scaleDown": {"stabilizationWindowSeconds": 300, "maxStepReplicas": 1},
            "pollingIntervalSeconds": interval,
        },
    }


async def bench(address: str, burst: int, interval: int, observe: float) -> dict[str, Any]:
    client = await Client.connect(address)
    task_queue = f"bench-operator-{uuid.uuid4().hex[:8]}"
    ids = [f"{task_queue}-{i}" for i in range(burst)]
    try:
        async for kube in emulator():
            kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER] = deployment(NAMESPACE, RUNNER, 0)
            with tempfile.TemporaryDirectory() as tmp:
                settings = OperatorSettings(
                    kubeconfig=kubeconfig_for(Path(tmp) / "kubeconfig", str(kube.url)),
                    stigmer_operator_namespaces=[NAMESPACE],
                    stigmer_operator_standalone=True,
                    stigmer_operator_liveness_port=free_port(),
                )
                metrics = Metrics()
                stop, ready = asyncio.Event(), asyncio.Event()
                task = asyncio.create_task(
                    run(settings, metrics=metrics, stop_flag=stop, ready_flag=ready)
                )
                try:
                    await asyncio.wait_for(ready.wait(), 30)
                    await create(kube, RAS, autoscaler(address, task_queue, interval))
                    resource_created = time.monotonic()
                    # The resource already polls an empty queue when the burst arrives, so
                    # the wait includes whatever is left of the current interval.
                    await asyncio.sleep(interval * 1.5)
                    created = time.monotonic()
                    await asyncio.gather(
                        *(
                            client.start_workflow("NobodyPolls", id=i, task_queue=task_queue)
                            for i in ids
                        )
                    )
                    burst_started = time.monotonic()
                    print(f"queued {burst} in {burst_started - created:.1f}s", file=sys.stderr)
                    decided = None
                    while time.monotonic() - created < observe:
                        replicas = kube.objects[DEPLOYMENTS, NAMESPACE, RUNNER]["spec"]["replicas"]
                        if decided is None and replicas > 0:
                            decided = time.monotonic()
                        await asyncio.sleep(0.05)
                    observed = time.monotonic() - resource_created
                    calls = metrics.temporal_calls.labels(NAMESPACE, "runners")._value.get()
                finally:
                    stop.set()
                    await asyncio.wait_for(task, 30)
            trace = [
                {"reason": obj.raw.get("reason"), "message": obj.raw.get("message")}
                for (resource, _, _), obj in kube.objects.items()
                if resource.plural == "events"
            ]
            break
    finally:
        for workflow_id in ids:
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(workflow_id).terminate("benchmark over")
    return {
        "burst": burst,
        "polling_interval_seconds": interval,
        "seconds_from_first_start_to_decision": None if decided is None else decided - created,
        "seconds_from_last_start_to_decision": (
            None if decided is None else decided - burst_started
        ),
        "temporal_calls": calls,
        "observed_seconds": observed,
        "temporal_calls_per_minute": calls * 60 / observed,
        "final_replicas": replicas,
        "decision_trace": trace,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--temporal", required=True, help="Temporal frontend host:port")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--interval", type=int, default=10, help="pollingIntervalSeconds")
    parser.add_argument("--observe", type=float, default=65.0, help="seconds to run")
    args = parser.parse_args()
    result = asyncio.run(bench(args.temporal, args.burst, args.interval, args.observe))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
