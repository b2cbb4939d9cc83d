"""A minimal Temporal workflow hosting the interpreter, for the sandbox test.

Only ``jq``, ``jwt`` (native extensions underneath) and ``stigmer_core`` are passed through:
the interpreter's own modules are imported inside Temporal's sandbox, so any clock,
randomness or I/O in them fails the test instead of silently breaking replay.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import jq  # noqa: F401 - load the C extension once, outside the sandbox
    import jwt  # noqa: F401 - PyJWT's cryptography backend is a native module: load it once

    import stigmer_core.dsl_document  # the DSL schema, read once at start-up
    import stigmer_core.model  # noqa: F401 - pydantic models: no need to re-import them

from stigmer_runner.dsl.contracts import HTTP_CALL_ACTIVITY, HttpRequest, HttpResponse, TaskEvent
from stigmer_runner.dsl.errors import WorkflowError, http_failure_problem
from stigmer_runner.dsl.interpreter import Interpreter


class _Runtime:
    def __init__(self) -> None:
        self.events: list[TaskEvent] = []

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        try:
            response: HttpResponse = await workflow.execute_activity(
                HTTP_CALL_ACTIVITY,
                request,
                result_type=HttpResponse,
                start_to_close_timeout=timedelta(seconds=10),
            )
        except ActivityError as err:
            cause = err.cause
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            raise WorkflowError(http_failure_problem(error_type, str(cause or err))) from err
        return response

    async def report(self, event: TaskEvent) -> None:
        self.events.append(event)

    def now(self) -> datetime:
        return workflow.now()

    def random(self) -> float:
        return workflow.random().random()


@workflow.defn(name="stigmer-test/interpreter")
class InterpreterWorkflow:
    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        runtime = _Runtime()
        result: dict[str, Any] = {"output": None, "error": None}
        try:
            result["output"] = await Interpreter(
                args["document"],
                runtime=runtime,
                execution_id=workflow.info().workflow_id,
                default_catalog=args.get("default_catalog"),
            ).run(args["input"])
        except WorkflowError as err:
            result["error"] = err.problem
        result["events"] = [asdict(event) for event in runtime.events]
        return result
