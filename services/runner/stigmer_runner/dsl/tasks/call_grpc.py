"""``call: grpc``: resolve the call and run it as the runner's gRPC activity.

The activity fetches and compiles the proto, calls the unary method with ``arguments`` as
the request message (protobuf's JSON mapping) and returns the response message as JSON.
Only unary methods are supported; a streaming method is a configuration error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.contracts import ActivityCall
from stigmer_runner.dsl.grpc_contracts import (
    GRPC_CALL_ACTIVITY,
    NON_RETRYABLE_GRPC_ERRORS,
    GrpcRequest,
)
from stigmer_runner.dsl.tasks.authentication import authorize
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult
from stigmer_runner.dsl.tasks.call_http import request_timeout_seconds, resolve_uri

_DEFAULT_PORT = 443
# Room for the activity to fetch and compile the proto beyond the call's own deadline.
_ACTIVITY_MARGIN_SECONDS = 30.0


async def call_grpc(task: TaskContext) -> TaskResult:
    """Run one ``call: grpc`` task."""
    args = task.definition.get("with")
    if not isinstance(args, Mapping):
        raise task.configuration_error(
            "'with' must be a mapping with 'proto', 'service' and 'method'"
        )
    proto = args.get("proto")
    if not isinstance(proto, Mapping) or "endpoint" not in proto:
        raise task.configuration_error("with.proto must be a mapping with an 'endpoint'")
    proto_uri, proto_policy = resolve_uri(
        task, proto["endpoint"], field="with.proto.endpoint", schemes=("http", "https", "file")
    )
    proto_auth = await authorize(task, proto_policy, field="with.proto.endpoint.authentication")

    service = args.get("service")
    if not isinstance(service, Mapping):
        raise task.configuration_error("with.service must be a mapping with 'name' and 'host'")
    name = _text(task, service.get("name"), "with.service.name")
    host = _text(task, service.get("host"), "with.service.host")
    port = task.evaluate_value(service.get("port", _DEFAULT_PORT), field="with.service.port")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise task.configuration_error("with.service.port must be an integer from 1 to 65535")
    method = _text(task, args.get("method"), "with.method")
    arguments = task.evaluate_value(args.get("arguments"), field="with.arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise task.configuration_error("with.arguments must be a mapping (the request message)")
    authorization = await authorize(
        task, service.get("authentication"), field="with.service.authentication"
    )

    timeout = request_timeout_seconds(task)
    request = GrpcRequest(
        proto_uri=proto_uri,
        service=name,
        host=host,
        port=port,
        method=method,
        task=f"{task.name} ({task.pointer})",
        arguments=dict(arguments),
        metadata={"authorization": authorization.header} if authorization else {},
        proto_headers={"Authorization": proto_auth.header} if proto_auth else {},
        timeout_seconds=timeout,
    )
    output = await task.runtime.execute(
        ActivityCall(
            name=GRPC_CALL_ACTIVITY,
            payload=request.payload(),
            timeout_seconds=None if timeout is None else timeout + _ACTIVITY_MARGIN_SECONDS,
            non_retryable_types=list(NON_RETRYABLE_GRPC_ERRORS),
        )
    )
    return TaskResult(output, authorization=authorization.descriptor() if authorization else None)


def _text(task: TaskContext, value: Any, field: str) -> str:
    resolved = task.evaluate_value(value, field=field)
    if not isinstance(resolved, str) or not resolved.strip():
        raise task.configuration_error(f"{field} must be a non-empty string")
    return resolved.strip()
