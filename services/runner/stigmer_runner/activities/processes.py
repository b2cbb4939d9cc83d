"""The process activity: run a ``run: shell`` command or ``run: script`` code locally.

Off unless the runner's settings allow it. The process gets its own session (process
group), a minimal environment (the runner's variables, tokens and secrets are never
inherited) and a private temporary working directory; it is killed with its whole group
when it outlives its time limit or the activity is cancelled. Output beyond the limit is
read and dropped, so a chatty process never blocks on a full pipe.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from temporalio import activity

from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.activities.process_io import (
    configuration_error,
    feed_stdin,
    not_allowed_error,
    read_capped,
    timeout_error,
)
from stigmer_runner.dsl.run_contracts import PROCESS_ACTIVITY, ProcessRequest, ProcessResult

SHELL = "/bin/sh"
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
_ESM = re.compile(r"^\s*(?:import\s|import\{|export\s)", re.MULTILINE)
_REAP_SECONDS = 5.0


@dataclass(frozen=True)
class ProcessLimits:
    """What the runner's settings allow (see RunnerSettings, ``stigmer_runner_*``)."""

    allow_shell: bool = False
    allow_script: bool = False
    timeout_seconds: float = 60.0
    output_limit_bytes: int = 1024 * 1024


class ProcessActivities:
    """Runs processes for ``run`` tasks within the runner's :class:`ProcessLimits`."""

    def __init__(self, *, limits: ProcessLimits, node: str | None = None) -> None:
        self._limits = limits
        # The JavaScript interpreter; found on PATH when not given.
        self._node = node if node is not None else shutil.which("node")
        self._detached: set[asyncio.Task[None]] = set()

    @activity.defn(name=PROCESS_ACTIVITY)
    async def run(self, request: ProcessRequest) -> ProcessResult:
        """Run ``request``; return its exit code and output whatever the code."""
        argv, script = self._argv(request)
        timeout = self._limits.timeout_seconds
        if request.timeout_seconds is not None:
            timeout = min(timeout, request.timeout_seconds)
        workdir = await asyncio.to_thread(tempfile.mkdtemp, prefix="stigmer-run-")
        try:
            if script is not None:
                name, code = script
                argv.insert(1, os.path.join(workdir, name))
                await asyncio.to_thread(Path(argv[1]).write_text, code, encoding="utf-8")
            process = await self._spawn(request, argv, workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if not request.wait:
            watchdog = asyncio.create_task(self._watch(process, timeout, workdir))
            self._detached.add(watchdog)
            watchdog.add_done_callback(self._detached.discard)
            return ProcessResult(limit_bytes=self._limits.output_limit_bytes)
        try:
            async with heartbeating():
                return await self._collect(request, process, timeout)
        finally:
            # Also on cancellation (the task's timeout, the run cancelled): nothing lingers.
            _kill_group(process)
            with suppress(Exception):
                await asyncio.wait_for(process.wait(), _REAP_SECONDS)
            shutil.rmtree(workdir, ignore_errors=True)

    async def aclose(self) -> None:
        """Kill the processes of ``await: false`` tasks still running (worker shutdown)."""
        for watchdog in list(self._detached):
            watchdog.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._detached, return_exceptions=True)

    def _argv(self, request: ProcessRequest) -> tuple[list[str], tuple[str, str] | None]:
        """The command line, and the script file (name, code) to write first, if any."""
        if request.kind == "shell":
            if not self._limits.allow_shell:
                raise not_allowed_error(
                    request.task, "run: shell", "set STIGMER_RUNNER_ALLOW_SHELL=true to allow it"
                )
            # The command is the shell program; arguments become $1, $2... never text in it.
            return [SHELL, "-c", request.command, "sh", *request.arguments], None
        if request.kind != "script":
            raise configuration_error(request.task, f"unknown process kind {request.kind!r}")
        if not self._limits.allow_script:
            raise not_allowed_error(
                request.task, "run: script", "set STIGMER_RUNNER_ALLOW_SCRIPT=true to allow it"
            )
        language = request.language.strip().lower()
        if language in ("python", "python3", "py"):
            return [sys.executable, *request.arguments], ("script.py", request.code)
        if language in ("js", "javascript", "node", "nodejs"):
            if not self._node:
                raise configuration_error(
                    request.task,
                    "run.script.language is javascript, but node is not installed on this "
                    "runner (install Node.js or put it on PATH)",
                )
            name = "script.mjs" if _ESM.search(request.code) else "script.cjs"
            return [self._node, *request.arguments], (name, request.code)
        raise configuration_error(
            request.task,
            f"run.script.language {request.language!r} is not supported; use python or js",
        )

    async def _spawn(
        self, request: ProcessRequest, argv: list[str], workdir: str
    ) -> asyncio.subprocess.Process:
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        env["TMPDIR"] = workdir
        env.update(request.environment)
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if request.wait else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if request.wait else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE if request.wait else asyncio.subprocess.DEVNULL,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise configuration_error(request.task, f"cannot start {argv[0]}: {exc}") from exc

    async def _collect(
        self, request: ProcessRequest, process: asyncio.subprocess.Process, timeout: float
    ) -> ProcessResult:
        limit = self._limits.output_limit_bytes
        assert process.stdout is not None
        assert process.stderr is not None
        stdout = asyncio.create_task(read_capped(process.stdout, limit))
        stderr = asyncio.create_task(read_capped(process.stderr, limit))
        try:
            async with asyncio.timeout(timeout):
                await feed_stdin(process, request.stdin)
                (out, out_cut), (err, err_cut) = await asyncio.gather(stdout, stderr)
                code = await process.wait()
        except TimeoutError:
            _kill_group(process)
            activity.logger.warning("%s: killed after %s s", request.task, timeout)
            raise timeout_error(request.task, "the process", timeout) from None
        finally:
            for reader in (stdout, stderr):
                reader.cancel()
        if out_cut or err_cut:
            activity.logger.warning("%s: output truncated at %d bytes", request.task, limit)
        return ProcessResult(
            code=code,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            stdout_truncated=out_cut,
            stderr_truncated=err_cut,
            limit_bytes=limit,
        )

    async def _watch(
        self, process: asyncio.subprocess.Process, timeout: float, workdir: str
    ) -> None:
        """Keep an ``await: false`` process to its time limit, then clean up."""
        try:
            async with asyncio.timeout(timeout):
                await process.wait()
        except TimeoutError:
            pass
        finally:
            _kill_group(process)
            with suppress(ProcessLookupError, ChildProcessError):
                await process.wait()
            shutil.rmtree(workdir, ignore_errors=True)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's whole group: a shell's children go with it."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
