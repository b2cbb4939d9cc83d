"""Print the metric families a Temporal worker exports with Stigmer's SDK configuration.

    python scripts/probe_sdk_metrics.py [--temporal 127.0.0.1:7233] [--idle 75]

Builds the runtime Stigmer's workers build (PrometheusConfig with counters_total_suffix,
unit_suffix and durations_as_seconds), runs a worker with a workflow that completes, fails,
fails its workflow task, fails its activity and is cancelled, on a one-workflow cache (so the
cache evicts), waits ``--idle`` seconds so that long polls expire empty, then prints
``name type`` for every family on the SDK's /metrics. Compare with
tests/deploy/known_metrics.py after upgrading temporalio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from temporalio.client import Client, WorkflowFailureError  # noqa: E402
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig  # noqa: E402
from temporalio.worker import Worker  # noqa: E402
from tests.e2e.sdk_metric_workflows import Modes, echo  # noqa: E402
from tests.services import free_port  # noqa: E402


async def probe(temporal: str, idle: float) -> str:
    port = free_port()
    config = PrometheusConfig(
        bind_address=f"127.0.0.1:{port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    client = await Client.connect(
        temporal, runtime=Runtime(telemetry=TelemetryConfig(metrics=config))
    )
    queue = f"probe-{uuid.uuid4().hex[:8]}"

    async def run(mode: str) -> None:
        timeout = timedelta(seconds=5) if mode == "task-fails" else None
        with contextlib.suppress(WorkflowFailureError):  # failing is what some modes are for
            await client.execute_workflow(
                Modes.run, mode, id=f"{queue}-{mode}", task_queue=queue, execution_timeout=timeout
            )

    async with Worker(
        client, task_queue=queue, workflows=[Modes], activities=[echo], max_cached_workflows=1
    ):
        waiting = await client.start_workflow(
            Modes.run, "waits", id=f"{queue}-waits", task_queue=queue
        )
        modes = ("a", "b", "c", "workflow-fails", "activity-fails", "task-fails")
        await asyncio.gather(*(run(mode) for mode in modes))
        await waiting.cancel()
        await asyncio.sleep(idle)
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{port}/metrics")).text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--temporal", default="127.0.0.1:7233", help="Temporal frontend")
    parser.add_argument("--idle", type=float, default=75.0, help="seconds to idle at the end")
    args = parser.parse_args()
    text = asyncio.run(probe(args.temporal, args.idle))
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            print(" ".join(line.split()[2:4]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
