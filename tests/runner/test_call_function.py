"""``call: <function>`` of ``use.functions`` and ``catch.retry.exceptWhen`` (fake runtime)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, Responder, json_response

HEADER = {"document": {"dsl": "1.0.3", "namespace": "test", "name": "fn", "version": "1.0.0"}}

GET_PET = """
use:
  functions:
    getPetById:
      input:
        schema:
          document:
            type: object
            properties:
              petId: {type: integer}
            required: [petId]
      call: http
      with:
        method: get
        endpoint: https://petstore.test/v2/pet/{petId}
do:
  - getPet:
      call: getPetById
      with:
        petId: PET_ID
"""


def pet(request: HttpRequest) -> HttpResponse:
    return json_response(request, {"id": int(request.url.rsplit("/", 1)[1]), "name": "Rex"})


async def run(
    text: str, given: Any = None, responder: Responder | None = None
) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(responder)
    doc = {**HEADER, **yaml.safe_load(textwrap.dedent(text))}
    output = await Interpreter(doc, runtime=runtime).run({} if given is None else given)
    return output, runtime


async def fault(text: str, given: Any = None, responder: Responder | None = None) -> Any:
    with pytest.raises(WorkflowError) as caught:
        await run(text, given, responder)
    return caught.value.problem


async def test_inline_http_function_gets_its_arguments_as_input() -> None:
    output, runtime = await run(GET_PET.replace("PET_ID", "69"), responder=pet)
    assert output == {"id": 69, "name": "Rex"}
    assert [r.url for r in runtime.requests] == ["https://petstore.test/v2/pet/69"]
    # The function runs as a nested task of its own, below the calling task.
    assert runtime.phases() == [
        ("/do/0/getPet", "RUNNING"),
        ("/do/0/getPet/call", "RUNNING"),
        ("/do/0/getPet/call", "COMPLETED"),
        ("/do/0/getPet", "COMPLETED"),
    ]
    nested = [e for e in runtime.events if e.task_id == "/do/0/getPet/call"]
    assert {(e.name, e.type) for e in nested} == {("getPetById", "call")}
    assert nested[-1].input == {"petId": 69}


async def test_arguments_are_expressions_on_the_calling_task_input() -> None:
    text = GET_PET.replace("PET_ID", "${ .pets[1] }")
    output, runtime = await run(text, given={"pets": [1, 7]}, responder=pet)
    assert output == {"id": 7, "name": "Rex"}
    assert runtime.requests[0].url == "https://petstore.test/v2/pet/7"


async def test_function_input_schema_checks_the_arguments() -> None:
    problem = await fault(GET_PET.replace("PET_ID", "not-a-number"), responder=pet)
    assert problem["type"] == ErrorType.VALIDATION
    assert problem["instance"] == "/do/0/getPet/call"


async def test_errors_inside_the_function_carry_its_pointer_below_the_caller() -> None:
    def missing(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"error": "no such pet"}, status=404)

    problem = await fault(GET_PET.replace("PET_ID", "69"), responder=missing)
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == 404
    assert problem["instance"] == "/do/0/getPet/call"


async def test_set_function_with_output_as_and_caller_output_as() -> None:
    output, _ = await run(
        """
        use:
          functions:
            greet:
              set:
                greeting: ${ "Hello, " + .name }
                loud: ${ .loud }
              output:
                as: ${ .greeting + (if .loud then "!" else "." end) }
        do:
          - hello:
              call: greet
              with:
                name: ${ .who }
                loud: true
              output:
                as: '${ {message: .} }'
        """,
        given={"who": "Ada"},
    )
    assert output == {"message": "Hello, Ada!"}


async def test_function_sees_only_its_arguments_as_input() -> None:
    output, _ = await run(
        """
        use:
          functions:
            echo:
              set: ${ . }
        do:
          - first:
              call: echo
              with: {a: 1}
          - second:
              call: echo
        """,
        given={"secret": "caller data"},
    )
    assert output == {}


async def test_function_calling_a_function() -> None:
    output, runtime = await run(
        """
        use:
          functions:
            double:
              set: ${ .n * 2 }
            quadruple:
              call: double
              with:
                n: ${ .n * 2 }
        do:
          - four:
              call: quadruple
              with: {n: 3}
        """
    )
    assert output == 12
    assert ("/do/0/four/call/call", "COMPLETED") in runtime.phases()


async def test_undefined_function_is_a_configuration_error_naming_it() -> None:
    problem = await fault(
        """
        use:
          functions:
            known: {set: {}}
        do:
          - check:
              call: unknownFn
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/check"
    assert (
        "'unknownFn' is neither a built-in function nor defined in use.functions"
        in (problem["detail"])
    )


async def test_unknown_catalog_is_a_configuration_error_naming_it() -> None:
    # Behaviour against a served catalog: tests/runner/test_catalog_functions.py.
    problem = await fault(
        """
        do:
          - log: {call: log:1.0.0@global, with: {message: hi}}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/log"
    assert "names catalog 'global', which is not defined in use.catalogs" in problem["detail"]


async def test_with_that_is_not_a_mapping_is_a_configuration_error() -> None:
    problem = await fault(
        """
        use: {functions: {echo: {set: {}}}}
        do:
          - check: {call: echo, with: [1, 2]}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "'with'" in problem["detail"]


async def test_recursive_function_fails_clearly() -> None:
    problem = await fault(
        """
        use: {functions: {loop: {call: loop}}}
        do:
          - spin: {call: loop}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "does it call itself" in problem["detail"]


# --- catch.retry.exceptWhen ----------------------------------------------------------------

RETRY_EXCEPT_WHEN = """
do:
  - tryGet:
      try:
        - get:
            call: http
            with: {method: get, endpoint: https://svc.test/thing}
      catch:
        errors:
          with: {type: https://serverlessworkflow.io/spec/1.0.0/errors/communication}
        retry:
          exceptWhen: ${ $error.status == 404 }
          delay: PT2S
          limit: {attempt: {count: 3}}
"""


def failing(status: int, failures: int) -> Responder:
    """A service that answers ``status`` ``failures`` times, then 200."""
    calls = 0

    def respond(request: HttpRequest) -> HttpResponse:
        nonlocal calls
        calls += 1
        if calls <= failures:
            return json_response(request, {"calls": calls}, status=status)
        return json_response(request, {"ok": calls})

    return respond


async def test_retry_except_when_matching_error_is_not_retried() -> None:
    runtime = FakeRuntime(failing(404, 100))
    doc = {**HEADER, **yaml.safe_load(RETRY_EXCEPT_WHEN)}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    assert caught.value.problem["status"] == 404
    assert caught.value.problem["instance"] == "/do/0/tryGet/try/0/get"
    assert runtime.sleeps == []
    assert len(runtime.requests) == 1


async def test_retry_except_when_other_error_is_retried() -> None:
    output, runtime = await run(RETRY_EXCEPT_WHEN, responder=failing(503, 2))
    assert output == {"ok": 3}
    assert runtime.sleeps == [2, 2]
    assert len(runtime.requests) == 3
