"""Shared by the ``call: asyncapi`` integration tests: a local server for AsyncAPI
documents and HTTP publishes, the interpreter with the real HTTP and AsyncAPI activities
(payloads converted as Temporal does), and a runner for the DSL workflow on Temporal."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlparse

import httpx
import yaml
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_PUBLISH_ACTIVITY,
    ASYNCAPI_SUBSCRIBE_ACTIVITY,
    PublishRequest,
    SubscribeRequest,
)
from stigmer_runner.dsl.contracts import ActivityCall, HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.local_http import serve_http
from tests.runner.fakes import FakeRuntime

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "asyncapi", "version": "1.0.0"}


# --- a local server for documents and HTTP publishes ---------------------------------------


class Site:
    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.posts: list[dict[str, Any]] = []


def handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            body = site.documents.get(urlparse(self.path).path)
            if body is None:
                self._send(404, b"{}", "application/json")
            else:
                self._send(200, body, "application/yaml")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            site.posts.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            self._send(202, b'{"accepted": true}', "application/json")

    return Handler


@contextlib.contextmanager
def serve_site() -> Iterator[tuple[str, Site]]:
    """A local server: GET serves ``site.documents``, POST is recorded."""
    state = Site()
    with serve_http(handler(state)) as url:
        yield url, state


def serve(site: tuple[str, Site], document: dict[str, Any]) -> str:
    """Serve ``document`` as YAML; return its URL."""
    base, state = site
    path = f"/docs/{uuid.uuid4()}.yaml"
    state.documents[path] = yaml.safe_dump(document, sort_keys=False).encode()
    return base + path


# --- the interpreter with the real activities ----------------------------------------------

_CONVERTER = DataConverter.default.payload_converter


class ActivityRuntime(FakeRuntime):
    """HTTP calls and AsyncAPI activity calls run the real activities."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__()
        self._http = HttpCallActivities(http=http)
        self._asyncapi = AsyncApiActivities()

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        response: HttpResponse = await ActivityEnvironment().run(self._http.call, request)
        return response

    async def execute(self, call: ActivityCall) -> Any:
        activities: dict[str, tuple[Any, type[Any]]] = {
            ASYNCAPI_PUBLISH_ACTIVITY: (self._asyncapi.publish, PublishRequest),
            ASYNCAPI_SUBSCRIBE_ACTIVITY: (self._asyncapi.subscribe, SubscribeRequest),
        }
        function, kind = activities[call.name]
        # Through Temporal's converter, as the workflow's activity call would be.
        (argument,) = _CONVERTER.from_payloads(_CONVERTER.to_payloads([call.payload]), [kind])
        try:
            result = await ActivityEnvironment().run(function, argument)
        except ApplicationError as err:
            raise WorkflowError(err.details[0]) from err
        (plain,) = _CONVERTER.from_payloads(_CONVERTER.to_payloads([result]))
        return plain


def workflow(with_: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    task = {"call": "asyncapi", "with": with_}
    return {"document": dict(HEADER), "do": [*(extra or []), {"pets": task}]}


async def run(document: dict[str, Any], runtime: ActivityRuntime, given: Any = None) -> Any:
    return await Interpreter(document, runtime=runtime).run({} if given is None else given)


def activities(http: httpx.AsyncClient) -> Sequence[Any]:
    """The activities a DSL workflow with ``call: asyncapi`` tasks needs."""
    asyncapi = AsyncApiActivities()
    return [HttpCallActivities(http=http).call, asyncapi.publish, asyncapi.subscribe]


async def start_dsl(
    client: Client, queue: str, do: list[dict[str, Any]]
) -> WorkflowHandle[Any, ExecutionOutcome]:
    """Start the DSL workflow with ``do`` on ``queue`` (a worker must serve it)."""
    return await client.start_workflow(
        DSL_WORKFLOW,
        DslRunInput(
            execution_id=f"exec-{uuid.uuid4()}",
            workflow_id="wf-asyncapi",
            document={"document": dict(HEADER), "do": do},
            input={},
            child=True,  # no status reports: these tests have no API to report to
        ),
        id=f"asyncapi-{uuid.uuid4()}",
        task_queue=queue,
        result_type=ExecutionOutcome,
        execution_timeout=timedelta(seconds=90),
    )
