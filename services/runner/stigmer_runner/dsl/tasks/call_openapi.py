"""``call: openapi``: fetch the OpenAPI document, build the operation's request, send it.

The document (JSON or YAML, OpenAPI 3.x or Swagger 2.0) is fetched through the runtime's
HTTP port, so the fetch is an activity recorded in history and replays identically. The
operation named by ``operationId`` is turned into a plain HTTP request: ``parameters``
fill its path, query, header and cookie parameters, and its body comes from the parameter
named ``body`` (or the Swagger 2.0 body parameter's own name); for an OpenAPI 3 request
body, parameters the operation does not declare make up the body object instead. The
request is sent, checked and shaped exactly as ``call: http`` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, http_status_problem
from stigmer_runner.dsl.tasks.authentication import send_authenticated
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult
from stigmer_runner.dsl.tasks.call_http import (
    request_timeout_seconds,
    resolve_uri,
    response_excerpt,
    response_options,
    shape_output,
)

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_BODY_NAMES = ("body", "requestBody")
_DOCUMENT_ACCEPT = "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.1"
_SERVER_VARIABLE = re.compile(r"\{([^{}]+)\}")
_SWAGGER_SEPARATORS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}
_V3_SEPARATORS = {"form": ",", "spaceDelimited": " ", "pipeDelimited": "|"}


@dataclass
class _Request:
    """The operation's request as it is being built."""

    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    body: Any = None
    content_type: str | None = None


async def call_openapi(task: TaskContext) -> TaskResult:
    """Run one ``call: openapi`` task."""
    args = task.definition.get("with")
    if not isinstance(args, Mapping):
        raise task.configuration_error("'with' must be a mapping with 'document' and 'operationId'")
    operation_id = args.get("operationId")
    if not isinstance(operation_id, str) or not operation_id.strip():
        raise task.configuration_error("with.operationId must name an operation of the document")
    output, redirect = response_options(task, args)
    parameters = task.evaluate_value(args.get("parameters"), field="with.parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        raise task.configuration_error("with.parameters must be a mapping of parameter values")
    timeout = request_timeout_seconds(task)

    document_url, document = await _fetch_document(task, args.get("document"), timeout)
    operation = _Operation.find(task, document, operation_id, document_url)
    request = operation.build(task, parameters)

    headers = dict(request.headers)
    if request.cookies:
        headers["Cookie"] = "; ".join(request.cookies)
    accept = operation.accept()
    if accept and not any(k.lower() == "accept" for k in headers):
        headers["Accept"] = accept
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    url = operation.base_url(task, document_url) + request.path
    if request.query:
        url = f"{url}?{urlencode(request.query, quote_via=quote)}"
    http = HttpRequest(
        method=operation.method.upper(),
        url=url,
        headers=headers,
        body=request.body,
        redirect=redirect,
        timeout_seconds=timeout,
        output=output,
    )
    response, authorization = await send_authenticated(
        task, http, args.get("authentication"), field="with.authentication"
    )
    _check_status(task, http, response, redirect=redirect)
    return TaskResult(
        shape_output(response, http, output),
        authorization=authorization.descriptor() if authorization else None,
    )


async def _fetch_document(
    task: TaskContext, resource: Any, timeout: float | None
) -> tuple[str, Mapping[str, Any]]:
    """The document's URL and its parsed content."""
    if not isinstance(resource, Mapping) or "endpoint" not in resource:
        raise task.configuration_error("with.document must be a mapping with an 'endpoint'")
    field_name = "with.document.endpoint"
    url, policy = resolve_uri(task, resource["endpoint"], field=field_name)
    headers = {"Accept": _DOCUMENT_ACCEPT}
    # ``raw``: the activity decodes only JSON and text, and a YAML document may be served
    # under any content type; the bytes are parsed here instead.
    request = HttpRequest(
        method="GET",
        url=url,
        headers=headers,
        redirect=True,
        timeout_seconds=timeout,
        output="raw",
    )
    response, _ = await send_authenticated(
        task, request, policy, field=f"{field_name}.authentication"
    )
    _check_status(task, request, response, redirect=True)
    location = response.request_uri or url
    document = _parse_document(task, response, location)
    return location, document


def _parse_document(task: TaskContext, response: HttpResponse, url: str) -> Mapping[str, Any]:
    text = response.body_text()
    parsed: Any = None
    if text is not None:
        try:
            parsed = json.loads(text)
        except ValueError:
            try:
                parsed = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise task.configuration_error(
                    f"the OpenAPI document at {url} is neither JSON nor YAML: {exc}"
                ) from None
    if not isinstance(parsed, Mapping):
        raise task.configuration_error(f"the OpenAPI document at {url} is not an object")
    version = parsed.get("openapi") or parsed.get("swagger")
    if not isinstance(version, str) or not version.startswith(("3.", "2.")):
        raise task.configuration_error(
            f"the document at {url} declares neither 'openapi: 3.x' nor 'swagger: 2.0'"
        )
    if not isinstance(parsed.get("paths"), Mapping):
        raise task.configuration_error(f"the OpenAPI document at {url} has no 'paths'")
    return parsed


def _check_status(
    task: TaskContext, request: HttpRequest, response: HttpResponse, *, redirect: bool
) -> None:
    highest = 400 if redirect else 300
    if not 200 <= response.status_code < highest:
        content = response.content
        if content is None and response.raw_base64:
            content = response.body_text()
        raise WorkflowError(
            http_status_problem(
                response.status_code,
                method=request.method,
                uri=response.request_uri or request.url,
                excerpt=response_excerpt(content),
                instance=task.pointer,
            )
        )


@dataclass(frozen=True)
class _Operation:
    document: Mapping[str, Any]
    operation_id: str
    path: str
    method: str
    path_item: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def swagger(self) -> bool:
        return "swagger" in self.document

    @classmethod
    def find(
        cls, task: TaskContext, document: Mapping[str, Any], operation_id: str, url: str
    ) -> _Operation:
        for path, item in document["paths"].items():
            item = _resolve(document, item)
            if not isinstance(item, Mapping):
                continue
            for method in _METHODS:
                spec = item.get(method)
                if isinstance(spec, Mapping) and spec.get("operationId") == operation_id:
                    return cls(document, operation_id, str(path), method, item, spec)
        raise task.configuration_error(
            f"with.operationId: the OpenAPI document at {url} defines no operation {operation_id!r}"
        )

    def parameters(self) -> list[Mapping[str, Any]]:
        """Path-level parameters overridden by the operation's, by (name, location)."""
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for source in (self.path_item.get("parameters"), self.spec.get("parameters")):
            for raw in source if isinstance(source, list) else []:
                parameter = _resolve(self.document, raw)
                if isinstance(parameter, Mapping) and isinstance(parameter.get("name"), str):
                    merged[(parameter["name"], str(parameter.get("in")))] = parameter
        return list(merged.values())

    def build(self, task: TaskContext, values: Mapping[str, Any]) -> _Request:
        request = _Request(path=self.path)
        used: set[str] = set()
        form: dict[str, Any] = {}
        body_parameter: str | None = None
        for parameter in self.parameters():
            name, location = parameter["name"], parameter.get("in")
            if location == "body":
                body_parameter = name
                continue
            value = values.get(name)
            if value is None:
                if parameter.get("required") or location == "path":
                    raise self._missing(task, name)
                continue
            used.add(name)
            if location == "path":
                text = _joined(value, _separator(parameter, self.swagger))
                request.path = request.path.replace(f"{{{name}}}", quote(text, safe=""))
            elif location == "query":
                request.query.extend(_query_pairs(name, value, parameter, self.swagger))
            elif location == "header":
                request.headers[name] = _joined(value, ",")
            elif location == "cookie":
                request.cookies.append(f"{name}={_joined(value, ',')}")
            elif location == "formData":
                form[name] = value
        if form:
            request.body = form
            request.content_type = "application/x-www-form-urlencoded"
            self._refuse_multipart(task)
        body_spec = self._request_body()
        if body_parameter is not None or body_spec is not None:
            names = (body_parameter, *_BODY_NAMES) if body_parameter else _BODY_NAMES
            given = next((n for n in names if n in values), None)
            if given is not None:
                used.add(given)
                request.body = values[given]
            elif body_spec is not None:
                # OpenAPI 3: parameters the operation does not declare make up the body.
                rest = {k: v for k, v in values.items() if k not in used}
                if rest:
                    used.update(rest)
                    request.body = rest
            if request.body is None and self._body_required(body_parameter, body_spec):
                raise self._missing(task, body_parameter or "body")
            if request.body is not None:
                request.content_type = self._body_media()
        unknown = sorted(str(k) for k in values if k not in used and values[k] is not None)
        declared = {p["name"] for p in self.parameters()}
        unknown = [k for k in unknown if k not in declared]
        if unknown:
            raise WorkflowError.of(
                ErrorType.VALIDATION,
                f"task {task.name!r}, with.parameters: operation {self.operation_id!r} "
                f"defines no parameter {', '.join(repr(k) for k in unknown)}",
                instance=task.pointer,
            )
        return request

    def _missing(self, task: TaskContext, name: str) -> WorkflowError:
        return WorkflowError.of(
            ErrorType.VALIDATION,
            f"task {task.name!r}, with.parameters: operation {self.operation_id!r} requires "
            f"the parameter {name!r}",
            instance=task.pointer,
        )

    def _request_body(self) -> Mapping[str, Any] | None:
        if self.swagger:
            return None
        body = _resolve(self.document, self.spec.get("requestBody"))
        return body if isinstance(body, Mapping) else None

    def _body_required(self, body_parameter: str | None, body_spec: Any) -> bool:
        if body_parameter is not None:
            parameter = next(
                (p for p in self.parameters() if p.get("in") == "body"), {"required": False}
            )
            return bool(parameter.get("required"))
        return isinstance(body_spec, Mapping) and bool(body_spec.get("required"))

    def _media_types(self) -> list[str]:
        if self.swagger:
            consumes = self.spec.get("consumes", self.document.get("consumes"))
            return [str(m) for m in consumes] if isinstance(consumes, list) else []
        body = self._request_body()
        content = body.get("content") if body else None
        return [str(m) for m in content] if isinstance(content, Mapping) else []

    def _body_media(self) -> str:
        media = self._media_types()
        return next((m for m in media if _is_json(m)), media[0] if media else "application/json")

    def _refuse_multipart(self, task: TaskContext) -> None:
        media = self._media_types()
        if media and not any(m.startswith("application/x-www-form-urlencoded") for m in media):
            raise task.configuration_error(
                f"operation {self.operation_id!r} takes {media[0]} form data, which is not "
                "supported (only application/x-www-form-urlencoded)"
            )

    def accept(self) -> str | None:
        """``application/json`` when the operation can answer with JSON."""
        if self.swagger:
            produces = self.spec.get("produces", self.document.get("produces"))
            media = [str(m) for m in produces] if isinstance(produces, list) else []
        else:
            media = []
            responses = self.spec.get("responses")
            for response in responses.values() if isinstance(responses, Mapping) else []:
                response = _resolve(self.document, response)
                content = response.get("content") if isinstance(response, Mapping) else None
                if isinstance(content, Mapping):
                    media.extend(str(m) for m in content)
        return next((m for m in media if _is_json(m)), None)

    def base_url(self, task: TaskContext, document_url: str) -> str:
        """The server the operation is sent to, resolved against the document's URL."""
        if self.swagger:
            return self._swagger_base(document_url)
        for source in (self.spec, self.path_item, self.document):
            servers = source.get("servers")
            if isinstance(servers, list) and servers and isinstance(servers[0], Mapping):
                server = servers[0]
                url = _expand_server(str(server.get("url", "/")), server.get("variables"))
                break
        else:
            url = "/"
        base = urljoin(document_url, url)
        if not base.lower().startswith(("http://", "https://")):
            raise task.configuration_error(
                f"the OpenAPI document's server {url!r} is not an http(s) URL"
            )
        return base.rstrip("/")

    def _swagger_base(self, document_url: str) -> str:
        parts = urlsplit(document_url)
        schemes = self.spec.get("schemes", self.document.get("schemes"))
        schemes = [str(s).lower() for s in schemes] if isinstance(schemes, list) else []
        if not schemes or parts.scheme in schemes:
            scheme = parts.scheme
        else:
            scheme = "https" if "https" in schemes else schemes[0]
        host = self.document.get("host") or parts.netloc
        base_path = str(self.document.get("basePath") or "/")
        if not base_path.startswith("/"):
            base_path = f"/{base_path}"
        return f"{scheme}://{host}{base_path}".rstrip("/")


def _resolve(document: Mapping[str, Any], value: Any, depth: int = 0) -> Any:
    """Follow a local ``$ref`` (``#/components/...``); remote references stay unresolved."""
    while isinstance(value, Mapping) and isinstance(value.get("$ref"), str) and depth < 20:
        ref = value["$ref"]
        if not ref.startswith("#/"):
            return value
        target: Any = document
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, Mapping) else None
        value = target
        depth += 1
    return value


def _expand_server(url: str, variables: Any) -> str:
    def default(match: re.Match[str]) -> str:
        variable = variables.get(match[1]) if isinstance(variables, Mapping) else None
        value = variable.get("default") if isinstance(variable, Mapping) else None
        return str(value) if value is not None else ""

    return _SERVER_VARIABLE.sub(default, url)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":")) if isinstance(value, Mapping) else str(value)


def _joined(value: Any, separator: str) -> str:
    if isinstance(value, list):
        return separator.join(_scalar(item) for item in value)
    return _scalar(value)


def _separator(parameter: Mapping[str, Any], swagger: bool) -> str:
    if swagger:
        return _SWAGGER_SEPARATORS.get(str(parameter.get("collectionFormat", "csv")), ",")
    return _V3_SEPARATORS.get(str(parameter.get("style", "form")), ",")


def _query_pairs(
    name: str, value: Any, parameter: Mapping[str, Any], swagger: bool
) -> list[tuple[str, str]]:
    """Query pairs for one parameter, serialised as its style asks (explode by default)."""
    if swagger:
        exploded = parameter.get("collectionFormat") == "multi"
    else:
        style = parameter.get("style", "form")
        exploded = bool(parameter.get("explode", style == "form"))
        if style == "deepObject" and isinstance(value, Mapping):
            return [(f"{name}[{k}]", _scalar(v)) for k, v in value.items()]
    if isinstance(value, list):
        if exploded:
            return [(name, _scalar(item)) for item in value]
        return [(name, _joined(value, _separator(parameter, swagger)))]
    if isinstance(value, Mapping) and not swagger:
        if exploded:
            return [(str(k), _scalar(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_scalar(v)}" for k, v in value.items()))]
    return [(name, _scalar(value))]


def _is_json(media: str) -> bool:
    base = media.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")
