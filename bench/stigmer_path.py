"""The Stigmer path: API, orchestrator and runner as separate processes (the e2e fleet).

Latency is the ``create_execution`` call's start → the SSE client seeing COMPLETED.
Each run also yields its stage timestamps (stored by the API, wall clock of this same
machine), which give the breakdown of where the time goes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime

import httpx
from temporalio.client import Client
from tests.e2e.fleet import USER_TOKEN, Fleet, ServiceProcess

from bench.progress import say
from bench.runs import Timed
from stigmer_core.api_client import StigmerClient
from stigmer_core.model import ExecutionPhase, WorkflowExecution
from stigmer_core.temporal_contracts import dsl_workflow_id, invoke_workflow_id

# Stage names, in the order an execution passes them; each ends at the named moment.
STAGES = (
    "create request -> execution built (instance + workflow reads)",
    "-> Temporal accepted the start (insert, publish, start)",
    "-> IN_PROGRESS stored (orchestrator WFT, ExecuteWorkflow)",
    "-> task started (signal-with-start, DSL workflow task)",
    "-> task ended (the task itself, reports sent meanwhile)",
    "-> execution COMPLETED stored (remaining reports)",
    "-> COMPLETED seen on SSE (publish, Redis, SSE)",
)
CREATE_RETURNED = "(create_execution call returned)"

ONE_TASK_WORKFLOW = """\
document:
  dsl: '1.0.0'
  namespace: bench
  name: {name}
  version: '1.0.0'
do:
  - only:
      set:
        done: true
"""


def start_fleet(fleet: Fleet, timeout: float = 60.0) -> None:
    """API, orchestrator and runner; returns once the API answers and both workers poll."""
    fleet.start_api()
    workers = [fleet.start_orchestrator(), fleet.start_runner()]
    for worker in workers:
        wait_polling(worker, timeout)


def wait_polling(process: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = process.log_path.read_text(errors="replace") if process.log_path.exists() else ""
        if " polling " in text:
            return
        if not process.alive():
            raise RuntimeError(f"the {process.name} exited during start-up:\n{process.log_tail()}")
        time.sleep(0.1)
    raise RuntimeError(f"the {process.name} did not start polling:\n{process.log_tail()}")


def http_client(base_url: str, *, connections: int) -> httpx.AsyncClient:
    """Enough connections for a whole burst: each SSE stream holds one for its lifetime."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {USER_TOKEN}"},
        timeout=60.0,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


class StigmerPath:
    """Create executions of one registered one-task workflow and watch them over SSE."""

    def __init__(self, *, api: StigmerClient, temporal: Client, workflow_id: str) -> None:
        self._api = api
        self._temporal = temporal
        self._workflow_id = workflow_id
        self._unsettled: list[str] = []

    @classmethod
    async def prepare(cls, *, api: StigmerClient, temporal: Client) -> StigmerPath:
        """Register the one-task workflow (its default instance is made on first use)."""
        document = ONE_TASK_WORKFLOW.format(name=f"bench-set-{uuid.uuid4().hex[:8]}")
        workflow = await api.register_workflow(document)
        return cls(api=api, temporal=temporal, workflow_id=workflow.metadata.id)

    async def run_once(self, timeout: float) -> Timed:
        """One execution timed, then (untimed) the end of its Temporal workflows."""
        timed = await self.run_unsettled(timeout)
        await self.settle()
        return timed

    async def settle(self, timeout: float = 120.0) -> None:
        """Wait for the invoke workflows of finished executions to close.

        COMPLETED reaches the SSE client before the runner completes ExecuteWorkflow and
        the invoke workflow ends; that tail must not overlap the next timed run.
        """
        pending, self._unsettled = self._unsettled, []
        if not pending:
            return
        handles = [self._temporal.get_workflow_handle(w) for w in pending]
        done, stuck = await asyncio.wait(
            [asyncio.ensure_future(h.result()) for h in handles], timeout=timeout
        )
        for task in stuck:
            task.cancel()
        failures = [t.exception() for t in done if t.exception() is not None]
        if failures:
            say(f"  {len(failures)} invoke workflow(s) failed: {failures[0]!r}")
        if stuck:
            # Reported, not fatal: the next measurement starts with that much more load.
            say(f"  {len(stuck)} invoke workflow(s) still running after {timeout:g}s")

    async def run_unsettled(self, timeout: float) -> Timed:
        """One execution, timed from the create call to COMPLETED on the event stream."""
        wall, started = time.time(), time.monotonic()
        execution = await self._api.create_execution(workflow_id=self._workflow_id)
        created = time.monotonic()
        self._unsettled.append(invoke_workflow_id(execution.metadata.id))
        seen: float | None = None
        final: WorkflowExecution | None = None

        async def watch() -> None:
            nonlocal seen, final
            async for snapshot in self._api.watch_execution(execution.metadata.id):
                if snapshot.status.phase.terminal and seen is None:
                    seen, final = time.monotonic(), snapshot

        await asyncio.wait_for(watch(), timeout)
        if final is None or seen is None:
            raise RuntimeError(f"the stream of {execution.metadata.id} ended without a result")
        if final.status.phase is not ExecutionPhase.COMPLETED:
            raise RuntimeError(
                f"execution {execution.metadata.id} ended {final.status.phase}: "
                f"{final.status.error or final.status.message}"
            )
        if final.status.output != {"done": True}:
            raise RuntimeError(f"execution {execution.metadata.id} output {final.status.output!r}")
        offset = wall - started  # monotonic -> wall clock, to compare with stored stamps
        stages = stage_seconds(final, start_wall=wall, seen_wall=seen + offset)
        stages[CREATE_RETURNED] = created - started
        stored = (final.status.completed_at or final.metadata.updated_at).timestamp() - offset
        notes = {
            "stages": stages,
            "start_wall": wall,
            "execution": final,
            "workflow_ids": [
                invoke_workflow_id(execution.metadata.id),
                dsl_workflow_id(execution.metadata.id),
            ],
        }
        return Timed(started=started, finished=seen, stored=stored, notes=notes)


def stage_seconds(
    execution: WorkflowExecution, *, start_wall: float, seen_wall: float
) -> dict[str, float]:
    """Seconds spent in each of STAGES, from the timestamps the API stored."""
    status = execution.status
    task = status.tasks[0] if status.tasks else None
    moments: list[datetime | None] = [
        execution.metadata.created_at,
        status.dispatched_at,
        status.started_at,
        task.started_at if task else None,
        task.completed_at if task else None,
        status.completed_at,
    ]
    walls = [start_wall] + [m.timestamp() if m else float("nan") for m in moments] + [seen_wall]
    return {stage: walls[i + 1] - walls[i] for i, stage in enumerate(STAGES)}
