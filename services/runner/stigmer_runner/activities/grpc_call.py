"""The gRPC call activity: compile the proto at run time and make one unary call.

The proto is fetched (http(s) with the shared HTTP client, or a ``file://`` path),
compiled by ``grpc_tools.protoc`` in a subprocess into a descriptor set, and loaded into a
private descriptor pool; request and response messages are dynamic messages built from it,
converted with protobuf's JSON mapping. Compiled protos are cached by content, so a proto
is compiled once per runner process. Failures raise ``ApplicationError`` whose first detail
is the RFC 7807 problem the task reports (``type`` values in ``dsl.grpc_contracts``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import sys
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
import httpx
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import DecodeError, Message
from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.trace_context import trace_headers
from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.grpc_contracts import (
    GRPC_CALL_ACTIVITY,
    GRPC_CONFIGURATION_ERROR,
    GRPC_INVALID_ARGUMENTS_ERROR,
    GRPC_PROTO_UNAVAILABLE_ERROR,
    GRPC_STATUS_ERROR,
    GrpcRequest,
)

MAX_PROTO_BYTES = 1024 * 1024
_CACHE_SIZE = 64
_COMPILE_SECONDS = 60.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")
# How gRPC codes read as HTTP statuses (the mapping grpc-gateway uses).
_HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


@dataclass(frozen=True)
class _Method:
    path: str
    """``/package.Service/Method``, the call's HTTP/2 path."""
    request: type[Message]
    response: type[Message]


class GrpcCallActivities:
    """Makes the unary gRPC calls of ``call: grpc`` tasks."""

    def __init__(self, *, http: httpx.AsyncClient) -> None:
        self._http = http
        # Descriptor pools by the SHA-256 of the proto's name and text.
        self._pools: OrderedDict[str, descriptor_pool.DescriptorPool] = OrderedDict()

    @activity.defn(name=GRPC_CALL_ACTIVITY)
    async def call(self, request: GrpcRequest) -> Any:
        """Call ``request.method``; return the response message as JSON."""
        async with heartbeating():
            name, text = await self._fetch(request)
            pool = await self._compile(request, name, text)
            method = _method(request, pool)
            try:
                message = json_format.ParseDict(request.arguments, method.request())
            except json_format.ParseError as exc:
                raise _failure(
                    request,
                    ErrorType.VALIDATION,
                    f"with.arguments do not fit {method.request.DESCRIPTOR.full_name}: {exc}",
                    GRPC_INVALID_ARGUMENTS_ERROR,
                ) from None
            reply = await _invoke(request, method, message)
            return json_format.MessageToDict(reply, always_print_fields_with_no_presence=True)

    async def _fetch(self, request: GrpcRequest) -> tuple[str, str]:
        """The proto's file name and text."""
        parts = urlsplit(request.proto_uri)
        name = _SAFE_NAME.sub("_", Path(unquote(parts.path)).name) or "service.proto"
        if parts.scheme.lower() == "file":
            # ``file://app/x.proto`` (as the DSL examples write it) means the relative path
            # app/x.proto, not the host "app".
            path = Path(unquote(request.proto_uri[len("file://") :]))
            try:
                data = await asyncio.to_thread(_read_file, path)
            except OSError as exc:
                raise _failure(
                    request,
                    ErrorType.CONFIGURATION,
                    f"cannot read the proto {request.proto_uri}: {exc.strerror or exc}",
                    GRPC_CONFIGURATION_ERROR,
                ) from None
        else:
            data = await self._download(request)
        if len(data) > MAX_PROTO_BYTES:
            raise _failure(
                request,
                ErrorType.CONFIGURATION,
                f"the proto {request.proto_uri} exceeds {MAX_PROTO_BYTES} bytes",
                GRPC_CONFIGURATION_ERROR,
            )
        return name, data.decode("utf-8", errors="replace")

    async def _download(self, request: GrpcRequest) -> bytes:
        try:
            response = await self._http.get(
                request.proto_uri,
                headers=trace_headers(request.proto_headers),
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            raise _failure(
                request,
                ErrorType.COMMUNICATION,
                f"cannot fetch the proto {request.proto_uri}: {str(exc) or type(exc).__name__}",
                GRPC_PROTO_UNAVAILABLE_ERROR,
                status=502,
                retryable=True,
            ) from exc
        if response.status_code >= 400:
            raise _failure(
                request,
                ErrorType.COMMUNICATION,
                f"fetching the proto GET {request.proto_uri} returned HTTP {response.status_code}",
                GRPC_PROTO_UNAVAILABLE_ERROR,
                status=response.status_code,
                retryable=response.status_code >= 500,
            )
        return response.content

    async def _compile(
        self, request: GrpcRequest, name: str, text: str
    ) -> descriptor_pool.DescriptorPool:
        key = hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        descriptors = await _protoc(request, name, text)
        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(descriptors).file:
            pool.Add(file)
        self._pools[key] = pool
        while len(self._pools) > _CACHE_SIZE:
            self._pools.popitem(last=False)
        return pool


def _read_file(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(MAX_PROTO_BYTES + 1)


async def _protoc(request: GrpcRequest, name: str, text: str) -> bytes:
    """Compile ``text`` to a FileDescriptorSet (imports included) with grpc_tools.protoc."""
    workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="stigmer-grpc-"))
    try:
        await asyncio.to_thread((workdir / name).write_text, text, encoding="utf-8")
        out = workdir / "descriptors.pb"
        # The well-known types (google/protobuf/*.proto) ship with grpc_tools.
        includes = resources.files("grpc_tools") / "_proto"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{workdir}",
            f"-I{includes}",
            f"--descriptor_set_out={out}",
            "--include_imports",
            name,
            cwd=workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), _COMPILE_SECONDS)
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if process.returncode != 0:
            errors = stderr.decode("utf-8", errors="replace").strip()
            raise _failure(
                request,
                ErrorType.CONFIGURATION,
                f"the proto {request.proto_uri} does not compile: {errors[:1000]}",
                GRPC_CONFIGURATION_ERROR,
            )
        return await asyncio.to_thread(out.read_bytes)
    finally:
        await asyncio.to_thread(shutil.rmtree, workdir, True)


def _method(request: GrpcRequest, pool: descriptor_pool.DescriptorPool) -> _Method:
    try:
        service = pool.FindServiceByName(request.service)
    except KeyError:
        raise _failure(
            request,
            ErrorType.CONFIGURATION,
            f"with.service.name: the proto {request.proto_uri} defines no service "
            f"{request.service!r} (use the full name, package.Service)",
            GRPC_CONFIGURATION_ERROR,
        ) from None
    method: MethodDescriptor | None = service.methods_by_name.get(request.method)
    if method is None:
        raise _failure(
            request,
            ErrorType.CONFIGURATION,
            f"with.method: service {request.service!r} has no method {request.method!r}",
            GRPC_CONFIGURATION_ERROR,
        )
    if method.client_streaming or method.server_streaming:
        raise _failure(
            request,
            ErrorType.CONFIGURATION,
            f"with.method: {request.service}.{request.method} is a streaming method; only "
            "unary methods are supported",
            GRPC_CONFIGURATION_ERROR,
        )
    return _Method(
        path=f"/{service.full_name}/{method.name}",
        request=message_factory.GetMessageClass(method.input_type),
        response=message_factory.GetMessageClass(method.output_type),
    )


async def _invoke(request: GrpcRequest, method: _Method, message: Message) -> Message:
    target = f"{request.host}:{request.port}"
    # Port 443 is TLS by convention; anything else is plaintext (a local or mesh service).
    channel = (
        grpc.aio.secure_channel(target, grpc.ssl_channel_credentials())
        if request.port == 443
        else grpc.aio.insecure_channel(target)
    )
    try:
        stub = channel.unary_unary(
            method.path,
            request_serializer=_serialize,
            response_deserializer=method.response.FromString,
        )
        reply: Message = await stub(
            message,
            timeout=request.timeout_seconds,
            metadata=tuple(request.metadata.items()) or None,
        )
        return reply
    except grpc.aio.AioRpcError as exc:
        raise _status_failure(request, exc) from None
    except DecodeError as exc:
        raise _failure(
            request,
            ErrorType.COMMUNICATION,
            f"{target}{method.path} answered with a message that does not decode: {exc}",
            GRPC_STATUS_ERROR,
            status=502,
        ) from None
    finally:
        await channel.close()


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _status_failure(request: GrpcRequest, exc: grpc.aio.AioRpcError) -> ApplicationError:
    code = exc.code()
    name = code.name if code is not None else "UNKNOWN"
    number = code.value[0] if code is not None else 2
    target = f"{request.host}:{request.port}"
    detail = (
        f"{request.service}/{request.method} at {target} failed with gRPC status "
        f"{name} ({number}): {exc.details() or 'no details'}"
    )
    timed_out = code == grpc.StatusCode.DEADLINE_EXCEEDED and request.timeout_seconds
    body = problem(
        ErrorType.TIMEOUT if timed_out else ErrorType.COMMUNICATION,
        detail=detail,
        status=408 if timed_out else _HTTP_STATUS.get(code, 500),
    )
    body["grpcCode"] = name
    body["grpcStatus"] = number
    return ApplicationError(
        detail,
        body,
        type=GRPC_STATUS_ERROR,
        # An unreachable server may come back; the platform retries it like a transport error.
        non_retryable=code != grpc.StatusCode.UNAVAILABLE,
    )


def _failure(
    request: GrpcRequest,
    error_type: ErrorType,
    detail: str,
    application_type: str,
    *,
    status: int | None = None,
    retryable: bool = False,
) -> ApplicationError:
    detail = f"task {request.task}: {detail}"
    return ApplicationError(
        detail,
        problem(error_type, detail=detail, status=status),
        type=application_type,
        non_retryable=not retryable,
    )
