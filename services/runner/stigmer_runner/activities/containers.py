"""The container activity: run a ``run: container`` task through an OCI engine's CLI.

Off unless the runner names a CLI (``docker``, ``podman`` or a path). The container is
created, then started attached, so its stdout, stderr and exit code are the task's, with the
same time and output limits as ``run: shell``. When the limit passes, the activity is
cancelled (the task's timeout, the run cancelled) or anything else goes wrong after the
container exists, it is killed and removed; after a normal end, ``lifetime.cleanup``
decides: removed at once (``always``), left stopped (``never``), or removed ``after`` a
delay (``eventually``, a timer in this runner: a runner that stops removes them at once, one
that dies leaves them behind, labelled ``io.stigmer.cleanup-after``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Coroutine, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_runner.activities import container_cli as cli_
from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.activities.process_io import (
    configuration_error,
    feed_stdin,
    not_allowed_error,
    read_capped,
    timeout_error,
)
from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.run_contracts import (
    CONTAINER_ACTIVITY,
    CONTAINER_ENGINE_ERROR,
    ContainerRequest,
    ProcessResult,
)

# Background work (removals, await: false) outlives its activity: no activity.logger there.
log = logging.getLogger(__name__)

_CLEANUP_SECONDS = 20.0
_EXCERPT_CHARS = 500


@dataclass(frozen=True)
class ContainerLimits:
    """What the runner's settings allow (see RunnerSettings, ``stigmer_runner_container_*``)."""

    runtime: str | None = None
    """The engine's CLI; None: ``run: container`` is refused."""
    network: str | None = None
    volume_roots: tuple[Path, ...] = ()
    timeout_seconds: float = 60.0
    output_limit_bytes: int = 1024 * 1024


class ContainerActivities:
    """Runs ``run: container`` tasks within the runner's :class:`ContainerLimits`."""

    def __init__(
        self, *, limits: ContainerLimits, environ: Mapping[str, str] | None = None
    ) -> None:
        self._limits = limits
        # What the CLI sees of the runner's environment (engine config, proxies, locale).
        self._environ = cli_.cli_environment(os.environ if environ is None else environ)
        self._background: set[asyncio.Task[None]] = set()
        self._removals: set[asyncio.Task[None]] = set()

    @activity.defn(name=CONTAINER_ACTIVITY)
    async def run(self, request: ContainerRequest) -> ProcessResult:
        """Run ``request``'s container; return its exit code and output whatever the code."""
        cli = self._cli(request)
        timeout = self._limits.timeout_seconds
        if request.timeout_seconds is not None:
            timeout = min(timeout, request.timeout_seconds)
        name = request.name or f"stigmer-{uuid.uuid4().hex[:12]}"
        workdir = await asyncio.to_thread(tempfile.mkdtemp, prefix="stigmer-container-")
        # A name the task chose may belong to a container that is not ours (in use).
        owned = not request.name
        try:
            command = self._create_command(cli, request, name, timeout, workdir)
            if not request.wait:
                await self._create(request, command)
                self._spawn(self._run_detached(request, cli, name, timeout))
                return ProcessResult(limit_bytes=self._limits.output_limit_bytes)
            async with heartbeating():
                try:
                    async with asyncio.timeout(timeout):
                        await self._create(request, command)
                        owned = True
                        result = await self._attach(
                            request, cli, name, self._limits.output_limit_bytes
                        )
                except TimeoutError:
                    activity.logger.warning("%s: killed %s after %s s", request.task, name, timeout)
                    raise timeout_error(request.task, f"the container {name}", timeout) from None
        except BaseException:
            # Also on cancellation: a container that outlives its task is never left running.
            if owned and request.wait:
                await self._remove(cli, name)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        await self._after_exit(request, cli, name)
        return result

    async def aclose(self) -> None:
        """Stop what runs in the background (``await: false`` containers, pending
        ``eventually`` removals): each container is removed now (worker shutdown)."""
        for task in list(self._background):
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*self._background, return_exceptions=True)
            await asyncio.gather(*self._removals, return_exceptions=True)

    def _cli(self, request: ContainerRequest) -> str:
        runtime = self._limits.runtime
        if not runtime:
            raise not_allowed_error(
                request.task,
                "run: container",
                "set STIGMER_RUNNER_CONTAINER_RUNTIME to docker or podman (or the path of "
                "its CLI) to allow it",
            )
        found = shutil.which(runtime)
        if found is None:
            raise configuration_error(
                request.task,
                f"the container runtime {runtime!r} (STIGMER_RUNNER_CONTAINER_RUNTIME) is not "
                "installed on this runner",
            )
        return found

    def _create_command(
        self, cli: str, request: ContainerRequest, name: str, timeout: float, workdir: str
    ) -> cli_.CreateCommand:
        cleanup_at = None
        if request.cleanup == "eventually" and request.cleanup_after_seconds is not None:
            cleanup_at = time.time() + timeout + request.cleanup_after_seconds
        try:
            command = cli_.create_command(
                cli,
                request,
                name=name,
                base_environment=self._environ,
                env_file_path=os.path.join(workdir, "env"),
                network=self._limits.network,
                volume_roots=self._limits.volume_roots,
                cleanup_at=cleanup_at,
            )
        except cli_.ContainerSpecError as exc:
            raise configuration_error(request.task, str(exc)) from None
        if command.env_file:
            path = os.path.join(workdir, "env")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write("\n".join(command.env_file) + "\n")
        return command

    async def _create(self, request: ContainerRequest, command: cli_.CreateCommand) -> None:
        code, _, stderr = await _run_cli(command.argv, command.environment)
        if code != 0:
            excerpt = stderr.decode("utf-8", errors="replace").strip()[-_EXCERPT_CHARS:]
            detail = f"{request.task}: the container engine refused the container: {excerpt}"
            raise ApplicationError(
                detail,
                problem(ErrorType.RUNTIME, detail=detail),
                type=CONTAINER_ENGINE_ERROR,
            )

    async def _attach(
        self, request: ContainerRequest, cli: str, name: str, limit: int
    ) -> ProcessResult:
        """Start the container attached, feed stdin, collect output, read the exit code."""
        interactive = request.stdin is not None
        process = await asyncio.create_subprocess_exec(
            *cli_.start_command(cli, name, interactive=interactive),
            stdin=asyncio.subprocess.PIPE if interactive else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environ,
        )
        assert process.stdout is not None
        assert process.stderr is not None
        stdout = asyncio.create_task(read_capped(process.stdout, limit))
        stderr = asyncio.create_task(read_capped(process.stderr, limit))
        try:
            if interactive:
                await feed_stdin(process, request.stdin)
            (out, out_cut), (err, err_cut) = await asyncio.gather(stdout, stderr)
            attached_code = await process.wait()
        finally:
            for reader in (stdout, stderr):
                reader.cancel()
            if process.returncode is None:
                with suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        code, printed, _ = await _run_cli(cli_.exit_code_command(cli, name), self._environ)
        try:
            exit_code = int(printed.decode().strip()) if code == 0 else attached_code
        except ValueError:
            exit_code = attached_code
        if limit and (out_cut or err_cut):
            activity.logger.warning("%s: output truncated at %d bytes", request.task, limit)
        return ProcessResult(
            code=exit_code,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
            stdout_truncated=out_cut,
            stderr_truncated=err_cut,
            limit_bytes=limit,
        )

    async def _run_detached(
        self, request: ContainerRequest, cli: str, name: str, timeout: float
    ) -> None:
        """An ``await: false`` container: run to its time limit, output dropped."""
        try:
            async with asyncio.timeout(timeout):
                await self._attach(request, cli, name, 0)
        except BaseException:
            await self._remove(cli, name)
            raise
        await self._after_exit(request, cli, name)

    async def _after_exit(self, request: ContainerRequest, cli: str, name: str) -> None:
        """Apply ``lifetime.cleanup`` to a container that ended."""
        if request.cleanup == "always":
            await self._remove(cli, name)
        elif request.cleanup == "eventually":
            self._spawn(self._remove_after(request.cleanup_after_seconds or 0.0, cli, name))

    async def _remove_after(self, seconds: float, cli: str, name: str) -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            await self._remove(cli, name)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _remove(self, cli: str, name: str) -> None:
        """Kill and remove the container; a container already gone is fine.

        Shielded: a second cancellation (the worker shutting down while a cancelled task
        cleans up) must not leave the container behind.
        """
        removal = asyncio.create_task(self._remove_now(cli, name))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)
        await asyncio.shield(removal)

    async def _remove_now(self, cli: str, name: str) -> None:
        try:
            async with asyncio.timeout(_CLEANUP_SECONDS):
                await _run_cli(cli_.kill_command(cli, name), self._environ)
                code, _, stderr = await _run_cli(cli_.remove_command(cli, name), self._environ)
        except (TimeoutError, OSError) as exc:
            log.warning("container %s may be left behind: %s", name, exc)
            return
        if code != 0 and b"no such container" not in stderr.lower():
            log.warning(
                "container %s may be left behind: %s",
                name,
                stderr.decode("utf-8", errors="replace").strip()[-_EXCERPT_CHARS:],
            )


async def _run_cli(argv: list[str], env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    """Run one CLI command to its end: exit code, stdout, stderr. Killed if cancelled."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
    )
    try:
        stdout, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode if process.returncode is not None else -1, stdout, stderr
