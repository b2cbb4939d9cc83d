"""The ``call`` task: dispatch to the called function (http, openapi, grpc, asyncapi, or
one of ``use.functions``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from stigmer_runner.dsl.tasks.base import TaskContext, TaskHandler, TaskResult
from stigmer_runner.dsl.tasks.call_asyncapi import call_asyncapi
from stigmer_runner.dsl.tasks.call_function import call_function
from stigmer_runner.dsl.tasks.call_grpc import call_grpc
from stigmer_runner.dsl.tasks.call_http import call_http
from stigmer_runner.dsl.tasks.call_openapi import call_openapi

CALL_FUNCTIONS: Mapping[str, TaskHandler] = MappingProxyType(
    {"asyncapi": call_asyncapi, "http": call_http, "openapi": call_openapi, "grpc": call_grpc}
)
"""Built-in functions by the name ``call`` gives them."""

_NOT_YET = ("a2a", "mcp")


async def run_call(task: TaskContext) -> TaskResult:
    """Run the function named by ``call``."""
    function = task.definition.get("call")
    if not isinstance(function, str) or not function:
        raise task.configuration_error("'call' must name a function, such as http")
    handler = CALL_FUNCTIONS.get(function)
    if handler is not None:
        return await handler(task)
    if function in _NOT_YET:
        raise task.configuration_error(f"call: {function} is not supported yet")
    return await call_function(task, function)
