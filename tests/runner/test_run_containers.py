"""The container activity on a real engine (docker or podman): I/O, limits, lifetimes, kills.

The engine comes from the ``container_engine`` fixture (tests/services.py); its image is
imported from the host's static busybox, so nothing is pulled from a registry.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.activities.containers import ContainerActivities, ContainerLimits
from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl.errors import ErrorType
from stigmer_runner.dsl.run_contracts import (
    CONTAINER_ENGINE_ERROR,
    PROCESS_NOT_ALLOWED_ERROR,
    PROCESS_TIMEOUT_ERROR,
    ContainerRequest,
    ProcessResult,
)
from stigmer_runner.dsl_workflow import DslWorkflow
from tests.services import ContainerEngine, free_port

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-7f2c"


def limits(engine: ContainerEngine, **fields: Any) -> ContainerLimits:
    fields.setdefault("network", "none")
    fields.setdefault("timeout_seconds", 30.0)
    return ContainerLimits(runtime=engine.cli, **fields)


def container(engine: ContainerEngine, *command: str, **fields: Any) -> ContainerRequest:
    return ContainerRequest(
        task="task 't' (/do/0/t)", image=engine.image, command=list(command), **fields
    )


def unique_name() -> str:
    return f"stigmer-test-{uuid.uuid4().hex[:10]}"


async def run(activities: ContainerActivities, request: ContainerRequest) -> ProcessResult:
    result: ProcessResult = await ActivityEnvironment().run(activities.run, request)
    return result


async def gone(engine: ContainerEngine, name: str, seconds: float = 15.0) -> bool:
    for _ in range(int(seconds / 0.2)):
        if not await asyncio.to_thread(engine.container_exists, name):
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.fixture
def leftovers(container_engine: ContainerEngine) -> Any:
    """Names a test creates; whatever the test leaves is removed after it."""
    names: list[str] = []
    yield names
    for name in names:
        container_engine.run("rm", "--force", name)


async def test_container_gets_stdin_arguments_environment_and_exit_code(
    container_engine: ContainerEngine, leftovers: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    name = unique_name()
    leftovers.append(name)
    activities = ContainerActivities(limits=limits(container_engine))
    result = await run(
        activities,
        container(
            container_engine,
            "sh", "-c",
            'read line; echo "in=$line arg=$1 foo=$FOO path=$PATH"; '
            '[ "$TOKEN" = "$EXPECTED" ] && echo token-ok; echo err >&2; exit 3',
            "sh",
            name=name,
            arguments=["a b"],
            environment={
                "FOO": "bar", "PATH": "/bin:/custom", "TOKEN": SECRET, "EXPECTED": SECRET,
            },
            stdin="hello\n",
            cleanup="always",
        ),
    )  # fmt: skip
    assert (result.code, result.stderr) == (3, "err\n")
    assert result.stdout == "in=hello arg=a b foo=bar path=/bin:/custom\ntoken-ok\n"
    assert not container_engine.container_exists(name), "cleanup: always left it behind"
    assert SECRET not in caplog.text


async def test_cleanup_never_leaves_the_stopped_container_and_eventually_removes_it_later(
    container_engine: ContainerEngine, leftovers: list[str]
) -> None:
    kept, later = unique_name(), unique_name()
    leftovers += [kept, later]
    activities = ContainerActivities(limits=limits(container_engine))
    result = await run(activities, container(container_engine, "echo", "hi", name=kept))
    assert (result.code, result.stdout) == (0, "hi\n")
    assert container_engine.container_exists(kept)

    await run(
        activities,
        container(
            container_engine, "true", name=later, cleanup="eventually", cleanup_after_seconds=1.0
        ),
    )
    assert container_engine.container_exists(later), "removed before its 'after'"
    assert await gone(container_engine, later)
    await activities.aclose()


async def test_timeout_kills_and_removes_the_container(
    container_engine: ContainerEngine, leftovers: list[str]
) -> None:
    name = unique_name()
    leftovers.append(name)
    activities = ContainerActivities(limits=limits(container_engine, timeout_seconds=2.0))
    started = asyncio.get_running_loop().time()
    with pytest.raises(ApplicationError) as caught:
        await run(activities, container(container_engine, "sleep", "60", name=name))
    assert asyncio.get_running_loop().time() - started < 20
    assert caught.value.type == PROCESS_TIMEOUT_ERROR
    assert caught.value.non_retryable
    assert caught.value.details[0]["type"] == ErrorType.TIMEOUT.value
    assert "within 2 s" in caught.value.message
    assert not container_engine.container_exists(name)


async def test_cancellation_stops_and_removes_the_container(
    container_engine: ContainerEngine, leftovers: list[str]
) -> None:
    name = unique_name()
    leftovers.append(name)
    activities = ContainerActivities(limits=limits(container_engine))
    environment = ActivityEnvironment()
    running = asyncio.create_task(
        environment.run(activities.run, container(container_engine, "sleep", "60", name=name))
    )
    for _ in range(100):
        state = container_engine.run("container", "inspect", "--format", "{{.State.Running}}", name)
        if state.stdout.strip() == "true":
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the container never ran")
    environment.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not container_engine.container_exists(name)


async def test_output_beyond_the_limit_is_truncated_and_flagged(
    container_engine: ContainerEngine,
) -> None:
    activities = ContainerActivities(limits=limits(container_engine, output_limit_bytes=1000))
    script = "i=0; while [ $i -lt 5000 ]; do echo 0123456789; i=$((i+1)); done; echo small >&2"
    result = await run(
        activities, container(container_engine, "sh", "-c", script, cleanup="always")
    )
    assert result.code == 0
    assert result.stdout == ("0123456789\n" * 91)[:1000]
    assert result.stdout_truncated
    assert (result.stderr, result.stderr_truncated) == ("small\n", False)


async def test_not_awaited_container_serves_a_mounted_volume_on_a_published_port(
    container_engine: ContainerEngine, leftovers: list[str], tmp_path: Path
) -> None:
    (tmp_path / "hello.txt").write_text("hello from the host\n")
    name, port = unique_name(), free_port()
    leftovers.append(name)
    activities = ContainerActivities(
        limits=limits(container_engine, network=None, volume_roots=(tmp_path,))
    )
    result = await run(
        activities,
        container(
            container_engine,
            "httpd", "-f", "-p", "8080", "-h", "/www",
            name=name,
            ports={str(port): "8080"},
            volumes={str(tmp_path): "/www:ro"},
            cleanup="always",
            wait=False,
        ),
    )  # fmt: skip
    assert result.code is None
    url, body = f"http://127.0.0.1:{port}/hello.txt", None
    for _ in range(100):
        try:
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read())
            break
        except OSError:
            await asyncio.sleep(0.2)
    assert body == b"hello from the host\n"
    await activities.aclose()
    assert not container_engine.container_exists(name), "worker shutdown left it running"


async def test_volumes_outside_the_allowed_roots_are_refused(
    container_engine: ContainerEngine, tmp_path: Path
) -> None:
    activities = ContainerActivities(limits=limits(container_engine, volume_roots=(tmp_path,)))
    with pytest.raises(ApplicationError) as caught:
        await run(activities, container(container_engine, "true", volumes={"/etc": "/host-etc"}))
    assert caught.value.non_retryable
    assert "outside the directories" in caught.value.message


async def test_an_image_the_engine_lacks_is_an_engine_error_naming_the_task(
    container_engine: ContainerEngine,
) -> None:
    activities = ContainerActivities(limits=limits(container_engine))
    request = container(container_engine, "true", pull_policy="never")
    request.image = "localhost/stigmer-no-such-image:missing"
    with pytest.raises(ApplicationError) as caught:
        await run(activities, request)
    assert caught.value.type == CONTAINER_ENGINE_ERROR
    assert not caught.value.non_retryable
    assert caught.value.message.startswith("task 't' (/do/0/t): the container engine refused")


async def test_no_runtime_configured_is_a_configuration_error_naming_the_setting() -> None:
    activities = ContainerActivities(limits=ContainerLimits())
    with pytest.raises(ApplicationError) as caught:
        await run(activities, ContainerRequest(task="task 't' (/do/0/t)", image="busybox"))
    assert caught.value.type == PROCESS_NOT_ALLOWED_ERROR
    assert caught.value.non_retryable
    assert "STIGMER_RUNNER_CONTAINER_RUNTIME" in caught.value.message
    assert caught.value.details[0]["type"] == ErrorType.CONFIGURATION.value


async def _run_dsl(
    client: Client, activities: ContainerActivities, do: list[Any], given: Any
) -> ExecutionOutcome:
    queue = f"run-containers-{uuid.uuid4()}"
    header = {"dsl": "1.0.3", "namespace": "test", "name": "boxes", "version": "1.0.0"}
    async with Worker(
        client, task_queue=queue, workflows=[DslWorkflow], activities=[activities.run]
    ):
        outcome: ExecutionOutcome = await client.execute_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=f"exec-{uuid.uuid4()}",
                workflow_id="wf-boxes",
                document={"document": header, "do": do},
                input=given,
                child=True,  # no status reports: this test has no API to report to
            ),
            id=f"run-containers-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=90),
        )
    return outcome


async def test_containers_run_durably_in_the_dsl_workflow(
    container_engine: ContainerEngine, temporal_address: str, leftovers: list[str]
) -> None:
    client = await Client.connect(temporal_address)
    activities = ContainerActivities(limits=limits(container_engine))
    box = {"image": container_engine.image, "lifetime": {"cleanup": "always"}}
    greet = {
        "greet": {
            "run": {
                "container": {
                    **box,
                    "command": "sh -c 'read name; echo \"$GREETING, $name\"; exit 2'",
                    "environment": {"GREETING": "${ .greeting }"},
                    "stdin": "${ .name }",
                },
                "return": "all",
            }
        }
    }
    outcome = await _run_dsl(client, activities, [greet], {"greeting": "hello", "name": "ada"})
    assert outcome.error is None
    assert outcome.output == {"code": 2, "stdout": "hello, ada\n", "stderr": ""}

    failing = {"boom": {"run": {"container": {**box, "command": "sh -c 'echo bad >&2; exit 9'"}}}}
    outcome = await _run_dsl(client, activities, [failing], {})
    assert outcome.phase == "FAILED"
    assert outcome.error is not None
    assert outcome.error["type"].endswith("/errors/runtime")
    assert "the container exited with code 9; stderr: bad" in outcome.error["detail"]
    assert outcome.error["instance"] == "/do/0/boom"

    name = unique_name()
    leftovers.append(name)
    slow = {
        "slow": {
            "timeout": {"after": "PT2S"},
            "run": {"container": {**box, "name": name, "command": "sleep 60"}},
        }
    }
    outcome = await _run_dsl(client, activities, [slow], {})
    assert outcome.phase == "FAILED"
    assert outcome.error is not None
    assert outcome.error["type"].endswith("/errors/timeout")
    assert await gone(container_engine, name)
