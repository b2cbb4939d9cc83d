"""The port through which the interpreter reaches the world.

The interpreter is pure: every side effect (an HTTP call, a status report) and the clock go
through a :class:`TaskRuntime`. Inside Temporal the DSL workflow implements it with
activities and ``workflow.now()``, which keeps the interpreter deterministic on replay;
tests implement it in memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse, TaskEvent


class TaskRuntime(Protocol):
    """Side effects and time for one workflow run."""

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        """Send ``request``; return the response whatever its status.

        A request that produced no response (transport failure, timeout) raises
        :class:`stigmer_runner.dsl.errors.WorkflowError` with the problem to report
        (see :func:`stigmer_runner.dsl.errors.http_failure_problem`).
        """
        ...

    async def report(self, event: TaskEvent) -> None:
        """Record that a task changed phase (RUNNING, COMPLETED, FAILED, SKIPPED, CANCELLED)."""
        ...

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, deterministic under replay."""
        ...
