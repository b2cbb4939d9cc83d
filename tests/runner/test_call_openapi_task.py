"""``call: openapi`` in the interpreter: document fetch, operation lookup, request building."""

from __future__ import annotations

import base64
import json
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "openapi", "version": "1.0.0"}

SWAGGER_URL = "https://petstore.example.com/v2/swagger.json"
OPENAPI_URL = "https://docs.example.com/specs/shop.yaml"

SWAGGER: dict[str, Any] = {
    "swagger": "2.0",
    "info": {"title": "Pets", "version": "1"},
    "host": "pets.example.com:8443",
    "basePath": "/v2",
    "schemes": ["https"],
    "produces": ["application/xml", "application/json"],
    "paths": {
        "/pet/findByStatus": {
            "get": {
                "operationId": "findPetsByStatus",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": True,
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                    {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}},
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/pet/{petId}": {
            "parameters": [{"$ref": "#/parameters/petId"}],
            "get": {"operationId": "getPetById", "responses": {"200": {"description": "ok"}}},
            "post": {
                "operationId": "updatePetWithForm",
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {"name": "name", "in": "formData", "type": "string"},
                    {"name": "api_key", "in": "header", "type": "string"},
                ],
                "responses": {"200": {"description": "ok"}},
            },
        },
        "/pet": {
            "post": {
                "operationId": "addPet",
                "consumes": ["application/json"],
                "parameters": [
                    {"name": "pet", "in": "body", "required": True, "schema": {"type": "object"}}
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "parameters": {"petId": {"name": "petId", "in": "path", "required": True, "type": "integer"}},
}

OPENAPI_YAML = """\
openapi: 3.0.3
info: {title: Shop, version: '1'}
servers:
  - url: /api/{version}
    variables:
      version: {default: v1}
paths:
  /orders:
    post:
      operationId: createOrder
      parameters:
        - {name: X-Request-Id, in: header, schema: {type: string}}
        - {name: dryRun, in: query, schema: {type: boolean}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object}
      responses:
        '201':
          description: created
          content:
            application/json: {schema: {type: object}}
  /orders/{orderId}:
    get:
      operationId: getOrder
      servers:
        - url: https://orders.example.com/
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: string}}
        - {name: fields, in: query, explode: false, schema: {type: array}}
        - {name: session, in: cookie, schema: {type: string}}
      responses:
        '200':
          $ref: '#/components/responses/Order'
components:
  responses:
    Order:
      description: an order
      content:
        application/hal+json: {schema: {type: object}}
"""


def raw_response(request: HttpRequest, body: bytes, content_type: str) -> HttpResponse:
    """The raw answer the HTTP activity gives to ``output: raw`` (the document fetch)."""
    return HttpResponse(
        status_code=200,
        headers={"content-type": content_type},
        content_type=content_type,
        raw_base64=base64.b64encode(body).decode("ascii"),
        request_method=request.method,
        request_uri=request.url,
    )


def service(request: HttpRequest) -> HttpResponse:
    """Serves both documents and answers every operation call with what it received."""
    if request.url == SWAGGER_URL:
        return raw_response(request, json.dumps(SWAGGER).encode(), "application/json")
    if request.url == OPENAPI_URL:
        return raw_response(request, OPENAPI_YAML.encode(), "application/yaml")
    if "missing" in request.url:
        return json_response(request, {"message": "no such order"}, status=404)
    return json_response(request, {"called": request.url, "body": request.body}, status=200)


async def call(text: str, given: Any = None) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(service)
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    output = await Interpreter(doc, runtime=runtime).run({} if given is None else given)
    return output, runtime


async def fault(text: str, given: Any = None) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await call(text, given)
    return caught.value.problem


def task(url: str, operation: str, parameters: dict[str, Any] | None = None, **extra: Any) -> str:
    with_ = {"document": {"endpoint": url}, "operationId": operation, **extra}
    if parameters is not None:
        with_["parameters"] = parameters
    return yaml.safe_dump({"do": [{"op": {"call": "openapi", "with": with_}}]})


async def test_swagger_operation_is_sent_to_host_and_base_path() -> None:
    # The ctk scenario's shape: status from the input, multi collection format.
    output, runtime = await call(
        task(SWAGGER_URL, "findPetsByStatus", {"status": "${ .status }", "tags": ["a", "b"]}),
        {"status": ["available", "sold"]},
    )
    fetch, operation = runtime.requests
    assert (fetch.method, fetch.url, fetch.output, fetch.redirect) == (
        "GET",
        SWAGGER_URL,
        "raw",
        True,
    )
    assert operation.method == "GET"
    assert operation.url == (
        "https://pets.example.com:8443/v2/pet/findByStatus?status=available&status=sold&tags=a%2Cb"
    )
    assert operation.headers["Accept"] == "application/json"
    assert operation.body is None
    assert output == {"called": operation.url, "body": None}


async def test_path_parameter_from_a_path_level_reference() -> None:
    _, runtime = await call(task(SWAGGER_URL, "getPetById", {"petId": "${ .id }"}), {"id": 7})
    assert runtime.requests[1].url == "https://pets.example.com:8443/v2/pet/7"


async def test_swagger_body_parameter_and_form_data() -> None:
    _, runtime = await call(task(SWAGGER_URL, "addPet", {"pet": {"name": "Rex"}}))
    sent = runtime.requests[1]
    assert (sent.method, sent.body, sent.headers["Content-Type"]) == (
        "POST",
        {"name": "Rex"},
        "application/json",
    )
    _, runtime = await call(
        task(SWAGGER_URL, "updatePetWithForm", {"petId": 3, "name": "Kit", "api_key": "k"})
    )
    sent = runtime.requests[1]
    assert sent.url.endswith("/v2/pet/3")
    assert sent.body == {"name": "Kit"}
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["api_key"] == "k"


async def test_openapi3_yaml_relative_server_and_body_from_undeclared_parameters() -> None:
    output, runtime = await call(
        task(
            OPENAPI_URL,
            "createOrder",
            {"X-Request-Id": "r-1", "dryRun": True, "item": "${ .item }", "quantity": 2},
            output="response",
        ),
        {"item": "book"},
    )
    sent = runtime.requests[1]
    assert sent.url == "https://docs.example.com/api/v1/orders?dryRun=true"
    assert sent.method == "POST"
    assert sent.body == {"item": "book", "quantity": 2}
    assert sent.headers["X-Request-Id"] == "r-1"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert output["statusCode"] == 200
    assert output["request"]["method"] == "POST"
    assert output["request"]["uri"] == sent.url
    assert output["request"]["headers"]["x-request-id"] == "r-1"
    assert output["content"]["body"] == {"item": "book", "quantity": 2}


async def test_openapi3_explicit_body_operation_server_cookie_and_style() -> None:
    _, runtime = await call(
        task(
            OPENAPI_URL,
            "getOrder",
            {"orderId": "a/b", "fields": ["id", "total"], "session": "s1"},
        )
    )
    sent = runtime.requests[1]
    assert sent.url == "https://orders.example.com/orders/a%2Fb?fields=id%2Ctotal"
    assert sent.headers["Cookie"] == "session=s1"
    assert sent.headers["Accept"] == "application/hal+json"
    _, runtime = await call(task(OPENAPI_URL, "createOrder", {"body": {"whole": True}}))
    assert runtime.requests[1].body == {"whole": True}


async def test_authentication_applies_to_the_operation_not_the_document() -> None:
    output, runtime = await call(
        task(
            SWAGGER_URL,
            "getPetById",
            {"petId": 1},
            authentication={"bearer": {"token": "${ .token }"}},
        )
        + "\n",
        {"token": "t0k"},
    )
    fetch, operation = runtime.requests
    assert "Authorization" not in fetch.headers
    assert operation.headers["Authorization"] == "Bearer t0k"
    assert output["called"].endswith("/pet/1")


async def test_error_status_faults_like_call_http() -> None:
    problem = await fault(task(OPENAPI_URL, "getOrder", {"orderId": "missing"}))
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == 404
    assert "https://orders.example.com/orders/missing" in problem["detail"]
    assert problem["instance"] == "/do/0/op"


async def test_unknown_operation_is_a_configuration_error_naming_it() -> None:
    problem = await fault(task(SWAGGER_URL, "deletePet", {}))
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "'deletePet'" in problem["detail"]
    assert SWAGGER_URL in problem["detail"]


@pytest.mark.parametrize(
    ("operation", "parameters", "missing"),
    [
        ("findPetsByStatus", {}, "'status'"),
        ("getPetById", {"petId": None}, "'petId'"),
        ("addPet", {}, "'pet'"),
        ("createOrder", {}, "'body'"),
    ],
)
async def test_missing_required_parameter_is_a_validation_error_naming_it(
    operation: str, parameters: dict[str, Any], missing: str
) -> None:
    url = OPENAPI_URL if operation == "createOrder" else SWAGGER_URL
    problem = await fault(task(url, operation, parameters))
    assert problem["type"] == ErrorType.VALIDATION
    assert missing in problem["detail"]
    assert f"'{operation}'" in problem["detail"]


async def test_undeclared_parameter_is_a_validation_error() -> None:
    problem = await fault(task(SWAGGER_URL, "getPetById", {"petId": 1, "petID": 2}))
    assert problem["type"] == ErrorType.VALIDATION
    assert "'petID'" in problem["detail"]


async def test_document_that_is_not_openapi_is_a_configuration_error() -> None:
    def responder(request: HttpRequest) -> HttpResponse:
        return raw_response(request, b"just: yaml\n", "text/plain")

    runtime = FakeRuntime(responder)
    doc = {"document": HEADER, **yaml.safe_load(task(SWAGGER_URL, "x"))}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert "neither 'openapi: 3.x' nor 'swagger: 2.0'" in caught.value.problem["detail"]


async def test_document_fetch_failure_is_a_communication_error() -> None:
    def responder(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"message": "gone"}, status=404)

    runtime = FakeRuntime(responder)
    doc = {"document": HEADER, **yaml.safe_load(task(SWAGGER_URL, "x"))}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    problem = caught.value.problem
    assert (problem["type"], problem["status"]) == (ErrorType.COMMUNICATION, 404)
    assert SWAGGER_URL in problem["detail"]
    assert len(runtime.requests) == 1


@pytest.mark.parametrize(
    ("with_", "message"),
    [
        ({"operationId": "x"}, "with.document must be a mapping"),
        ({"document": {"endpoint": "ftp://x/y"}, "operationId": "x"}, "with.document.endpoint"),
        ({"document": {"endpoint": SWAGGER_URL}}, "with.operationId"),
        ({"document": {"endpoint": SWAGGER_URL}, "operationId": "x", "output": "xml"}, "output"),
        ({"document": {"endpoint": SWAGGER_URL}, "operationId": "x", "parameters": [1]}, "param"),
    ],
)
async def test_bad_definitions_are_configuration_errors(
    with_: dict[str, Any], message: str
) -> None:
    problem = await fault(yaml.safe_dump({"do": [{"op": {"call": "openapi", "with": with_}}]}))
    assert problem["type"] == ErrorType.CONFIGURATION
    assert message in problem["detail"]
