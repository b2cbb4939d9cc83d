"""The interpreter's core: task events, pointers, data flow, flow directives and errors."""

from __future__ import annotations

import asyncio
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_core.model import TaskPhase
from stigmer_runner.dsl.contracts import TaskEvent
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.dsl.tasks import DEFAULT_HANDLERS, TaskContext, TaskResult
from tests.runner.fakes import FIXED_NOW, FakeRuntime

HEADER = {"dsl": "1.0.3", "namespace": "default", "name": "test", "version": "1.0.0"}


def document(text: str) -> dict[str, Any]:
    body = yaml.safe_load(textwrap.dedent(text))
    return {"document": dict(HEADER), **body}


async def run(text: str, given: Any = None, **options: Any) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime()
    output = await Interpreter(document(text), runtime=runtime, **options).run(
        {} if given is None else given
    )
    return output, runtime


async def fail(text: str, given: Any = None, **options: Any) -> tuple[dict[str, Any], FakeRuntime]:
    runtime = FakeRuntime()
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(document(text), runtime=runtime, **options).run(
            {} if given is None else given
        )
    return caught.value.problem, runtime


# --- events and pointers ---------------------------------------------------------------


async def test_each_task_reports_running_then_completed_with_its_data() -> None:
    _, runtime = await run(
        """
        do:
          - first:
              set: {a: 1}
          - second:
              input:
                from: .a
              set: {b: '${ . }'}
        """
    )
    assert runtime.events == [
        TaskEvent("/do/0/first", "first", "set", "RUNNING", "2025-01-02T03:04:05Z", input={}),
        TaskEvent(
            "/do/0/first",
            "first",
            "set",
            "COMPLETED",
            "2025-01-02T03:04:05Z",
            input={},
            output={"a": 1},
            started_at="2025-01-02T03:04:05Z",
        ),
        TaskEvent("/do/1/second", "second", "set", "RUNNING", "2025-01-02T03:04:05Z", input=1),
        TaskEvent(
            "/do/1/second",
            "second",
            "set",
            "COMPLETED",
            "2025-01-02T03:04:05Z",
            input=1,
            output={"b": 1},
            started_at="2025-01-02T03:04:05Z",
        ),
    ]
    assert {e.phase for e in runtime.events} <= {p.value for p in TaskPhase}


async def test_nested_tasks_have_nested_pointers_and_events_nest() -> None:
    _, runtime = await run(
        """
        do:
          - prepare:
              set: {n: 0}
          - outer:
              do:
                - inner:
                    set: {n: 1}
                - "a/b~c":
                    set: {n: 2}
        """
    )
    assert runtime.phases() == [
        ("/do/0/prepare", "RUNNING"),
        ("/do/0/prepare", "COMPLETED"),
        ("/do/1/outer", "RUNNING"),
        ("/do/1/outer/do/0/inner", "RUNNING"),
        ("/do/1/outer/do/0/inner", "COMPLETED"),
        ("/do/1/outer/do/1/a~1b~0c", "RUNNING"),
        ("/do/1/outer/do/1/a~1b~0c", "COMPLETED"),
        ("/do/1/outer", "COMPLETED"),
    ]
    assert runtime.events[-1].type == "do"
    assert runtime.events[-1].output == {"n": 2}


async def test_runs_are_deterministic() -> None:
    text = """
    do:
      - a:
          set: {at: '${ now }', task: '${ $task.reference }'}
      - b:
          do:
            - c:
                set: '${ . + {c: true} }'
    """
    first = await run(text, {"x": 1})
    second = await run(text, {"x": 1})
    assert first[0] == second[0]
    assert first[1].events == second[1].events


# --- if ----------------------------------------------------------------------------------


async def test_false_if_skips_the_task_and_passes_the_raw_input_on() -> None:
    # From the DSL examples (conditional-task.yaml): a skipped task's `then: end` is not taken.
    output, runtime = await run(
        """
        do:
          - rejectMinor:
              if: .customer.age < 18
              input:
                from: '${ error("input.from must not run for a skipped task") }'
              raise:
                error: {type: https://example.com/minor, status: 400}
              then: end
          - accept:
              set: {accepted: '${ .customer.name }'}
        """,
        {"customer": {"name": "Ann", "age": 30}},
    )
    assert output == {"accepted": "Ann"}
    skipped = runtime.events[0]
    assert (skipped.task_id, skipped.phase, skipped.type) == (
        "/do/0/rejectMinor",
        "SKIPPED",
        "raise",
    )
    assert skipped.output == skipped.input == {"customer": {"name": "Ann", "age": 30}}


async def test_true_if_runs_the_task_and_if_sees_the_raw_input() -> None:
    output, runtime = await run(
        """
        do:
          - pick:
              if: ${ .wanted == true }
              input:
                from: .value
              set: {got: '${ . }'}
        """,
        {"wanted": True, "value": 7},
    )
    assert output == {"got": 7}
    assert [e.phase for e in runtime.events] == ["RUNNING", "COMPLETED"]


# --- then ------------------------------------------------------------------------------


async def test_exit_leaves_only_the_current_list() -> None:
    output, runtime = await run(
        """
        do:
          - outer:
              do:
                - one:
                    set: {steps: [1]}
                    then: exit
                - skipped:
                    set: {steps: [99]}
          - after:
              set: '${ {steps: (.steps + [2])} }'
        """
    )
    assert output == {"steps": [1, 2]}
    assert "/do/0/outer/do/1/skipped" not in {e.task_id for e in runtime.events}


async def test_exit_at_top_level_ends_the_workflow() -> None:
    output, _ = await run(
        """
        do:
          - one:
              set: {n: 1}
              then: exit
          - two:
              set: {n: 2}
        """
    )
    assert output == {"n": 1}


async def test_end_inside_a_nested_list_ends_the_whole_workflow() -> None:
    output, runtime = await run(
        """
        do:
          - outer:
              do:
                - one:
                    set: {n: 1}
                    then: end
                - two:
                    set: {n: 2}
              then: later
          - skipped:
              set: {n: 3}
          - later:
              set: {n: 4}
        """
    )
    assert output == {"n": 1}
    assert runtime.phases()[-1] == ("/do/0/outer", "COMPLETED")
    assert len(runtime.events) == 4


async def test_then_can_jump_backwards_within_its_list() -> None:
    output, _ = await run(
        """
        do:
          - count:
              set: '${ {n: ((.n // 0) + 1)} }'
          - again:
              if: .n < 3
              set: '${ . }'
              then: count
        """
    )
    assert output == {"n": 3}


async def test_then_naming_no_task_of_the_list_is_a_configuration_error() -> None:
    problem, runtime = await fail(
        """
        do:
          - outer:
              do:
                - one:
                    set: {n: 1}
                    then: sibling
          - sibling:
              set: {n: 2}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/do/0/outer/do/0/one"
    assert "'sibling'" in problem["detail"]
    # The inner task completed; the list it is in failed, and so did its parent task.
    assert runtime.phases()[-1] == ("/do/0/outer", "FAILED")


# --- data flow ---------------------------------------------------------------------------


async def test_export_sets_the_context_later_tasks_read() -> None:
    output, _ = await run(
        """
        do:
          - login:
              set: {token: abc, noise: 1}
              export:
                as: '$context + { token: .token }'
          - firstCall:
              set: {value: 1}
              export:
                as:
                  calls: '${ ($context.calls // 0) + 1 }'
                  token: '${ $context.token }'
          - use:
              set: {context: '${ $context }', output: '${ . }'}
        """
    )
    assert output == {"context": {"calls": 1, "token": "abc"}, "output": {"value": 1}}


async def test_export_sees_the_transformed_output_as_dot_and_output() -> None:
    output, _ = await run(
        """
        do:
          - make:
              set: {a: 1, b: 2}
              output:
                as: .a
              export:
                as: '{ dot: ., output: $output }'
          - read:
              set: '${ $context }'
        """
    )
    assert output == {"dot": 1, "output": 1}


async def test_context_starts_empty() -> None:
    output, _ = await run(
        """
        do:
          - read:
              set: {context: '${ $context }'}
        """,
        {"a": 1},
    )
    assert output == {"context": {}}


async def test_workflow_input_from_and_output_as() -> None:
    output, runtime = await run(
        """
        input:
          from: .order
        do:
          - price:
              set: {total: '${ .qty * .unit }', raw: '${ $workflow.input.note }'}
              export:
                as: '{ currency: "EUR" }'
        output:
          as:
            total: '${ .total }'
            currency: '${ $context.currency }'
            note: '${ .raw }'
        """,
        {"order": {"qty": 3, "unit": 2}, "note": "raw input stays in $workflow.input"},
    )
    assert output == {"total": 6, "currency": "EUR", "note": "raw input stays in $workflow.input"}
    assert runtime.events[0].input == {"qty": 3, "unit": 2}


async def test_input_from_and_output_as_accept_objects() -> None:
    output, _ = await run(
        """
        do:
          - reshape:
              input:
                from:
                  who: '${ .user.name }'
              set: {greeting: '${ "hi " + .who }'}
              output:
                as:
                  message: '${ .greeting }'
                  input: '${ $input }'
        """,
        {"user": {"name": "Ann"}},
    )
    assert output == {"message": "hi Ann", "input": {"who": "Ann"}}


async def test_output_as_sees_the_raw_output_in_task_descriptor() -> None:
    output, _ = await run(
        """
        do:
          - make:
              set: {a: 1}
              output:
                as: '{ raw: $task.output, filtered: .a }'
        """
    )
    assert output == {"raw": {"a": 1}, "filtered": 1}


async def test_descriptors_of_task_workflow_and_runtime() -> None:
    output, _ = await run(
        """
        do:
          - outer:
              do:
                - describe:
                    set:
                      name: ${ $task.name }
                      reference: ${ $task.reference }
                      definitionKeys: ${ $task.definition | keys }
                      taskStarted: ${ $task.startedAt }
                      workflowId: ${ $workflow.id }
                      workflowName: ${ $workflow.definition.document.name }
                      workflowInput: ${ $workflow.input }
                      workflowStarted: ${ $workflow.startedAt.iso8601 }
                      runtime: ${ $runtime }
                      now: ${ now | todate }
                      secret: ${ $secrets.apiKey }
        """,
        {"x": 1},
        execution_id="wex-1",
        runtime_version="9.9.9",
        secrets={"apiKey": "k"},
    )
    seconds = int(FIXED_NOW.timestamp())
    assert output == {
        "name": "describe",
        "reference": "/do/0/outer/do/0/describe",
        "definitionKeys": ["set"],
        "taskStarted": {
            "iso8601": "2025-01-02T03:04:05Z",
            "epoch": {"seconds": seconds, "milliseconds": seconds * 1000},
        },
        "workflowId": "wex-1",
        "workflowName": "test",
        "workflowInput": {"x": 1},
        "workflowStarted": "2025-01-02T03:04:05Z",
        "runtime": {"name": "stigmer", "version": "9.9.9", "metadata": {}},
        "now": "2025-01-02T03:04:05Z",
        "secret": "k",
    }


async def test_set_with_an_expression_replaces_the_data() -> None:
    output, _ = await run(
        """
        do:
          - first:
              set: '${ $workflow.input[0] }'
        """,
        [{"event": 1}],
    )
    assert output == {"event": 1}


# --- errors ------------------------------------------------------------------------------


async def test_expression_error_faults_the_task_with_its_pointer() -> None:
    problem, runtime = await fail(
        """
        do:
          - ok:
              set: {a: 1}
          - outer:
              do:
                - broken:
                    set: {b: '${ .a.b }'}
        """
    )
    assert problem["type"] == ErrorType.EXPRESSION
    assert problem["status"] == 400
    assert problem["instance"] == "/do/1/outer/do/0/broken"
    assert "set" in problem["detail"]
    assert ".a.b" in problem["detail"]
    assert runtime.phases()[-2:] == [
        ("/do/1/outer/do/0/broken", "FAILED"),
        ("/do/1/outer", "FAILED"),
    ]
    assert runtime.events[-1].error == runtime.events[-2].error == problem


async def test_expression_error_in_if_is_reported_as_failed() -> None:
    problem, runtime = await fail(
        """
        do:
          - guarded:
              if: ${ .a | }
              set: {}
        """
    )
    assert problem["type"] == ErrorType.EXPRESSION
    assert "if" in problem["detail"]
    assert runtime.phases() == [("/do/0/guarded", "FAILED")]


async def test_workflow_input_from_error_points_at_the_workflow_input() -> None:
    problem, runtime = await fail(
        """
        input:
          from: ${ .a.b }
        do:
          - never:
              set: {}
        """,
        {"a": 1},
    )
    assert (problem["type"], problem["instance"]) == (ErrorType.EXPRESSION, "/input/from")
    assert runtime.events == []


async def test_unknown_task_type_is_a_configuration_error() -> None:
    problem, runtime = await fail(
        """
        do:
          - mystery:
              frobnicate: {}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["status"] == 400
    assert problem["instance"] == "/do/0/mystery"
    assert "mystery" in problem["detail"]
    assert "no task type" in problem["detail"]
    assert runtime.events[0].type == "unknown"
    assert runtime.phases() == [("/do/0/mystery", "FAILED")]


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        ({"for": {"in": ".items"}, "do": [{"x": {"set": {}}}]}, "for"),
        ({"wait": {"seconds": 1}}, "wait"),
        ({"switch": [{"a": {"then": "end"}}]}, "switch"),
        ({"try": [{"x": {"set": {}}}], "catch": {}}, "try"),
    ],
)
async def test_task_types_not_supported_yet_are_configuration_errors(
    task: dict[str, Any], kind: str
) -> None:
    runtime = FakeRuntime()
    doc = {"document": HEADER, "do": [{"later": task}]}
    with pytest.raises(WorkflowError) as caught:
        # Every DSL 1.0 type has a default handler now: an interpreter given none shows
        # how a type without a handler fails.
        await Interpreter(doc, runtime=runtime, handlers={}).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert caught.value.problem["detail"] == f"task 'later': {kind} tasks are not supported yet"
    assert runtime.events[0].type == kind


@pytest.mark.parametrize(
    ("body", "instance", "detail"),
    [
        ({}, "/do", "/do must be a list of tasks"),
        ({"do": [{"a": {"set": {}}, "b": {"set": {}}}]}, "/do/0", "exactly one task name"),
        ({"do": [{"a": "set"}]}, "/do/0/a", "must be a mapping"),
        ({"do": [{"a": {"set": 3}}]}, "/do/0/a", "'set' must be a mapping"),
        ({"do": [{"a": {"set": {}, "then": 3}}]}, "/do/0/a", "'then' must be"),
        ({"do": [{"a": {"set": {}, "if": True}}]}, "/do/0/a", "'if' must be"),
        ({"do": [{"a": {"set": {}, "output": ".a"}}]}, "/do/0/a", "'output' must be a mapping"),
        ({"do": [{"a": {"do": {"b": {}}}}]}, "/do/0/a/do", "must be a list of tasks"),
    ],
)
async def test_malformed_documents_fail_with_configuration_errors(
    body: dict[str, Any], instance: str, detail: str
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await Interpreter({"document": HEADER, **body}, runtime=FakeRuntime()).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert caught.value.problem["instance"] == instance
    assert detail in caught.value.problem["detail"]


async def test_a_document_that_is_not_a_mapping_fails_cleanly() -> None:
    with pytest.raises(WorkflowError) as caught:
        await Interpreter([], runtime=FakeRuntime()).run({})  # type: ignore[arg-type]
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION


# --- raise -------------------------------------------------------------------------------


async def test_raise_a_reusable_error_with_expressions() -> None:
    # From the DSL examples (raise-reusable.yaml).
    detail = (
        "${ \"The workflow '\\( $workflow.definition.document.name ):"
        "\\( $workflow.definition.document.version )' is a work in progress "
        'and cannot be run yet" }'
    )
    use = {
        "errors": {
            "notImplemented": {
                "type": "https://serverlessworkflow.io/errors/not-implemented",
                "status": 500,
                "title": "Not Implemented",
                "detail": detail,
            }
        }
    }
    runtime = FakeRuntime()
    doc = {
        "document": HEADER,
        "use": use,
        "do": [{"notImplemented": {"raise": {"error": "notImplemented"}}}],
    }
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime).run({})
    problem = caught.value.problem
    assert problem == {
        "type": "https://serverlessworkflow.io/errors/not-implemented",
        "status": 500,
        "title": "Not Implemented",
        "detail": "The workflow 'test:1.0.0' is a work in progress and cannot be run yet",
        "instance": "/do/0/notImplemented",
    }
    assert runtime.events[-1].error == problem


async def test_raise_keeps_an_explicit_instance_and_evaluates_fields() -> None:
    problem, _ = await fail(
        """
        do:
          - check:
              raise:
                error:
                  type: ${ "https://example.com/errors/" + .kind }
                  status: 422
                  instance: /somewhere
        """,
        {"kind": "odd"},
    )
    assert problem == {
        "type": "https://example.com/errors/odd",
        "status": 422,
        "instance": "/somewhere",
    }


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        ("missing", "'missing', which is not defined in use.errors"),
        ({"type": "https://e.com/x", "status": "400"}, "raise.error.status must be an integer"),
        ({"status": 400}, "raise.error.type must be a non-empty string"),
        (
            {"type": "https://e.com/x", "status": 400, "title": 3},
            "raise.error.title must be a string",
        ),
    ],
)
async def test_raise_with_a_bad_error_is_a_configuration_error(error: Any, detail: str) -> None:
    doc = {"document": HEADER, "do": [{"boom": {"raise": {"error": error}}}]}
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=FakeRuntime()).run({})
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert detail in caught.value.problem["detail"]


# --- handlers, crashes, cancellation, reports --------------------------------------------


async def test_handlers_can_be_added_without_touching_the_loop() -> None:
    async def run_wait(task: TaskContext) -> TaskResult:
        return TaskResult({"waited": task.definition["wait"], "input": task.input})

    output, runtime = await run(
        """
        do:
          - pause:
              wait: PT1S
        """,
        {"a": 1},
        handlers={**DEFAULT_HANDLERS, "wait": run_wait},
    )
    assert output == {"waited": "PT1S", "input": {"a": 1}}
    assert runtime.events[-1].type == "wait"


async def test_a_crashing_handler_becomes_a_runtime_error_with_its_cause() -> None:
    async def crash(task: TaskContext) -> TaskResult:
        raise KeyError("oops")

    runtime = FakeRuntime()
    doc = document(
        """
        do:
          - outer:
              do:
                - bad:
                    set: {}
        """
    )
    with pytest.raises(WorkflowError) as caught:
        await Interpreter(doc, runtime=runtime, handlers={**DEFAULT_HANDLERS, "set": crash}).run({})
    error = caught.value
    assert error.problem["type"] == ErrorType.RUNTIME
    assert error.problem["status"] == 500
    assert error.problem["instance"] == "/do/0/outer/do/0/bad"
    assert "KeyError" in error.problem["detail"]
    assert isinstance(error.__cause__, KeyError)
    assert runtime.phases()[-2:] == [("/do/0/outer/do/0/bad", "FAILED"), ("/do/0/outer", "FAILED")]


async def test_cancellation_reports_cancelled_tasks_and_propagates() -> None:
    async def cancelled(task: TaskContext) -> TaskResult:
        raise asyncio.CancelledError

    runtime = FakeRuntime()
    doc = document(
        """
        do:
          - outer:
              do:
                - waiting:
                    set: {}
        """
    )
    with pytest.raises(asyncio.CancelledError):
        await Interpreter(
            doc, runtime=runtime, handlers={**DEFAULT_HANDLERS, "set": cancelled}
        ).run({})
    assert runtime.phases()[-2:] == [
        ("/do/0/outer/do/0/waiting", "CANCELLED"),
        ("/do/0/outer", "CANCELLED"),
    ]


async def test_a_failing_report_propagates_as_is_not_as_a_task_error() -> None:
    class UnreachableError(Exception):
        pass

    class BrokenReports(FakeRuntime):
        async def report(self, event: TaskEvent) -> None:
            if event.task_id.endswith("inner") and event.phase == "COMPLETED":
                raise UnreachableError("the API is down")
            await super().report(event)

    runtime = BrokenReports()
    doc = document(
        """
        do:
          - outer:
              do:
                - inner:
                    set: {}
        """
    )
    with pytest.raises(UnreachableError):
        await Interpreter(doc, runtime=runtime).run({})
    assert all(event.phase == "RUNNING" for event in runtime.events)
