"""Payload between the ``call: grpc`` task handler and the runner's gRPC call activity.

A plain dataclass: the handler sends it as an :class:`ActivityCall` payload (a JSON object)
and Temporal's data converter rebuilds it from the activity's type hints. The activity
fails with an ``ApplicationError`` whose first detail is the RFC 7807 problem to report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

GRPC_CALL_ACTIVITY = "stigmer.runner.grpc.call"
"""Activity name of :class:`stigmer_runner.activities.grpc_call.GrpcCallActivities`."""

# ``ApplicationError.type`` values the gRPC activity raises.
GRPC_STATUS_ERROR = "GrpcStatus"
"""The server answered with a non-OK gRPC status (not retried, except UNAVAILABLE)."""
GRPC_CONFIGURATION_ERROR = "GrpcConfiguration"
"""The proto cannot be compiled, or lacks the service or method, or the method streams."""
GRPC_INVALID_ARGUMENTS_ERROR = "GrpcInvalidArguments"
"""The arguments do not fit the method's request message (validation error)."""
GRPC_PROTO_UNAVAILABLE_ERROR = "GrpcProtoUnavailable"
"""The proto could not be read: network failure or error status (retryable)."""

# A status error marks itself non-retryable unless it is UNAVAILABLE.
NON_RETRYABLE_GRPC_ERRORS = [
    GRPC_CONFIGURATION_ERROR,
    GRPC_INVALID_ARGUMENTS_ERROR,
]


@dataclass
class GrpcRequest:
    """One unary gRPC call with every expression resolved.

    ``proto_uri`` is an http(s) URL or a ``file://`` path (relative paths resolve against
    the runner's working directory). ``service`` is the fully qualified service name
    (``package.Service``). ``metadata`` carries the ``authorization`` header, if any.
    """

    proto_uri: str
    service: str
    host: str
    port: int
    method: str
    task: str
    """The task's name and pointer, for error messages."""
    arguments: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    proto_headers: dict[str, str] = field(default_factory=dict)
    """Headers for fetching the proto over HTTP (its endpoint's authentication)."""
    timeout_seconds: float | None = None
    """The task's own ``timeout``, sent as the call's deadline."""

    def payload(self) -> dict[str, Any]:
        return asdict(self)
