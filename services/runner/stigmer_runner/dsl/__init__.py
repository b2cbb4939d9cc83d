"""The Serverless Workflow DSL interpreter: pure and deterministic, side effects via a port.

``Interpreter(document, runtime=...)`` runs a document; ``TaskRuntime`` is the port the
host implements (Temporal activities in the runner, memory in tests); ``WorkflowError``
carries the RFC 7807 problem of a faulted run.
"""

from __future__ import annotations

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse, TaskEvent
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, runtime_problem
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.dsl.runtime import TaskRuntime

__all__ = [
    "ErrorType",
    "HttpRequest",
    "HttpResponse",
    "Interpreter",
    "TaskEvent",
    "TaskRuntime",
    "WorkflowError",
    "runtime_problem",
]
