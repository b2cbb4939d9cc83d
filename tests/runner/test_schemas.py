"""input.schema and output.schema on the workflow and on tasks (JSON Schema Draft 2020-12)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "test", "version": "1.0.0"}
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


def document(text: str) -> dict[str, Any]:
    return {"document": dict(HEADER), **yaml.safe_load(textwrap.dedent(text))}


async def run(text: str, given: Any, runtime: FakeRuntime | None = None) -> Any:
    return await Interpreter(document(text), runtime=runtime or FakeRuntime()).run(given)


async def fail(text: str, given: Any, runtime: FakeRuntime | None = None) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await run(text, given, runtime)
    return caught.value.problem


WORKFLOW_SCHEMAS = f"""
input:
  schema:
    document: {PERSON}
  from: '{{ who: .name }}'
output:
  as: '{{ greeting: ("hi " + .who) }}'
  schema:
    format: json
    document:
      type: object
      properties: {{greeting: {{type: string, pattern: '^hi '}}}}
      required: [greeting]
do:
  - keep:
      set:
        who: '${{ .who }}'
"""


async def test_workflow_input_and_output_pass_their_schemas() -> None:
    assert await run(WORKFLOW_SCHEMAS, {"name": "Ada", "age": 36}) == {"greeting": "hi Ada"}


async def test_workflow_input_is_validated_raw_before_input_from() -> None:
    runtime = FakeRuntime()
    problem = await fail(WORKFLOW_SCHEMAS, {"name": "Ada", "age": -1}, runtime)
    assert problem["type"] == ErrorType.VALIDATION
    assert problem["status"] == 400
    assert problem["instance"] == "/input/schema"
    assert "$.age" in problem["detail"]
    assert "minimum" in problem["detail"]
    assert runtime.events == []  # no task ran


async def test_workflow_input_missing_required_property() -> None:
    problem = await fail(WORKFLOW_SCHEMAS, {"age": 3})
    assert problem["type"] == ErrorType.VALIDATION
    assert "'name' is a required property" in problem["detail"]


async def test_workflow_output_is_validated_after_output_as() -> None:
    text = """
    output:
      as: '{ greeting: 42 }'
      schema:
        document: {type: object, properties: {greeting: {type: string}}}
    do:
      - noop:
          set: {}
    """
    problem = await fail(text, {})
    assert problem["type"] == ErrorType.VALIDATION
    assert problem["instance"] == "/output/schema"
    assert "$.greeting" in problem["detail"]
    assert "42 is not of type 'string'" in problem["detail"]


async def test_task_input_schema_checks_the_raw_input_and_faults_the_task() -> None:
    text = """
    do:
      - first:
          set: {items: [1, 2, "three"]}
      - second:
          input:
            schema:
              document:
                type: object
                properties: {items: {type: array, items: {type: integer}}}
            from: '{ count: (.items | length) }'
          set: {n: '${ .count }'}
    """
    runtime = FakeRuntime()
    problem = await fail(text, {}, runtime)
    assert problem["type"] == ErrorType.VALIDATION
    assert problem["status"] == 400
    assert problem["instance"] == "/do/1/second"
    assert "$.items[2]" in problem["detail"]
    assert "'three' is not of type 'integer'" in (problem["detail"])
    assert runtime.phases()[-1] == ("/do/1/second", "FAILED")


async def test_task_input_schema_ignores_input_from_result() -> None:
    # The raw input satisfies the schema; what input.from makes of it would not.
    text = """
    do:
      - only:
          input:
            schema:
              document: {type: object, required: [a]}
            from: .a
          set: {got: '${ . }'}
    """
    assert await run(text, {"a": 5}) == {"got": 5}


async def test_task_output_schema_checks_output_as_result_before_export() -> None:
    text = """
    do:
      - make:
          set: {value: 3}
          output:
            as: '{ value: (.value | tostring) }'
            schema:
              document:
                type: object
                properties: {value: {type: integer}}
          export:
            as: '{ exported: true }'
    """
    runtime = FakeRuntime()
    problem = await fail(text, {}, runtime)
    assert problem["instance"] == "/do/0/make"
    assert problem["type"] == ErrorType.VALIDATION
    assert "$.value" in problem["detail"]
    assert "'3' is not of type 'integer'" in problem["detail"]
    assert runtime.phases() == [("/do/0/make", "RUNNING"), ("/do/0/make", "FAILED")]


async def test_a_validation_error_can_be_caught_by_type() -> None:
    text = """
    do:
      - guarded:
          try:
            - check:
                input:
                  schema:
                    document: {type: string}
                set: {ok: true}
          catch:
            errors:
              with:
                type: https://serverlessworkflow.io/spec/1.0.0/errors/validation
            as: problem
            do:
              - handle:
                  set: {caught: '${ $problem.instance }'}
    """
    assert await run(text, {"not": "a string"}) == {"caught": "/do/0/guarded/try/0/check"}


async def test_external_schema_valid_data_runs_and_fetches_once() -> None:
    def responder(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"type": "integer"})

    text = """
    do:
      - loop:
          for: {in: '${ . }'}
          do:
            - each:
                input:
                  from: '${ $item }'
                output:
                  schema:
                    resource:
                      endpoint: 'https://schemas.example.com/int.json'
                set: '${ . + 1 }'
    """
    runtime = FakeRuntime(responder)
    await Interpreter(document(text), runtime=runtime).run([1, 2, 3])
    assert len(runtime.requests) == 1


async def test_external_schema_http_error_is_a_communication_error() -> None:
    def responder(request: HttpRequest) -> HttpResponse:
        return json_response(request, {"error": "gone"}, status=404)

    text = """
    input:
      schema:
        resource:
          endpoint: 'https://schemas.example.com/missing.json'
    do:
      - noop:
          set: {}
    """
    problem = await fail(text, {}, FakeRuntime(responder))
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == 404
    assert problem["instance"] == "/input/schema"


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"format": "avro", "document": {}}, "only json schemas are supported"),
        ({"format": "json"}, "must have 'document' (inline) or 'resource' (external)"),
        ({"document": {"type": 12}}, "is not a valid JSON Schema"),
        ({"document": "nope"}, "must be a JSON Schema"),
        (
            {"resource": {"endpoint": {"uri": "https://x", "authentication": {"use": "a"}}}},
            "authenticated schema endpoints are not supported",
        ),
    ],
)
async def test_bad_schema_definitions_are_configuration_errors(
    schema: dict[str, Any], expected: str
) -> None:
    doc = document("do: [{noop: {set: {}}}]")
    doc["do"][0]["noop"]["input"] = {"schema": schema}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=FakeRuntime()).run({})
    problem = caught.value.problem
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/noop"
    assert "input.schema" in problem["detail"]
    assert expected in problem["detail"]


async def test_format_with_version_is_accepted() -> None:
    doc = document("do: [{noop: {set: {ok: true}}}]")
    doc["do"][0]["noop"]["output"] = {
        "schema": {"format": "json:2020-12", "document": {"type": "object"}}
    }
    assert await Interpreter(doc, runtime=FakeRuntime()).run({}) == {"ok": True}
