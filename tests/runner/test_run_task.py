"""The ``run`` task through the interpreter: return modes, failures, subflows, containers.

Processes are real: the runtime below hands ``run`` activity calls to the real process
activity (in Temporal's activity test environment) and maps its failures the way the DSL
workflow does.
"""

from __future__ import annotations

import base64
import json
import sys
import textwrap
from typing import Any

import pytest
import yaml
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_runner.activities.containers import ContainerActivities, ContainerLimits
from stigmer_runner.activities.processes import ProcessActivities, ProcessLimits
from stigmer_runner.dsl.contracts import ActivityCall, ChildRun, HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.dsl.run_contracts import (
    CONTAINER_ACTIVITY,
    PROCESS_ACTIVITY,
    PROCESS_TIMEOUT_ERROR,
    RESOLVE_WORKFLOW_ACTIVITY,
    ContainerRequest,
    ProcessRequest,
    WorkflowReference,
)
from tests.runner.fakes import FakeRuntime, Responder

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "parent", "version": "1.0.0"}
ALLOW_ALL = ProcessLimits(allow_shell=True, allow_script=True, timeout_seconds=10.0)


class RunRuntime(FakeRuntime):
    """FakeRuntime plus ``execute`` (real process activity) and ``run_workflow``."""

    def __init__(
        self,
        limits: ProcessLimits = ALLOW_ALL,
        workflows: dict[tuple[str, str, str], dict[str, Any]] | None = None,
        responder: Responder | None = None,
        containers: ContainerLimits | None = None,
    ) -> None:
        super().__init__(responder)
        self.processes = ProcessActivities(limits=limits)
        self.containers = ContainerActivities(limits=containers or ContainerLimits())
        self.workflows = workflows or {}
        self.calls: list[ActivityCall] = []
        self.children: list[ChildRun] = []

    async def execute(self, call: ActivityCall) -> Any:
        self.calls.append(call)
        if call.name == PROCESS_ACTIVITY:
            try:
                result = await ActivityEnvironment().run(
                    self.processes.run, ProcessRequest(**call.payload)
                )
            except ApplicationError as err:
                raise WorkflowError(err.details[0]) from err
            return result.__dict__
        if call.name == CONTAINER_ACTIVITY:
            try:
                result = await ActivityEnvironment().run(
                    self.containers.run, ContainerRequest(**call.payload)
                )
            except ApplicationError as err:
                raise WorkflowError(err.details[0]) from err
            return result.__dict__
        if call.name == RESOLVE_WORKFLOW_ACTIVITY:
            ref = WorkflowReference(**call.payload)
            document = self.workflows.get((ref.namespace, ref.name, ref.version))
            if document is None:
                raise WorkflowError.of(ErrorType.CONFIGURATION, f"{ref.name} is not registered")
            return document
        raise AssertionError(f"unexpected activity {call.name}")

    async def run_workflow(self, run: ChildRun) -> Any:
        self.children.append(run)
        return await Interpreter(run.document, runtime=self).run(run.input)


def document(text: str) -> dict[str, Any]:
    return {"document": dict(HEADER), **yaml.safe_load(textwrap.dedent(text))}


async def run(text: str, given: Any = None, runtime: RunRuntime | None = None) -> Any:
    runtime = runtime or RunRuntime()
    return await Interpreter(document(text), runtime=runtime).run({} if given is None else given)


async def fail(text: str, given: Any = None, runtime: RunRuntime | None = None) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await run(text, given, runtime)
    return caught.value.problem


def shell_task(command: str, mode: str | None = None) -> str:
    lines = [
        "do:",
        "  - sh:",
        "      run:",
        "        shell:",
        f"          command: {json.dumps(command)}",
    ]
    if mode is not None:
        lines.append(f"        return: {mode}")
    return "\n".join(lines)


FAILING = "echo partial; echo broken >&2; exit 4"


async def test_the_spec_example_passes_stdin_and_arguments() -> None:
    output = await run(
        """
        do:
          - setInput:
              set:
                message: Hello World
          - runShell:
              input:
                from: ${ .message }
              run:
                shell:
                  stdin: ${ . }
                  command: |
                    input=$(cat)
                    echo "STDIN was: $input"
                    echo "ARGS are $1 $2"
                  arguments:
                  - Foo
                  - Bar
        """
    )
    assert output == "STDIN was: Hello World\nARGS are Foo Bar\n"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (None, "out\n"),
        ("stdout", "out\n"),
        ("stderr", "err\n"),
        ("code", 0),
        ("all", {"code": 0, "stdout": "out\n", "stderr": "err\n"}),
        ("none", None),
    ],
)
async def test_return_modes_on_success(mode: str | None, expected: Any) -> None:
    assert await run(shell_task("echo out; echo err >&2", mode)) == expected


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("code", 4), ("all", {"code": 4, "stdout": "partial\n", "stderr": "broken\n"})],
)
async def test_code_and_all_return_a_failed_exit_code(mode: str, expected: Any) -> None:
    assert await run(shell_task(FAILING, mode)) == expected


@pytest.mark.parametrize("mode", ["stdout", "stderr", "none"])
async def test_a_failed_process_is_a_runtime_error_with_code_and_stderr(mode: str) -> None:
    problem = await fail(shell_task(FAILING, mode))
    assert problem["type"] == ErrorType.RUNTIME.value
    assert problem["instance"] == "/do/0/sh"
    assert "exited with code 4" in problem["detail"]
    assert "stderr: broken" in problem["detail"]


async def test_shell_disallowed_fails_the_task_with_a_configuration_error() -> None:
    runtime = RunRuntime(limits=ProcessLimits())
    problem = await fail(shell_task("echo hi"), runtime=runtime)
    assert problem["type"] == ErrorType.CONFIGURATION.value
    assert "STIGMER_RUNNER_ALLOW_SHELL=true" in problem["detail"]
    assert problem["instance"] == "/do/0/sh"


async def test_environment_values_are_expressions_and_json_for_non_strings() -> None:
    output = await run(
        """
        do:
          - sh:
              run:
                shell:
                  command: 'echo "$NAME $PORT $CONF"'
                  environment:
                    NAME: ${ .name }
                    PORT: 8080
                    CONF: {a: 1}
        """,
        {"name": "Ada"},
    )
    assert output == 'Ada 8080 {"a":1}\n'


async def test_task_timeout_cancels_the_process() -> None:
    problem = await fail(
        """
        do:
          - py:
              timeout:
                after:
                  milliseconds: 300
              run:
                script:
                  language: python
                  code: "import time; time.sleep(5)"
        """
    )
    assert problem["type"] == ErrorType.TIMEOUT.value
    assert problem["instance"] == "/do/0/py"


async def test_the_runner_process_limit_is_a_timeout_error() -> None:
    runtime = RunRuntime(limits=ProcessLimits(allow_script=True, timeout_seconds=0.3))
    problem = await fail(
        """
        do:
          - py:
              run:
                script:
                  language: python
                  code: "import time; time.sleep(5)"
        """,
        runtime=runtime,
    )
    assert problem["type"] == ErrorType.TIMEOUT.value
    assert "within 0.3 s" in problem["detail"]
    assert problem["instance"] == "/do/0/py"


async def test_python_script_output_is_stdout_by_default() -> None:
    output = await run(
        """
        do:
          - py:
              run:
                script:
                  language: python
                  arguments: ['${ .n | tostring }']
                  code: |
                    import sys
                    print(int(sys.argv[1]) * 2)
        """,
        {"n": 21},
    )
    assert output == "42\n"


async def test_truncated_output_carries_a_notice() -> None:
    runtime = RunRuntime(limits=ProcessLimits(allow_shell=True, output_limit_bytes=10))
    output = await run(shell_task(f"{sys.executable} -c \"print('y' * 5000)\""), runtime=runtime)
    assert output == "y" * 10 + "\n[stigmer: output truncated after 10 bytes]"


async def test_await_false_outputs_the_transformed_input() -> None:
    runtime = RunRuntime()
    output = await run(
        """
        do:
          - sh:
              input:
                from: .keep
              run:
                shell:
                  command: 'true'
                await: false
        """,
        {"keep": {"a": 1}},
        runtime,
    )
    assert output == {"a": 1}
    assert runtime.calls[0].payload["wait"] is False
    await runtime.processes.aclose()


async def test_container_without_a_runtime_is_a_configuration_error_naming_the_setting() -> None:
    problem = await fail(
        """
        do:
          - runContainer:
              run:
                container:
                  image: hello-world
        """
    )
    assert problem["type"] == ErrorType.CONFIGURATION.value
    assert "'runContainer'" in problem["detail"]
    assert "STIGMER_RUNNER_CONTAINER_RUNTIME" in problem["detail"]


async def test_container_fields_are_resolved_into_the_activity_request() -> None:
    runtime = RunRuntime(containers=ContainerLimits(runtime="stigmer-no-such-cli"))
    problem = await fail(
        """
        do:
          - box:
              timeout:
                after: PT20S
              run:
                container:
                  image: ${ .image }
                  name: ${ "job-" + .id }
                  command: sh -c 'echo "$0 $1"'
                  arguments: [ "${ .id }" ]
                  ports: { "8080": 80 }
                  volumes: { /srv/data: "/data:ro" }
                  environment: { ID: "${ .id }" }
                  stdin: ${ .id }
                  pullPolicy: never
                  lifetime:
                    cleanup: eventually
                    after: { minutes: 2 }
                return: all
        """,
        {"image": "busybox:1.36", "id": "42"},
        runtime,
    )
    # The request reached the activity; this runner's CLI is not installed.
    assert "'stigmer-no-such-cli'" in problem["detail"]
    call = runtime.calls[-1]
    assert call.name == CONTAINER_ACTIVITY
    assert call.timeout_seconds == 50.0
    assert ContainerRequest(**call.payload) == ContainerRequest(
        task="task 'box' (/do/0/box)",
        image="busybox:1.36",
        name="job-42",
        command=["sh", "-c", 'echo "$0 $1"'],
        arguments=["42"],
        ports={"8080": "80"},
        volumes={"/srv/data": "/data:ro"},
        environment={"ID": "42"},
        stdin="42",
        pull_policy="never",
        cleanup="eventually",
        cleanup_after_seconds=120.0,
        timeout_seconds=20.0,
    )


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ("{image: '-v'}", "run.container.image must name an image"),
        ("{image: busybox, name: 'bad name'}", "run.container.name must be"),
        ('{image: busybox, command: "sh -c \'oops"}', "run.container.command: No closing"),
        ("{image: busybox, ports: {http: 80}}", "run.container.ports: 'http': '80'"),
        ("{image: busybox, volumes: {relative: /data}}", "run.container.volumes: 'relative'"),
        ("{image: busybox, volumes: {/a/../etc: /data}}", "must not contain '..'"),
        ("{image: busybox, pullPolicy: sometimes}", "pullPolicy must be one of"),
        ("{image: busybox, lifetime: {cleanup: soon}}", "cleanup must be one of"),
        ("{image: busybox, lifetime: {cleanup: eventually}}", "after is required"),
        ("{image: busybox, lifetime: {cleanup: always, after: PT1S}}", "after is required"),
    ],
)
async def test_malformed_containers_are_configuration_errors(container: str, message: str) -> None:
    runtime = RunRuntime()
    problem = await fail(
        f"do:\n  - box:\n      run:\n        container: {container}\n", None, runtime
    )
    assert problem["type"] == ErrorType.CONFIGURATION.value
    assert problem["instance"] == "/do/0/box"
    assert message in problem["detail"]
    assert runtime.calls == [], "a malformed container reached the activity"


async def test_run_needs_exactly_one_process() -> None:
    problem = await fail(
        "do:\n  - two:\n      run:\n        shell: {command: 'true'}\n        script: {}\n"
    )
    assert "exactly one of" in problem["detail"]


async def test_bad_return_mode_is_a_configuration_error() -> None:
    problem = await fail(shell_task("true", "everything"))
    assert "run.return must be one of" in problem["detail"]


CHILD = {
    "document": {"dsl": "1.0.3", "namespace": "test", "name": "child", "version": "0.1.0"},
    "do": [{"greet": {"set": {"hello": "${ .customer }"}}}],
}


async def test_run_workflow_resolves_the_document_and_runs_it_as_a_child() -> None:
    runtime = RunRuntime(workflows={("test", "child", "0.1.0"): CHILD})
    output = await run(
        """
        do:
          - sub:
              run:
                workflow:
                  namespace: test
                  name: child
                  version: '0.1.0'
                  input:
                    customer: ${ .user }
        """,
        {"user": "ada"},
        runtime,
    )
    assert output == {"hello": "ada"}
    assert runtime.calls[0].name == RESOLVE_WORKFLOW_ACTIVITY
    assert runtime.calls[0].payload["version"] == "0.1.0"
    assert runtime.children[0].task_pointer == "/do/0/sub"
    assert runtime.children[0].input == {"customer": "ada"}


async def test_run_workflow_without_input_passes_the_task_input() -> None:
    runtime = RunRuntime(workflows={("test", "child", "latest"): CHILD})
    output = await run(
        "do:\n  - sub:\n      run:\n        workflow: {namespace: test, name: child}\n",
        {"customer": "bob"},
        runtime,
    )
    assert output == {"hello": "bob"}


async def test_run_workflow_unknown_fails_with_the_lookup_problem() -> None:
    problem = await fail(
        "do:\n  - sub:\n      run:\n        workflow: {namespace: t, name: nope, version: '1'}\n"
    )
    assert problem["type"] == ErrorType.CONFIGURATION.value
    assert problem["instance"] == "/do/0/sub"


def test_timeout_error_type_is_not_retried() -> None:
    from stigmer_runner.dsl.run_contracts import NON_RETRYABLE_PROCESS_ERRORS

    assert PROCESS_TIMEOUT_ERROR in NON_RETRYABLE_PROCESS_ERRORS


async def test_script_source_is_fetched_over_http_then_run() -> None:
    def serve(request: HttpRequest) -> HttpResponse:
        assert (request.method, request.url, request.output) == (
            "GET",
            "https://x.test/s.py",
            "raw",
        )
        code = base64.b64encode(b"print('from source')").decode()
        return HttpResponse(status_code=200, raw_base64=code)

    output = await run(
        """
        do:
          - py:
              run:
                script:
                  language: python
                  source:
                    endpoint: https://x.test/s.py
        """,
        runtime=RunRuntime(responder=serve),
    )
    assert output == "from source\n"


async def test_script_source_http_error_is_a_communication_error() -> None:
    problem = await fail(
        """
        do:
          - py:
              run:
                script:
                  language: python
                  source:
                    endpoint:
                      uri: https://x.test/missing.py
        """,
        runtime=RunRuntime(responder=lambda request: HttpResponse(status_code=404)),
    )
    assert problem["type"] == ErrorType.COMMUNICATION.value
    assert problem["status"] == 404
