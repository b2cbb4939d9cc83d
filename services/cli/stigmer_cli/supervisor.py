"""``stigmer server``: Temporal (found or started), the API and both workers in one process.

Start order is Temporal, API, orchestrator, runner, each waited for; shutdown on
SIGTERM/SIGINT is the reverse: workers first (they may still report to the API), then
the API, then the Temporal dev server if we started it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from stigmer_cli.local_server import SUPERVISOR_WORD
from stigmer_cli.paths import LocalPaths
from stigmer_cli.pidfile import claimed_pid_file
from stigmer_cli.settings import CliSettings
from stigmer_cli.temporal_dev import (
    dev_server_command,
    find_temporal_binary,
    start_dev_server,
    stop_dev_server,
    temporal_answers,
    wait_for_dev_server,
)
from stigmer_cli.urls import api_url_host_port, is_loopback_host
from stigmer_core.errors import StigmerError, UnavailableError, ValidationFailedError
from stigmer_core.temporal_connect import payload_keyring

log = logging.getLogger(__name__)

Component = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A service entry point: runs until cancelled, sets the event once it serves or polls."""

_START_TIMEOUT_SECONDS = 60.0


@dataclass
class _Running:
    """What the supervisor has started so far, so shutdown undoes exactly that."""

    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    temporal: subprocess.Popen[bytes] | None = None


async def run_supervisor(settings: CliSettings, *, console: Console) -> int:
    """Run the local server until SIGTERM/SIGINT; return the process exit code.

    Raises ConflictError if another supervisor holds the pid file, ValidationFailedError
    for a non-loopback STIGMER_API_URL, UnavailableError if Temporal cannot be had.
    """
    host, port = api_url_host_port(settings.stigmer_api_url)
    if not is_loopback_host(host):
        raise ValidationFailedError(
            f"stigmer server listens on this machine only; STIGMER_API_URL "
            f"({settings.stigmer_api_url}) must be a loopback URL such as http://127.0.0.1:8234",
            field="STIGMER_API_URL",
        )
    paths = LocalPaths(settings.stigmer_home)
    paths.ensure_home()
    with claimed_pid_file(paths.pid_file, word=SUPERVISOR_WORD):
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, sig, stop)
        running = _Running()
        try:
            return await _supervise(settings, paths, port, stop, running, console)
        finally:
            await _shut_down(running, settings, paths)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    if stop.is_set():
        log.warning("%s again: already stopping, please wait", sig.name)
    else:
        log.info("%s received: stopping", sig.name)
    stop.set()


async def _supervise(
    settings: CliSettings,
    paths: LocalPaths,
    port: int,
    stop: asyncio.Event,
    running: _Running,
    console: Console,
) -> int:
    # Imported here so `stigmer --help` and the client commands never load the services,
    # and so a CLI-only install fails with advice rather than at start-up.
    try:
        from stigmer_api.main import serve
        from stigmer_api.settings import ApiSettings, BusKind, StoreKind
        from stigmer_orchestrator.main import run as run_orchestrator
        from stigmer_orchestrator.settings import OrchestratorSettings
        from stigmer_runner.main import run as run_runner
        from stigmer_runner.settings import RunnerSettings
    except ImportError as exc:
        raise StigmerError(
            f"local mode needs the server components ({exc}); "
            "install them with `pip install 'stigmer[local]'`"
        ) from exc
    # Local mode encrypts payloads only with keys the user configured; it never makes one up
    # (see docs/configuration.md, "Encrypted Temporal payloads"). Checked before anything starts.
    payload_keyring(settings)
    address = settings.temporal_host_port
    namespace = settings.temporal_namespace
    temporal_note = "existing server"
    if not await temporal_answers(address, namespace=namespace):
        command = dev_server_command(
            find_temporal_binary(), address=address, namespace=namespace, paths=paths
        )
        log.info("no Temporal at %s: starting the dev server", address)
        running.temporal = start_dev_server(command, paths=paths)
        temporal_note = f"dev server, pid {running.temporal.pid}, log {paths.temporal_log}"
        waited = wait_for_dev_server(
            running.temporal, address=address, namespace=namespace, paths=paths
        )
        if not await _unless_stopped(waited, stop):
            return 0

    # Every component talks to the same Temporal, so all get the CLI's payload keys.
    temporal: dict[str, Any] = {
        "temporal_host_port": address,
        "temporal_namespace": namespace,
        "stigmer_payload_key": settings.stigmer_payload_key,
        "stigmer_payload_previous_keys": settings.stigmer_payload_previous_keys,
        "stigmer_payload_keys_file": settings.stigmer_payload_keys_file,
    }
    api_settings = ApiSettings(
        stigmer_store=StoreKind.SQLITE,
        stigmer_sqlite_path=str(paths.store),
        stigmer_bus=BusKind.MEMORY,
        stigmer_api_host="127.0.0.1",
        stigmer_api_port=port,
        stigmer_api_allow_anonymous=True,
        **temporal,
    )
    worker_overrides: dict[str, Any] = {
        **temporal,
        "stigmer_api_url": settings.stigmer_api_url,
        "stigmer_shutdown_grace_seconds": settings.stigmer_local_shutdown_grace_seconds,
        # Both workers share this process (and one port would clash): no worker probe
        # server and no SDK exporter. The API's /metrics shows every Stigmer metric of the
        # process, the workers' included (one prometheus-client registry).
        "stigmer_observability_port": 0,
    }
    orchestrator_settings = OrchestratorSettings(**worker_overrides)
    runner_settings = RunnerSettings(**worker_overrides)

    components: list[tuple[str, Component]] = [
        ("API", lambda started: serve(api_settings, started=started)),
        ("orchestrator", lambda started: run_orchestrator(orchestrator_settings, started=started)),
        ("runner", lambda started: run_runner(runner_settings, started=started)),
    ]
    for name, component in components:
        task = await _start(name, component, stop)
        running.tasks.append(task)
        if stop.is_set():
            return 0

    _print_banner(console, settings, paths, temporal_note)
    # `run` waits for this too: /readyz alone says nothing about the workers.
    paths.ready_file.write_text(f"{os.getpid()}\n", encoding="ascii")
    try:
        return await _wait_for_end(running, stop)
    finally:
        paths.ready_file.unlink(missing_ok=True)


async def _unless_stopped(awaitable: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Await ``awaitable`` unless ``stop`` is set first; False if stopped."""
    work = asyncio.create_task(awaitable)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not work.done():
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        return False
    work.result()
    return True


async def _start(name: str, component: Component, stop: asyncio.Event) -> asyncio.Task[None]:
    """Start ``component`` as a task and wait until it says it started (or stop is asked)."""
    started = asyncio.Event()
    task = asyncio.create_task(component(started), name=name)
    waiters = {asyncio.create_task(started.wait()), asyncio.create_task(stop.wait())}
    done, _ = await asyncio.wait(
        {task, *waiters}, timeout=_START_TIMEOUT_SECONDS, return_when=asyncio.FIRST_COMPLETED
    )
    for waiter in waiters:
        waiter.cancel()
    if task in done:
        exc = task.exception() if not task.cancelled() else None
        reason = f"{type(exc).__name__}: {exc}" if exc else "it returned"
        raise UnavailableError(f"the {name} stopped while starting ({reason})") from exc
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise UnavailableError(f"the {name} did not start within {_START_TIMEOUT_SECONDS:.0f}s")
    log.info("%s started", name)
    return task


async def _wait_for_end(running: _Running, stop: asyncio.Event) -> int:
    """Wait for a stop signal (exit 0) or for a component or Temporal to die (exit 1)."""
    watched: set[asyncio.Future[Any]] = set(running.tasks)
    stopper = asyncio.create_task(stop.wait())
    watched.add(stopper)
    if running.temporal is not None:
        watched.add(asyncio.create_task(_process_exit(running.temporal)))
    done, pending = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    for other in pending - set(running.tasks):
        other.cancel()
    if stopper in done:
        return 0
    for task in done:
        name = task.get_name() if isinstance(task, asyncio.Task) else "Temporal"
        if isinstance(task, asyncio.Task) and not task.cancelled() and task.exception():
            log.error("%s failed: %r; stopping the server", name, task.exception())
        else:
            log.error("%s stopped unexpectedly; stopping the server", name)
    return 1


async def _process_exit(process: subprocess.Popen[bytes]) -> None:
    # Popen offers no awaitable exit, and a thread blocked in wait() would hold up shutdown.
    while process.poll() is None:  # noqa: ASYNC110
        await asyncio.sleep(1.0)
    log.error("the Temporal dev server exited with code %s", process.returncode)


async def _shut_down(running: _Running, settings: CliSettings, paths: LocalPaths) -> None:
    """Cancel workers, then the API, then stop our Temporal dev server."""
    workers, api = running.tasks[1:], running.tasks[:1]
    timeout = settings.stigmer_local_shutdown_grace_seconds + 5.0
    for group in (workers, api):
        for task in group:
            task.cancel()
        if group:
            done, pending = await asyncio.wait(group, timeout=timeout)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("%s ended with %r", task.get_name(), task.exception())
            for task in pending:
                log.warning("%s did not stop within %.0fs", task.get_name(), timeout)
    if running.temporal is not None:
        await asyncio.to_thread(stop_dev_server, running.temporal, paths=paths)
    log.info("local Stigmer server stopped")


def _print_banner(
    console: Console, settings: CliSettings, paths: LocalPaths, temporal: str
) -> None:
    console.print(f"[bold]Stigmer local server[/bold] ready (pid file {paths.pid_file})")
    console.print(f"  API       {settings.stigmer_api_url}")
    console.print(f"  Temporal  {settings.temporal_host_port} ({temporal})")
    console.print(f"  Store     {paths.store}")
    console.print(f"  Home      {paths.home}")
    console.print("Stop with Ctrl-C or `stigmer server stop`.")
