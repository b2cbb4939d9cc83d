"""The conformance kit's scenarios for set, do, raise, data flow, flow and call (CTK v1.0.3).

Documents, inputs and expectations are copied from /work/shared/ctk/features/*.feature.
The scenarios that call petstore.swagger.io or httpbin.org get canned responses from a
fake runtime instead, shaped like the real services' answers.
"""

from __future__ import annotations

import base64
import re
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = """
document:
  dsl: '1.0.3'
  namespace: default
  name: ctk
  version: '1.0.0'
"""

COMPLETING = {
    "set: Set Task": (
        """
        do:
          - setShape:
              set:
                shape: circle
                size: ${ .configuration.size }
                fill: ${ .configuration.fill }
        """,
        """
        configuration:
          size: {width: 6, height: 6}
          fill: {red: 69, green: 69, blue: 69}
        """,
        """
        shape: circle
        size: {width: 6, height: 6}
        fill: {red: 69, green: 69, blue: 69}
        """,
    ),
    "do: Task With Sequential Sub Tasks": (
        """
        do:
          - compositeExample:
              do:
                - setRed:
                    set:
                      colors: ${ .colors + ["red"] }
                - setGreen:
                    set:
                      colors: ${ .colors + ["green"] }
                - setBlue:
                    set:
                      colors: ${ .colors + ["blue"] }
        """,
        "{}",
        "colors: [ red, green, blue ]",
    ),
    "data-flow: Input Filtering": (
        """
        do:
          - setPlayerId:
              input:
                from: .user.claims.subject
              set:
                playerId: ${ . }
        """,
        """
        user:
          claims:
            subject: 6AsnRgGEB0q2O7ux9JXFAw
        """,
        "playerId: 6AsnRgGEB0q2O7ux9JXFAw",
    ),
    "data-flow: Output Filtering": (
        """
        do:
          - getPet:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://petstore.swagger.io/v2/pet/{petId}
              output:
                as: .id
        """,
        "petId: 1",
        "1",
    ),
    "data-flow: Use Non-object Output": (
        """
        do:
          - getPetById1:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://petstore.swagger.io/v2/pet/{petId}
              output:
                as: .id
          - getPetById2:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://petstore.swagger.io/v2/pet/2
              output:
                as: '{ ids: [ $input, .id ] }'
        """,
        "petId: 1",
        "ids: [ 1, 2 ]",
    ),
    "flow: Implicit Sequence Flow": (
        """
        do:
          - setRed:
              set:
                colors: '${ .colors + [ "red" ] }'
          - setGreen:
              set:
                colors: '${ .colors + [ "green" ] }'
          - setBlue:
              set:
                colors: '${ .colors + [ "blue" ] }'
        """,
        "{}",
        "colors: [ red, green, blue ]",
    ),
    "flow: Explicit Sequence Flow": (
        """
        do:
          - setRed:
              set:
                colors: '${ .colors + [ "red" ] }'
              then: setGreen
          - setBlue:
              set:
                colors: '${ .colors + [ "blue" ] }'
              then: end
          - setGreen:
              set:
                colors: '${ .colors + [ "green" ] }'
              then: setBlue
        """,
        "{}",
        "colors: [ red, green, blue ]",
    ),
}

# Run order the flow scenarios assert ("setRed should run first", ...).
ORDER = {
    "flow: Implicit Sequence Flow": ["setRed", "setGreen", "setBlue"],
    "flow: Explicit Sequence Flow": ["setRed", "setGreen", "setBlue"],
}

PETS = {1: "Milou", 2: "Rantanplan"}
PET = re.compile(r"^https://petstore\.swagger\.io/v2/pet/(\d+)$")


def services(request: HttpRequest) -> HttpResponse:
    """petstore.swagger.io and httpbin.org, as far as the scenarios use them."""
    if match := PET.match(request.url):
        pet_id = int(match.group(1))
        if pet_id in PETS:
            return json_response(
                request, {"id": pet_id, "name": PETS[pet_id], "status": "available"}
            )
        return json_response(request, {"code": 1, "message": "Pet not found"}, status=404)
    if request.url == "https://petstore.swagger.io/v2/pet/findByStatus?status=available":
        pets = [{"id": i, "name": n, "status": "available"} for i, n in PETS.items()]
        return json_response(request, pets)
    if match := re.match(r"^https://httpbin\.org/basic-auth/([^/]+)/([^/]+)$", request.url):
        expected = base64.b64encode(f"{match.group(1)}:{match.group(2)}".encode()).decode()
        if request.headers.get("Authorization") == f"Basic {expected}":
            return json_response(request, {"authenticated": True, "user": match.group(1)})
        return json_response(request, {}, status=401)
    return json_response(request, {"error": "unknown route"}, status=404)


def load(text: str) -> Any:
    return yaml.safe_load(text)


async def run_scenario(do: str, given: str) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(services)
    document = load(HEADER + textwrap.dedent(do))
    output = await Interpreter(document, runtime=runtime).run(load(given))
    return output, runtime


@pytest.mark.parametrize("scenario", list(COMPLETING))
async def test_scenario_completes_with_output(scenario: str) -> None:
    do, given, expected = COMPLETING[scenario]
    output, runtime = await run_scenario(do, given)
    assert output == load(expected)
    if scenario in ORDER:
        started = [e.name for e in runtime.events if e.phase == "RUNNING"]
        assert started == ORDER[scenario]


async def test_raise_task_with_inline_error_faults() -> None:
    do = """
    do:
      - raiseError:
          raise:
            error:
              status: 400
              type: https://serverlessworkflow.io/errors/types/compliance
              title: Compliance Error
    """
    with pytest.raises(WorkflowError) as caught:
        await run_scenario(do, "{}")
    assert caught.value.problem == {
        "status": 400,
        "type": "https://serverlessworkflow.io/errors/types/compliance",
        "title": "Compliance Error",
        "instance": "/do/0/raiseError",
    }


async def test_call_http_with_content_output() -> None:
    do = """
    do:
      - findPet:
          call: http
          with:
            method: get
            endpoint:
              uri: https://petstore.swagger.io/v2/pet/findByStatus?status={status}
          output:
            as: .[0]
    """
    output, runtime = await run_scenario(do, "status: available")
    assert {"id", "name", "status"} <= set(output)
    assert runtime.requests[0].url.endswith("findByStatus?status=available")


async def test_call_http_with_response_output() -> None:
    do = """
    do:
      - getPet:
          call: http
          with:
            method: get
            endpoint:
              uri: https://petstore.swagger.io/v2/pet/{petId}
            output: response
    """
    output, _ = await run_scenario(do, "petId: 1")
    assert {"request", "headers", "statusCode", "content"} <= set(output)
    assert {"method", "uri", "headers"} <= set(output["request"])
    assert {"id", "name", "status"} <= set(output["content"])
    assert output["statusCode"] == 200
    assert output["request"]["uri"] == "https://petstore.swagger.io/v2/pet/1"


async def test_call_http_using_basic_authentication() -> None:
    do = """
    do:
      - login:
          call: http
          with:
            method: get
            endpoint:
              uri: https://httpbin.org/basic-auth/{username}/{password}
              authentication:
                basic:
                  username: ${ .username }
                  password: ${ .password }
    """
    output, _ = await run_scenario(
        do, "{username: serverless-workflow, password: conformance-test}"
    )
    assert output == {"authenticated": True, "user": "serverless-workflow"}
