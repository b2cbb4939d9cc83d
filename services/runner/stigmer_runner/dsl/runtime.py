"""The port through which the interpreter reaches the world.

The interpreter is pure: every side effect (an HTTP call, a status report) and the clock go
through a :class:`TaskRuntime`. Inside Temporal the DSL workflow implements it with
activities and ``workflow.now()``, which keeps the interpreter deterministic on replay;
tests implement it in memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from stigmer_runner.dsl.contracts import (
    ActivityCall,
    ChildRun,
    HttpRequest,
    HttpResponse,
    TaskEvent,
)


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

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` durably (a Temporal timer): no worker slot is held meanwhile."""
        ...

    def random(self) -> float:
        """A random float in [0, 1) that is the same on replay (retry jitter, say)."""
        ...

    async def execute(self, call: ActivityCall) -> Any:
        """Run a side effect as a runner activity named ``call.name``; return its JSON result.

        An activity that fails with an ``ApplicationError`` whose first detail is an RFC 7807
        problem raises :class:`stigmer_runner.dsl.errors.WorkflowError` with that problem;
        any other failure raises it with a runtime problem.
        """
        ...

    async def run_workflow(self, run: ChildRun) -> Any:
        """Run another workflow document as a durable child run; return its output.

        A child that fails raises :class:`stigmer_runner.dsl.errors.WorkflowError` with the
        child's problem.
        """
        ...

    async def next_event(self, timeout_seconds: float | None = None) -> dict[str, Any] | None:
        """The next CloudEvent delivered to this execution, in arrival order; None when
        ``timeout_seconds`` pass without one. Events arrive as Temporal signals, so waiting
        holds no worker slot and none is lost while the run is elsewhere."""
        ...

    def should_continue_as_new(self, *, nested: bool = False) -> bool:
        """Asked at each iteration boundary of a ``for`` where the run can be cut: True when
        the run's history is long enough that it should continue as a new run (see
        ``dsl/checkpoint.py``). ``nested``: the loop is not a task of the document's ``do``."""
        ...
