"""The bare Temporal path: two worker processes and a client in the benchmark process.

Latency is ``start_workflow`` → ``handle.result()`` as the client sees it.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client

from bench.bare_worker import READY_LINE
from bench.bare_workflow import BARE_WORKFLOW, BareInput
from bench.runs import Timed

WORKER_SCRIPT = Path(__file__).with_name("bare_worker.py")


@dataclass
class WorkerProcess:
    """``bench/bare_worker.py`` in its own process, stopped by its PID."""

    role: str
    queue: str
    temporal: str
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), "--role", self.role,
                 "--queue", self.queue, "--temporal", self.temporal],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"bare {self.role} worker was not started")
        return self.popen.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until the worker polls; RuntimeError with its log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if READY_LINE in text.splitlines():
                return
            if self.popen is None or self.popen.poll() is not None:
                raise RuntimeError(f"bare {self.role} worker exited:\n{text[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"bare {self.role} worker not ready in {timeout}s")

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds``."""
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)


class BarePath:
    """Start bare workflows and wait for their results."""

    def __init__(self, *, client: Client, workflow_queue: str, activity_queue: str) -> None:
        self._client = client
        self._workflow_queue = workflow_queue
        self._activity_queue = activity_queue
        self._count = 0

    @staticmethod
    def queues() -> tuple[str, str]:
        """Fresh queue names, so no earlier run's leftovers are polled."""
        suffix = uuid.uuid4().hex[:8]
        return f"bench-bare-wf-{suffix}", f"bench-bare-act-{suffix}"

    async def run_once(self, timeout: float) -> Timed:
        """One execution, timed from the start call to the result."""
        self._count += 1
        value = self._count
        workflow_id = f"bench-bare-{uuid.uuid4().hex}"
        wall, started = time.time(), time.monotonic()
        handle = await self._client.start_workflow(
            BARE_WORKFLOW,
            BareInput(activity_queue=self._activity_queue, value=value),
            id=workflow_id,
            task_queue=self._workflow_queue,
            result_type=dict,
        )
        result = await asyncio.wait_for(handle.result(), timeout)
        finished = time.monotonic()
        if result != {"done": True, "value": value}:
            raise RuntimeError(f"bare workflow returned {result!r}")
        return Timed(
            started=started,
            finished=finished,
            notes={"workflow_ids": [workflow_id], "start_wall": wall},
        )
