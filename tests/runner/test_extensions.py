"""``use.extensions``: before/after task lists around matching tasks (fake runtime)."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.contracts import HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, Responder, json_response

HEADER = {"document": {"dsl": "1.0.3", "namespace": "test", "name": "ext", "version": "1.0.0"}}

AUDIT = """
use:
  extensions:
    - audit:
        extend: EXTEND
        before:
          - note:
              set: {}
              export:
                as: '${ $context + {log: ($context.log + ["before " + $task.reference])} }'
        after:
          - note:
              set: {}
              export:
                as: '${ $context + {log: ($context.log + ["after " + $task.reference])} }'
do:
  - first:
      set: {a: 1}
  - group:
      do:
        - inner:
            set: '${ . + {b: 2} }'
output:
  as: '${ {data: ., log: $context.log} }'
"""


def echo(request: HttpRequest) -> HttpResponse:
    return json_response(request, {"called": request.url})


async def run(
    text: str, given: Any = None, responder: Responder | None = None
) -> tuple[Any, FakeRuntime]:
    runtime = FakeRuntime(responder)
    doc = {**HEADER, **yaml.safe_load(textwrap.dedent(text))}
    output = await Interpreter(doc, runtime=runtime).run({} if given is None else given)
    return output, runtime


async def fault(text: str, responder: Responder | None = None) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await run(text, responder=responder)
    return caught.value.problem


async def test_extension_of_all_tasks_runs_around_each_and_leaves_data_alone() -> None:
    output, runtime = await run(AUDIT.replace("EXTEND", "all"))
    # Every task, nested ones included, but never the extension's own tasks.
    assert output["log"] == [
        "before /do/0/first",
        "after /do/0/first",
        "before /do/1/group",
        "before /do/1/group/do/0/inner",
        "after /do/1/group/do/0/inner",
        "after /do/1/group",
    ]
    # The extension's outputs are dropped: the tasks' data flow is untouched.
    assert output["data"] == {"a": 1, "b": 2}
    before = "/use/extensions/0/audit/before/0/note"
    after = "/use/extensions/0/audit/after/0/note"
    assert runtime.phases()[:6] == [
        ("/do/0/first", "RUNNING"),
        (before, "RUNNING"),
        (before, "COMPLETED"),
        (after, "RUNNING"),
        (after, "COMPLETED"),
        ("/do/0/first", "COMPLETED"),
    ]
    # The extension's tasks see the extended task's input and its raw output.
    assert [e.input for e in runtime.events if e.task_id == before][:1] == [{}]
    assert [e.input for e in runtime.events if e.task_id == after][:1] == [{"a": 1}]


@pytest.mark.parametrize(
    ("extend", "extended"),
    [("set", ["/do/0/first", "/do/1/group/do/0/inner"]), ("composite", ["/do/1/group"])],
)
async def test_extension_applies_to_its_task_type_only(extend: str, extended: list[str]) -> None:
    output, _ = await run(AUDIT.replace("EXTEND", extend))
    assert output["log"] == [f"{when} {p}" for p in extended for when in ("before", "after")]


MOCK = """
use:
  extensions:
    - mockService:
        extend: call
        when: $task.call == "http" and ($task.with.endpoint | startswith("https://mocked.service.com"))
        before:
          - mockResponse:
              set:
                statusCode: 200
                content: {foo: {bar: baz}}
              then: exit
do:
  - mocked:
      call: http
      with: {method: get, endpoint: https://mocked.service.com/sample}
      output:
        as: .content
  - real:
      call: http
      with: {method: get, endpoint: https://real.service.com/sample}
      export:
        as: '${ {mocked: $input} }'
"""


async def test_before_list_that_exits_stands_in_for_the_task() -> None:
    output, runtime = await run(MOCK, responder=echo)
    # The mocked call sent nothing; `when` let the other call through.
    assert [r.url for r in runtime.requests] == ["https://real.service.com/sample"]
    assert output == {"called": "https://real.service.com/sample"}
    mocked = [e for e in runtime.events if e.task_id == "/do/0/mocked"]
    assert mocked[-1].phase == "COMPLETED"
    assert mocked[-1].output == {"foo": {"bar": "baz"}}
    assert ("/use/extensions/0/mockService/before/0/mockResponse", "COMPLETED") in (
        runtime.phases()
    )


async def test_after_list_that_exits_replaces_the_raw_output() -> None:
    output, _ = await run(
        """
        use:
          extensions:
            - redact:
                extend: call
                after:
                  - check:
                      if: ${ .secret != null }
                      set: '${ del(.secret) + {redactedFrom: $task.reference} }'
                      then: exit
        do:
          - get:
              call: http
              with: {method: get, endpoint: https://svc.test/user}
              output:
                as: '${ {user: ., raw: $task.output} }'
        """,
        responder=lambda request: json_response(request, {"name": "Ada", "secret": "x"}),
    )
    redacted = {"name": "Ada", "redactedFrom": "/do/0/get"}
    assert output == {"user": redacted, "raw": redacted}


async def test_error_inside_an_extension_fails_the_extended_task_with_its_pointer() -> None:
    problem = await fault(
        """
        use:
          extensions:
            - guard:
                extend: set
                before:
                  - deny:
                      raise:
                        error:
                          type: https://example.com/denied
                          status: 403
                          detail: ${ "no " + $task.name }
        do:
          - first: {set: {a: 1}}
        """
    )
    assert problem["status"] == 403
    assert problem["detail"] == "no first"
    assert problem["instance"] == "/use/extensions/0/guard/before/0/deny"


async def test_when_that_cannot_be_evaluated_is_an_expression_error() -> None:
    problem = await fault(
        """
        use:
          extensions:
            - broken:
                extend: all
                when: ${ .a != null and (.a | startswith("x")) }
                before: [{noop: {set: {}}}]
        do:
          - first: {set: {a: 1}}
          - second: {set: {}}
        """
    )
    assert problem["type"] == ErrorType.EXPRESSION
    assert problem["instance"] == "/do/1/second"
    assert "use.extensions.broken.when" in problem["detail"]


async def test_end_inside_an_extension_ends_the_workflow() -> None:
    output, runtime = await run(
        """
        use:
          extensions:
            - stop:
                extend: set
                when: ${ .stop == true }
                before: [{halt: {set: {stopped: true}, then: end}}]
        do:
          - first: {set: {stop: true}}
          - second: {set: {never: true}}
          - third: {set: {never: true}}
        """
    )
    # `second` (its input has stop) is bypassed, and the workflow ends there.
    assert output == {"stopped": True}
    assert ("/do/1/second", "COMPLETED") in runtime.phases()
    assert not any(task == "/do/2/third" for task, _ in runtime.phases())


async def test_malformed_extension_is_a_configuration_error() -> None:
    problem = await fault(
        """
        use:
          extensions:
            - odd: {extend: everything}
        do:
          - first: {set: {}}
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert problem["instance"] == "/use/extensions/0/odd"
    assert "extend must be one of" in problem["detail"]
