"""``call: http``: resolve the request, send it through the runtime, shape the output.

The endpoint is a runtime expression or a URI template whose ``{name}`` placeholders take
top-level properties of the task input (RFC 6570 simple string expansion, as the DSL
reference specifies). Headers, query, body and credentials may hold ``${ }`` expressions.
A status outside 2xx (3xx allowed with ``redirect: true``) faults with a communication error
carrying that status.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, http_status_problem
from stigmer_runner.dsl.expressions import is_expression
from stigmer_runner.dsl.tasks.authentication import send_authenticated
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult

_OUTPUTS = ("content", "response", "raw")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EXCERPT_CHARS = 300


def response_options(task: TaskContext, args: Mapping[str, Any]) -> tuple[str, bool]:
    """``with.output`` and ``with.redirect`` of an HTTP-shaped call (http, openapi)."""
    output = args.get("output", "content")
    if output not in _OUTPUTS:
        raise task.configuration_error(f"with.output must be one of {', '.join(_OUTPUTS)}")
    redirect = args.get("redirect", False)
    if not isinstance(redirect, bool):
        raise task.configuration_error("with.redirect must be true or false")
    return str(output), redirect


async def call_http(task: TaskContext) -> TaskResult:
    """Run one ``call: http`` task."""
    args = task.definition.get("with")
    if not isinstance(args, Mapping):
        raise task.configuration_error("'with' must be a mapping with 'method' and 'endpoint'")
    method = task.evaluate_value(args.get("method"), field="with.method")
    if not isinstance(method, str) or not method.strip():
        raise task.configuration_error("with.method must be an HTTP method such as get or post")
    output, redirect = response_options(task, args)

    uri, policy = _endpoint(task, args.get("endpoint"))
    headers = _strings(task, args.get("headers"), "with.headers")
    request = HttpRequest(
        method=method.strip().upper(),
        url=uri,
        headers=headers,
        query=_strings(task, args.get("query"), "with.query"),
        body=task.evaluate_value(args.get("body"), field="with.body"),
        redirect=redirect,
        timeout_seconds=request_timeout_seconds(task),
        output=output,
    )
    response, authorization = await send_authenticated(
        task, request, policy, field="with.endpoint.authentication"
    )
    highest = 400 if redirect else 300
    if not 200 <= response.status_code < highest:
        raise WorkflowError(
            http_status_problem(
                response.status_code,
                method=request.method,
                uri=response.request_uri or request.url,
                excerpt=response_excerpt(response.content),
                instance=task.pointer,
            )
        )
    return TaskResult(
        shape_output(response, request, output),
        authorization=authorization.descriptor() if authorization else None,
    )


def _endpoint(task: TaskContext, endpoint: Any) -> tuple[str, Any]:
    """The URL to call and the authentication policy, if any."""
    return resolve_uri(task, endpoint, field="with.endpoint")


def resolve_uri(
    task: TaskContext,
    endpoint: Any,
    *,
    field: str,
    schemes: tuple[str, ...] = ("http", "https"),
) -> tuple[str, Any]:
    """An endpoint's absolute URI (expression or URI template resolved) and its
    authentication policy, if any; the URI's scheme must be one of ``schemes``."""
    policy = None
    if isinstance(endpoint, Mapping):
        policy = endpoint.get("authentication")
        endpoint = endpoint.get("uri")
        field = f"{field}.uri"
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise task.configuration_error(f"{field} must be a URI, a URI template or an expression")
    if is_expression(endpoint):
        uri = task.evaluate(endpoint, field=field)
        if not isinstance(uri, str):
            raise task.configuration_error(f"{field} evaluated to {_kind(uri)}, not a URI")
    else:
        uri = expand_uri_template(task, endpoint, field)
    uri = uri.strip()
    scheme, _, rest = uri.partition("://")
    if scheme.lower() not in schemes or not rest:
        allowed = (
            "http(s)"
            if set(schemes) == {"http", "https"}
            else ", ".join(f"{s}://" for s in schemes)
        )
        raise task.configuration_error(f"{field} must be an absolute {allowed} URI, got {uri!r}")
    return uri, policy


def expand_uri_template(task: TaskContext, template: str, field: str) -> str:
    """RFC 6570 simple string expansion with the task input's top-level properties."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        value = task.input.get(name) if isinstance(task.input, Mapping) else None
        if value is None:
            return ""
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise WorkflowError.of(
                ErrorType.EXPRESSION,
                f"task {task.name!r}, {field}: {{{name}}} is {_kind(value)}; a URI template "
                "variable must be a string, number, boolean or null",
                instance=task.pointer,
            )
        return quote(text, safe="")

    return _PLACEHOLDER.sub(value_of, template)


def _strings(task: TaskContext, value: Any, field: str) -> dict[str, str]:
    """Headers or query parameters: a mapping (or an expression giving one) of scalars."""
    resolved = task.evaluate_value(value, field=field)
    if resolved is None:
        return {}
    if not isinstance(resolved, Mapping):
        raise task.configuration_error(f"{field} must be a mapping, got {_kind(resolved)}")
    strings: dict[str, str] = {}
    for key, item in resolved.items():
        if item is None:
            continue
        if isinstance(item, bool):
            strings[str(key)] = "true" if item else "false"
        elif isinstance(item, str | int | float):
            strings[str(key)] = str(item)
        else:
            raise task.configuration_error(f"{field}.{key} must be a string, got {_kind(item)}")
    return strings


def request_timeout_seconds(task: TaskContext) -> float | None:
    """The task's ``timeout.after`` in seconds, inline or named in ``use.timeouts``."""
    timeout = task.definition.get("timeout")
    field = "timeout"
    if timeout is None:
        return None
    if isinstance(timeout, str):
        timeouts = (task.document.get("use") or {}).get("timeouts") or {}
        if not isinstance(timeouts, Mapping) or timeout not in timeouts:
            raise task.configuration_error(
                f"timeout names {timeout!r}, which is not defined in use.timeouts"
            )
        field, timeout = f"use.timeouts.{timeout}", timeouts[timeout]
    after = timeout.get("after") if isinstance(timeout, Mapping) else None
    if isinstance(after, str) and is_expression(after):
        after = task.evaluate(after, field=f"{field}.after")
    try:
        return duration_seconds(after)
    except ValueError as exc:
        raise task.configuration_error(f"{field}.after: {exc}") from None


def shape_output(response: HttpResponse, request: HttpRequest, output: str) -> Any:
    """A call's output in the form the task asks for: ``content``, ``response`` or ``raw``."""
    if output == "raw":
        return response.raw_base64
    if output == "response":
        return {
            "request": {
                "method": response.request_method or request.method,
                "uri": response.request_uri or request.url,
                "headers": response.request_headers,
            },
            "statusCode": response.status_code,
            "headers": response.headers,
            "content": response.content,
        }
    return response.content


def response_excerpt(content: Any) -> str | None:
    """A short text of a response body for error details (None for an empty body)."""
    if content is None:
        return None
    text = content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"
