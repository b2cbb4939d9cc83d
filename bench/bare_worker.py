"""One worker of the bare Temporal path, run as its own process by the benchmark.

``python bench/bare_worker.py --role workflow --queue A --temporal HOST:PORT`` polls A for
the bare workflow; ``--role activity --queue B`` polls B for its activity. Prints
``ready`` on stdout once it polls, and stops gracefully on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from pathlib import Path

if not __package__:  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare_workflow import BareWorkflow, echo
from stigmer_core.process import run_until_signal

READY_LINE = "ready"


async def serve(*, role: str, queue: str, temporal: str) -> None:
    """Poll ``queue`` as the workflow or the activity worker until cancelled."""
    client = await Client.connect(temporal)
    # The same slot counts as Stigmer's workers (100), so neither side is throttled more.
    if role == "workflow":
        worker = Worker(
            client,
            task_queue=queue,
            workflows=[BareWorkflow],
            max_concurrent_workflow_tasks=100,
            graceful_shutdown_timeout=timedelta(seconds=2),
        )
    else:
        worker = Worker(
            client,
            task_queue=queue,
            activities=[echo],
            max_concurrent_activities=100,
            graceful_shutdown_timeout=timedelta(seconds=2),
        )
    async with worker:
        print(READY_LINE, flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until a signal arrives."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=["workflow", "activity"], required=True)
    parser.add_argument("--queue", required=True, help="task queue to poll")
    parser.add_argument("--temporal", required=True, help="Temporal frontend host:port")
    args = parser.parse_args(argv)
    run_until_signal(serve(role=args.role, queue=args.queue, temporal=args.temporal))


if __name__ == "__main__":
    main()
