"""``call: http`` in the interpreter: request building, auth, statuses, output formats."""

from __future__ import annotations

import base64
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HTTP_TIMEOUT_ERROR, HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, http_failure_problem
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, Responder, json_response

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "http", "version": "1.0.0"}


def ok(request: HttpRequest) -> HttpResponse:
    return json_response(request, {"url": request.url, "ok": True})


async def call(
    text: str, given: Any = None, responder: Responder = ok, **options: Any
) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(responder)
    doc = {"document": HEADER, **yaml.safe_load(textwrap.dedent(text))}
    output = await Interpreter(doc, runtime=runtime, **options).run({} if given is None else given)
    return output, runtime


async def fault(
    text: str, given: Any = None, responder: Responder = ok, **options: Any
) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await call(text, given, responder, **options)
    return caught.value.problem


async def test_request_carries_evaluated_method_headers_query_body() -> None:
    _, runtime = await call(
        """
        do:
          - post:
              call: http
              with:
                method: post
                endpoint: https://api.example.com/orders
                headers:
                  X-Request: ${ .id }
                  X-Static: fixed
                query:
                  page: ${ .page }
                  verbose: true
                  skip: null
                body:
                  order: ${ .order }
                  literal: text
        """,
        {"id": "r-1", "page": 2, "order": {"qty": 3}},
    )
    assert runtime.requests == [
        HttpRequest(
            method="POST",
            url="https://api.example.com/orders",
            headers={"X-Request": "r-1", "X-Static": "fixed"},
            query={"page": "2", "verbose": "true"},
            body={"order": {"qty": 3}, "literal": "text"},
            redirect=False,
            timeout_seconds=None,
            output="content",
        )
    ]


async def test_headers_and_query_from_expressions() -> None:
    # From the DSL examples (call-http-query-headers-expressions.yaml).
    _, runtime = await call(
        """
        do:
          - setQueryAndHeaders:
              set:
                query:
                  search: ${.searchQuery}
                headers:
                  Accept: application/json
          - searchStarWarsCharacters:
              call: http
              with:
                method: get
                endpoint: https://swapi.dev/api/people/
                headers: ${.headers}
                query: ${.query}
        """,
        {"searchQuery": "luke"},
    )
    request = runtime.requests[0]
    assert (request.headers, request.query) == ({"Accept": "application/json"}, {"search": "luke"})


async def test_endpoint_as_an_expression() -> None:
    # From the DSL examples (call-http-endpoint-interpolation.yaml).
    output, _ = await call(
        """
        do:
          - getPet:
              call: http
              with:
                method: get
                endpoint: ${ "https://petstore.swagger.io/v2/pet/\\(.petId)" }
        """,
        {"petId": 7},
    )
    assert output == {"url": "https://petstore.swagger.io/v2/pet/7", "ok": True}


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ({"petId": 1}, "https://h.example/pets/1?q="),
        ({"petId": "a b/c", "q": True}, "https://h.example/pets/a%20b%2Fc?q=true"),
        ({"petId": 1.5, "q": None}, "https://h.example/pets/1.5?q="),
        ({}, "https://h.example/pets/?q="),
        ("not an object", "https://h.example/pets/?q="),
    ],
)
async def test_uri_template_takes_top_level_input_properties(given: Any, url: str) -> None:
    _, runtime = await call(
        """
        do:
          - get:
              call: http
              with:
                method: get
                endpoint: https://h.example/pets/{petId}?q={q}
        """,
        given,
    )
    assert runtime.requests[0].url == url


async def test_uri_template_variable_that_is_an_object_is_an_expression_error() -> None:
    problem = await fault(
        """
        do:
          - get:
              call: http
              with:
                method: get
                endpoint: https://h.example/pets/{pet}
        """,
        {"pet": {"id": 1}},
    )
    assert problem["type"] == ErrorType.EXPRESSION
    assert problem["status"] == 400
    assert problem["instance"] == "/do/0/get"
    assert "{pet}" in problem["detail"]


@pytest.mark.parametrize(
    ("with_", "detail"),
    [
        ({"method": "get", "endpoint": "ftp://h.example/x"}, "absolute http(s) URI"),
        ({"method": "get", "endpoint": "${ 3 }"}, "evaluated to a int"),
        ({"method": "get"}, "with.endpoint must be a URI"),
        ({"endpoint": "https://h.example"}, "with.method must be"),
        ({"method": "get", "endpoint": "https://h.example", "output": "xml"}, "with.output"),
        ({"method": "get", "endpoint": "https://h.example", "headers": "x"}, "with.headers must"),
        ({"method": "get", "endpoint": "https://h.example", "query": {"a": [1]}}, "with.query.a"),
        ({"method": "get", "endpoint": "https://h.example", "redirect": "yes"}, "with.redirect"),
    ],
)
async def test_unusable_arguments_are_configuration_errors(
    with_: dict[str, Any], detail: str
) -> None:
    runtime = FakeRuntime(ok)
    doc = {"document": HEADER, "do": [{"get": {"call": "http", "with": with_}}]}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert caught.value.problem["instance"] == "/do/0/get"
    assert detail in caught.value.problem["detail"]
    assert runtime.requests == []


@pytest.mark.parametrize(
    ("status", "redirect", "faults"),
    [
        (200, False, False),
        (204, False, False),
        (302, False, True),
        (302, True, False),
        (399, True, False),
        (404, True, True),
        (503, False, True),
    ],
)
async def test_status_outside_the_accepted_range_is_a_communication_error(
    status: int, redirect: bool, faults: bool
) -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"message": "pet not found"}, status=status)

    text = f"""
    do:
      - getPet:
          call: http
          with:
            method: get
            endpoint: https://h.example/pets/1
            redirect: {str(redirect).lower()}
    """
    if not faults:
        output, runtime = await call(text, responder=respond)
        assert output == {"message": "pet not found"}
        assert runtime.requests[0].redirect is redirect
        return
    problem = await fault(text, responder=respond)
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == status
    assert problem["instance"] == "/do/0/getPet"
    assert f"GET https://h.example/pets/1 returned HTTP {status}" in problem["detail"]
    assert "pet not found" in problem["detail"]


async def test_failed_call_reports_the_task_failed() -> None:
    runtime = FakeRuntime(lambda r: json_response(r, None, status=404))
    doc = {
        "document": HEADER,
        "do": [
            {"get": {"call": "http", "with": {"method": "get", "endpoint": "https://h.example"}}}
        ],
    }
    with pytest.raises(WorkflowError):
        await Interpreter(doc, runtime=runtime).run({})
    assert runtime.phases() == [("/do/0/get", "RUNNING"), ("/do/0/get", "FAILED")]
    assert runtime.events[-1].error is not None
    assert runtime.events[-1].error["title"] == "Not Found"


async def test_a_call_that_got_no_response_fails_with_the_runtime_problem() -> None:
    def timeout(request: HttpRequest) -> Exception:
        return WorkflowError(http_failure_problem(HTTP_TIMEOUT_ERROR, "GET timed out"))

    problem = await fault(
        """
        do:
          - slow:
              call: http
              with:
                method: get
                endpoint: https://h.example/slow
        """,
        responder=timeout,
    )
    assert problem == {
        "type": ErrorType.TIMEOUT,
        "status": 408,
        "title": "Timeout",
        "detail": "GET timed out",
        "instance": "/do/0/slow",
    }


async def test_output_formats() -> None:
    def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            status_code=200,
            headers={"content-type": "text/plain"},
            content="hello" if request.output != "raw" else None,
            content_type="text/plain",
            raw_base64=base64.b64encode(b"hello").decode() if request.output == "raw" else None,
            request_method=request.method,
            request_uri=request.url + "?final",
            request_headers={"accept": "*/*"},
        )

    text = """
    do:
      - get:
          call: http
          with:
            method: get
            endpoint: https://h.example/greeting
            output: {output}
    """
    content, _ = await call(text.replace("{output}", "content"), responder=respond)
    raw, runtime = await call(text.replace("{output}", "raw"), responder=respond)
    response, _ = await call(text.replace("{output}", "response"), responder=respond)
    assert content == "hello"
    assert raw == "aGVsbG8="
    assert runtime.requests[0].output == "raw"
    assert response == {
        "request": {
            "method": "GET",
            "uri": "https://h.example/greeting?final",
            "headers": {"accept": "*/*"},
        },
        "statusCode": 200,
        "headers": {"content-type": "text/plain"},
        "content": "hello",
    }


# --- authentication ----------------------------------------------------------------------


async def test_bearer_from_a_reusable_policy_and_authorization_descriptor() -> None:
    # From the DSL examples (authentication-reusable.yaml), plus $authorization.
    output, runtime = await call(
        """
        use:
          authentications:
            petStoreAuth:
              bearer:
                token: ${ .token }
        do:
          - getPet:
              call: http
              with:
                method: get
                headers:
                  authorization: overridden by the policy
                endpoint:
                  uri: https://petstore.swagger.io/v2/pet/{petId}
                  authentication:
                    use: petStoreAuth
              output:
                as: $authorization
        """,
        {"token": "t0k3n", "petId": 1},
    )
    assert runtime.requests[0].headers == {"Authorization": "Bearer t0k3n"}
    assert output == {"scheme": "Bearer", "parameter": "t0k3n"}


async def test_basic_credentials_from_secrets() -> None:
    _, runtime = await call(
        """
        do:
          - get:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://h.example/private
                  authentication:
                    basic:
                      use: partnerCredentials
        """,
        secrets={"partnerCredentials": {"username": "u", "password": "p"}},
    )
    assert (
        runtime.requests[0].headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    )


async def test_a_missing_secret_is_an_authorization_error() -> None:
    problem = await fault(
        """
        do:
          - get:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://h.example/private
                  authentication:
                    bearer:
                      use: apiToken
        """
    )
    assert (problem["type"], problem["status"]) == (ErrorType.AUTHORIZATION, 403)
    assert "'apiToken'" in problem["detail"]


@pytest.mark.parametrize(
    ("policy", "detail"),
    [
        ({"certificate": {}}, "the DSL 1.0 schema defines no certificate policy; client"),
        ({"use": "nope"}, "'nope', which is not defined in use.authentications"),
        ({"basic": {"username": "u"}}, "basic.password must be a string"),
        ({"something": {}}, "must define one of the policies basic, bearer, digest"),
    ],
)
async def test_unusable_authentication_is_a_configuration_error(
    policy: dict[str, Any], detail: str
) -> None:
    runtime = FakeRuntime(ok)
    endpoint = {"uri": "https://h.example", "authentication": policy}
    doc = {
        "document": HEADER,
        "do": [{"get": {"call": "http", "with": {"method": "get", "endpoint": endpoint}}}],
    }
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert detail in caught.value.problem["detail"]
    assert runtime.requests == []


# --- timeouts and other functions --------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [
        ({"after": {"seconds": 5}}, 5.0),
        ({"after": "PT1M"}, 60.0),
        ({"after": '${ "PT" + (.s | tostring) + "S" }'}, 9.0),
        ("short", 0.5),
    ],
)
async def test_task_timeout_goes_with_the_request(timeout: Any, seconds: float) -> None:
    runtime = FakeRuntime(ok)
    doc = {
        "document": HEADER,
        "use": {"timeouts": {"short": {"after": {"milliseconds": 500}}}},
        "do": [
            {
                "get": {
                    "call": "http",
                    "timeout": timeout,
                    "with": {"method": "get", "endpoint": "https://h.example"},
                }
            }
        ],
    }
    await Interpreter(doc, runtime=runtime).run({"s": 9})
    assert runtime.requests[0].timeout_seconds == seconds


async def test_bad_timeout_is_a_configuration_error() -> None:
    runtime = FakeRuntime(ok)
    doc = {
        "document": HEADER,
        "do": [
            {
                "get": {
                    "call": "http",
                    "timeout": {"after": "P1M"},
                    "with": {"method": "get", "endpoint": "https://h.example"},
                }
            }
        ],
    }
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert "months" in caught.value.problem["detail"]


@pytest.mark.parametrize(
    ("function", "detail"),
    [
        ("log:1.0.0@global", "names catalog 'global', which is not defined in use.catalogs"),
        ("nothing", "'nothing' is neither a built-in function nor defined in use.functions"),
    ],
)
async def test_calls_other_than_http_are_configuration_errors(function: str, detail: str) -> None:
    doc = {
        "document": HEADER,
        "use": {"functions": {"validateEmail": {"set": {}}}},
        "do": [{"check": {"call": function, "with": {}}}],
    }
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=FakeRuntime()).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert caught.value.problem["instance"] == "/do/0/check"
    assert detail in caught.value.problem["detail"]
