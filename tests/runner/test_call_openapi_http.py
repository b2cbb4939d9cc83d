"""``call: openapi`` through the real HTTP activity against a local server (no internet).

The server serves an OpenAPI 3 document (YAML, relative server URL) and a Swagger 2.0 one
(JSON, ``host`` naming the server) describing the same two pet endpoints.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from temporalio.client import Client

from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.local_http import serve_http
from tests.runner.http_runtime import HttpRuntime
from tests.runner.sandbox_runs import replays, run_sandboxed

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "openapi", "version": "1.0.0"}
PETS = [
    {"id": 1, "name": "doggie", "status": "available"},
    {"id": 2, "name": "kitty", "status": "available"},
    {"id": 3, "name": "rex", "status": "sold"},
]

OPENAPI_YAML = """\
openapi: 3.1.0
info: {title: Pets, version: '1'}
servers: [{url: ../api}]
paths:
  /pet/findByStatus:
    get:
      operationId: findPetsByStatus
      parameters:
        - {name: status, in: query, required: true, schema: {type: string}}
      responses:
        '200': {description: ok, content: {application/json: {}}}
  /pet/{petId}:
    get:
      operationId: getPetById
      parameters:
        - {name: petId, in: path, required: true, schema: {type: integer}}
      responses:
        '200': {description: ok, content: {application/json: {}}}
"""


def swagger(host: str) -> dict[str, Any]:
    document = yaml.safe_load(OPENAPI_YAML)
    for operation in (document["paths"][p]["get"] for p in document["paths"]):
        for parameter in operation["parameters"]:
            parameter["type"] = parameter.pop("schema")["type"]
        operation["produces"] = ["application/json"]
        operation["responses"] = {"200": {"description": "ok"}}
    return {
        "swagger": "2.0",
        "info": document["info"],
        "host": host,
        "basePath": "/api",
        "schemes": ["http"],
        "paths": document["paths"],
    }


class _Handler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.requests.append(self.path)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/docs/openapi.yaml":
            self._reply(200, OPENAPI_YAML.encode(), "application/yaml")
        elif url.path == "/docs/swagger.json":
            body = json.dumps(swagger(self.headers["Host"])).encode()
            self._reply(200, body, "application/json")
        elif url.path == "/api/pet/findByStatus":
            pets = [p for p in PETS if p["status"] in query.get("status", [])]
            self._reply(200, json.dumps(pets).encode(), "application/json")
        elif url.path.startswith("/api/pet/"):
            pet = next((p for p in PETS if str(p["id"]) == url.path.rsplit("/", 1)[1]), None)
            if pet is None:
                self._reply(404, b'{"message": "Pet not found"}', "application/json")
            else:
                self._reply(200, json.dumps(pet).encode(), "application/json")
        else:
            self._reply(404, b'{"message": "no such route"}', "application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve_http(_Handler) as url:
        yield url


@pytest.fixture
async def runtime() -> AsyncIterator[HttpRuntime]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield HttpRuntime(HttpCallActivities(http=http))


async def run(runtime: HttpRuntime, text: str, given: Any) -> Any:
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    return await Interpreter(doc, runtime=runtime).run(given)


@pytest.mark.parametrize("document", ["docs/openapi.yaml", "docs/swagger.json"])
async def test_content_output_filtered_like_the_ctk_scenario(
    server: str, runtime: HttpRuntime, document: str
) -> None:
    output = await run(
        runtime,
        f"""
        do:
          - findPet:
              call: openapi
              with:
                document:
                  endpoint: {server}/{document}
                operationId: findPetsByStatus
                parameters:
                  status: ${{ .status }}
              output:
                as: . | length
        """,
        {"status": "available"},
    )
    assert output == 2
    assert runtime.requests[1].url == f"{server}/api/pet/findByStatus?status=available"


@pytest.mark.parametrize("document", ["docs/openapi.yaml", "docs/swagger.json"])
async def test_response_output_like_the_ctk_scenario(
    server: str, runtime: HttpRuntime, document: str
) -> None:
    output = await run(
        runtime,
        f"""
        do:
          - getPet:
              call: openapi
              with:
                document:
                  endpoint: {server}/{document}
                operationId: getPetById
                parameters:
                  petId: ${{ .petId }}
                output: response
        """,
        {"petId": 1},
    )
    assert output["statusCode"] == 200
    assert output["request"]["method"] == "GET"
    assert output["request"]["uri"] == f"{server}/api/pet/1"
    assert output["request"]["headers"]["accept"] == "application/json"
    assert output["headers"]["content-type"] == "application/json"
    assert output["content"] == PETS[0]


async def test_not_found_pet_faults_with_the_status(server: str, runtime: HttpRuntime) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(
            runtime,
            f"""
            do:
              - getPet:
                  call: openapi
                  with:
                    document:
                      endpoint: {server}/docs/openapi.yaml
                    operationId: getPetById
                    parameters:
                      petId: 99
            """,
            {},
        )
    assert caught.value.problem["type"] == ErrorType.COMMUNICATION
    assert caught.value.problem["status"] == 404
    assert "Pet not found" in caught.value.problem["detail"]


@pytest.mark.integration
async def test_openapi_runs_in_the_workflow_sandbox_and_replays(
    temporal_address: str, server: str
) -> None:
    """The document is fetched and parsed (YAML) inside Temporal's sandbox, deterministically."""
    document = {
        "document": HEADER,
        "do": [
            {
                "findPet": {
                    "call": "openapi",
                    "with": {
                        "document": {"endpoint": f"{server}/docs/openapi.yaml"},
                        "operationId": "findPetsByStatus",
                        "parameters": {"status": "${ .status }"},
                    },
                    "output": {"as": "[.[].name]"},
                }
            }
        ],
    }
    client = await Client.connect(temporal_address)
    result, handle = await run_sandboxed(
        client, {"document": document, "input": {"status": "sold"}}, name="openapi-sandbox"
    )
    assert result["error"] is None
    assert result["output"] == ["rex"]
    await replays(handle)
