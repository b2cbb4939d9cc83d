"""Readiness of a Temporal worker: it polls, and Temporal answers.

A worker process can be alive without doing its job: still connecting to Temporal, draining
after SIGTERM, or left without pollers after a fatal worker error (the process itself keeps
running). Readiness says which, so an orchestrator of pods stops counting such a replica.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

OK = "ok"


class WorkerState(StrEnum):
    CONNECTING = "not started: connecting to Temporal"
    POLLING = "polling"
    STOPPING = "stopping: draining in-flight work"
    STOPPED = "stopped: the worker no longer polls"


@dataclass(frozen=True)
class Readiness:
    """The probe's answer: ready or not, and one line per check."""

    ready: bool
    checks: dict[str, str]

    def body(self) -> dict[str, object]:
        return {"status": "ready" if self.ready else "not ready", "checks": self.checks}


def worker_state(*, started: bool, running: bool, stopping: bool) -> WorkerState:
    """What a worker is doing, from what is known of it."""
    if not started:
        return WorkerState.CONNECTING
    if not running:
        return WorkerState.STOPPED
    return WorkerState.STOPPING if stopping else WorkerState.POLLING


class WorkerReadiness:
    """Follows one worker: ``watch`` it once built, ``stop`` when its shutdown begins."""

    def __init__(self, *, temporal_timeout: float = 2.0) -> None:
        self._temporal_timeout = temporal_timeout
        self._worker: Worker | None = None
        self._client: Client | None = None
        self._stopping = False

    def watch(self, *, worker: Worker, client: Client) -> None:
        self._worker, self._client, self._stopping = worker, client, False

    def stop(self) -> None:
        """The worker is being shut down: not ready from now on."""
        self._stopping = True

    async def check(self) -> Readiness:
        worker = self._worker
        state = worker_state(
            started=worker is not None,
            running=worker is not None and worker.is_running,
            stopping=self._stopping,
        )
        temporal = await self._temporal()
        return Readiness(
            ready=state is WorkerState.POLLING and temporal == OK,
            checks={"worker": state.value, "temporal": temporal},
        )

    async def _temporal(self) -> str:
        client = self._client
        if client is None:
            return "unavailable: not connected yet"
        try:
            await asyncio.wait_for(
                client.workflow_service.get_system_info(
                    GetSystemInfoRequest(), timeout=timedelta(seconds=self._temporal_timeout)
                ),
                timeout=self._temporal_timeout + 1,
            )
        except (RPCError, TimeoutError, RuntimeError) as exc:
            return f"unavailable: {exc or type(exc).__name__}"
        return OK
