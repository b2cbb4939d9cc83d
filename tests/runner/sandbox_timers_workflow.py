"""A minimal Temporal workflow hosting the interpreter with durable timers and randomness.

Like sandbox_workflow, only ``jq``, ``jwt`` and ``stigmer_core`` pass through the sandbox; the
runtime's ``sleep`` is ``workflow.sleep`` and ``random`` is ``workflow.random()``, as in the
runner's DSL workflow, so forks, waits, timeouts and retry jitter run as they do in
production and must replay identically.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import jq  # noqa: F401 - load the C extension once, outside the sandbox
    import jwt  # noqa: F401 - PyJWT's cryptography backend is a native module: load it once

    import stigmer_core.model  # noqa: F401 - pydantic models: no need to re-import them

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse, TaskEvent
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter


class _TimerRuntime:
    def __init__(self) -> None:
        self.events: list[TaskEvent] = []
        self.sleeps: list[float] = []

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        raise AssertionError(f"no HTTP in this workflow: {request.url}")

    async def report(self, event: TaskEvent) -> None:
        self.events.append(event)

    def now(self) -> datetime:
        return workflow.now()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await workflow.sleep(timedelta(seconds=max(seconds, 0.0)))

    def random(self) -> float:
        return workflow.random().random()


@workflow.defn(name="stigmer-test/interpreter-timers")
class TimersWorkflow:
    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        runtime = _TimerRuntime()
        result: dict[str, Any] = {"output": None, "error": None}
        try:
            result["output"] = await Interpreter(args["document"], runtime=runtime).run(
                args["input"]
            )
        except WorkflowError as err:
            result["error"] = err.problem
        result["events"] = [asdict(event) for event in runtime.events]
        result["sleeps"] = runtime.sleeps
        return result
