"""The process activity on real local subprocesses: permissions, I/O, limits and kills."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_runner.activities.processes import ProcessActivities, ProcessLimits
from stigmer_runner.dsl.errors import ErrorType
from stigmer_runner.dsl.run_contracts import (
    PROCESS_CONFIGURATION_ERROR,
    PROCESS_NOT_ALLOWED_ERROR,
    PROCESS_TIMEOUT_ERROR,
    ProcessRequest,
    ProcessResult,
)
from tests.services import unavailable

ALLOW_ALL = ProcessLimits(allow_shell=True, allow_script=True, timeout_seconds=10.0)


async def run(request: ProcessRequest, limits: ProcessLimits = ALLOW_ALL, **kw: Any) -> Any:
    activities = ProcessActivities(limits=limits, **kw)
    result: ProcessResult = await ActivityEnvironment().run(activities.run, request)
    return result


def shell(command: str, **fields: Any) -> ProcessRequest:
    return ProcessRequest(kind="shell", task="task 't' (/do/0/t)", command=command, **fields)


def script(language: str, code: str, **fields: Any) -> ProcessRequest:
    return ProcessRequest(
        kind="script", task="task 't' (/do/0/t)", language=language, code=code, **fields
    )


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def test_shell_gets_stdin_arguments_and_only_its_environment() -> None:
    os.environ["STIGMER_TEST_LEAK"] = "runner-only"
    try:
        result = await run(
            shell(
                'input=$(cat); echo "in=$input"; echo "args=$1,$2"; '
                'echo "foo=$FOO leak=${STIGMER_TEST_LEAK:-none}"',
                arguments=["a b", "$(touch x)"],
                environment={"FOO": "bar"},
                stdin="Hello World",
            )
        )
    finally:
        del os.environ["STIGMER_TEST_LEAK"]
    assert result.code == 0
    # Arguments are argv: spaces and shell syntax in them are never interpreted.
    assert result.stdout == "in=Hello World\nargs=a b,$(touch x)\nfoo=bar leak=none\n"
    assert result.stderr == ""


async def test_exit_code_and_stderr_are_returned_not_raised() -> None:
    result = await run(shell("echo out; echo oops >&2; exit 3"))
    assert (result.code, result.stdout, result.stderr) == (3, "out\n", "oops\n")


async def test_shell_disallowed_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(ApplicationError) as caught:
        await run(shell("echo hi"), ProcessLimits(allow_shell=False, allow_script=True))
    err = caught.value
    assert err.type == PROCESS_NOT_ALLOWED_ERROR
    assert err.non_retryable
    assert "STIGMER_RUNNER_ALLOW_SHELL=true" in err.message
    assert err.details[0]["type"] == ErrorType.CONFIGURATION.value


async def test_script_disallowed_is_a_configuration_error_naming_the_setting() -> None:
    with pytest.raises(ApplicationError) as caught:
        await run(script("python", "print(1)"), ProcessLimits(allow_shell=True))
    assert caught.value.type == PROCESS_NOT_ALLOWED_ERROR
    assert "STIGMER_RUNNER_ALLOW_SCRIPT=true" in caught.value.message


async def test_python_script_reads_stdin_argv_and_environment() -> None:
    code = (
        "import os, sys\n"
        "print(sys.stdin.read().upper(), sys.argv[1:], os.environ['FOO'])\n"
        "print('warn', file=sys.stderr)\n"
    )
    result = await run(
        script("python", code, stdin="hi", arguments=["x", "y"], environment={"FOO": "bar"})
    )
    assert result.code == 0
    assert result.stdout == "HI ['x', 'y'] bar\n"
    assert result.stderr == "warn\n"


async def test_javascript_module_script_runs_with_node() -> None:
    if shutil.which("node") is None:
        unavailable("node is not installed (run: script with language javascript needs it)")
    code = (
        "import { readFileSync } from 'node:fs';\n"
        "const stdin = readFileSync(process.stdin.fd, 'utf8');\n"
        "console.log(stdin, process.argv[2], process.env.foo);\n"
    )
    result = await run(
        script("javascript", code, stdin="Hello", arguments=["hello"], environment={"foo": "bar"})
    )
    assert (result.code, result.stdout) == (0, "Hello hello bar\n")


async def test_javascript_without_node_is_a_configuration_error() -> None:
    activities = ProcessActivities(limits=ALLOW_ALL, node="")
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.run, script("js", "console.log(1)"))
    assert caught.value.type == PROCESS_CONFIGURATION_ERROR
    assert "node is not installed" in caught.value.message


async def test_unknown_language_is_a_configuration_error() -> None:
    with pytest.raises(ApplicationError) as caught:
        await run(script("cobol", "DISPLAY 'HI'."))
    assert caught.value.type == PROCESS_CONFIGURATION_ERROR
    assert "'cobol'" in caught.value.message


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    limits = ProcessLimits(allow_shell=True, timeout_seconds=0.5)
    started = asyncio.get_running_loop().time()
    try:
        with pytest.raises(ApplicationError) as caught:
            await run(
                shell(
                    'sleep 30 & echo $! > "$PIDFILE"; wait', environment={"PIDFILE": str(pidfile)}
                ),
                limits,
            )
        assert asyncio.get_running_loop().time() - started < 5
        assert caught.value.type == PROCESS_TIMEOUT_ERROR
        assert caught.value.non_retryable
        assert caught.value.details[0]["type"] == ErrorType.TIMEOUT.value
        assert "within 0.5 s" in caught.value.message
        child = int(pidfile.read_text())
        for _ in range(50):
            if not _alive(child):
                break
            await asyncio.sleep(0.05)
        assert not _alive(child), "the shell's background child survived the kill"
    finally:
        if pidfile.exists() and _alive(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


async def test_task_timeout_below_the_runner_limit_applies() -> None:
    with pytest.raises(ApplicationError) as caught:
        await run(shell("sleep 5", timeout_seconds=0.3))
    assert "within 0.3 s" in caught.value.message


async def test_output_beyond_the_limit_is_truncated_and_flagged() -> None:
    limits = ProcessLimits(allow_shell=True, output_limit_bytes=1000)
    # 300 kB: far more than a pipe buffer, so a reader that stopped would hang the process.
    result = await run(
        shell(f"{sys.executable} -c \"print('x' * 300000)\"; echo small >&2"), limits
    )
    assert result.code == 0
    assert result.stdout == "x" * 1000
    assert result.stdout_truncated
    assert (result.stderr, result.stderr_truncated) == ("small\n", False)
    assert result.limit_bytes == 1000


async def test_not_awaited_process_returns_at_once_and_still_runs(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    activities = ProcessActivities(limits=ALLOW_ALL)
    result = await ActivityEnvironment().run(
        activities.run,
        shell('sleep 0.3; touch "$MARKER"', environment={"MARKER": str(marker)}, wait=False),
    )
    assert result.code is None
    assert not marker.exists()
    for _ in range(100):
        if marker.exists():
            break
        await asyncio.sleep(0.05)
    assert marker.exists()
    await activities.aclose()


async def test_a_missing_executable_is_reported_by_the_shell() -> None:
    result = await run(shell("definitely-not-a-command-stigmer"))
    assert result.code == 127
    assert "not found" in result.stderr
