"""The client side of local mode: find a server, or start one in the background, or stop it.

``run`` and ``apply`` call ``ensure_server`` before anything else. When nothing answers
at a loopback ``STIGMER_API_URL`` they start ``stigmer server`` as a detached process
that outlives the command, so later commands reuse it until ``stigmer server stop``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx
from rich.console import Console

from stigmer_cli.paths import LocalPaths
from stigmer_cli.pidfile import pid_runs, read_pid, stop_pid
from stigmer_cli.settings import CliSettings
from stigmer_cli.temporal_dev import log_tail
from stigmer_cli.urls import is_loopback_url
from stigmer_core.api_client import StigmerClient
from stigmer_core.errors import StigmerError, UnavailableError

SUPERVISOR_WORD = "stigmer"
"""What a supervisor's command line contains (``stigmer server``, ``-m stigmer_cli``)."""


async def server_answers(client: StigmerClient) -> bool:
    """Whether anything answers at the API URL; a "not ready yet" 503 counts as answering."""
    try:
        await client.ready()
    except UnavailableError as exc:
        if isinstance(exc.__cause__, httpx.TransportError):
            return False
    except StigmerError:
        pass
    return True


async def server_ready(client: StigmerClient) -> bool:
    """Whether the API answers ``/readyz`` with success."""
    try:
        await client.ready()
    except StigmerError:
        return False
    return True


async def ensure_server(client: StigmerClient, *, settings: CliSettings, console: Console) -> None:
    """Make sure an API answers at the configured URL, starting the local server if allowed.

    Raises UnavailableError when nothing answers at a remote URL, or when the local
    server does not become ready in time (its log tail is in the message).
    """
    if await server_answers(client):
        return
    url = settings.stigmer_api_url
    if not is_loopback_url(url):
        raise UnavailableError(
            f"cannot reach the Stigmer API at {url}; check STIGMER_API_URL",
            field="STIGMER_API_URL",
        )
    paths = LocalPaths(settings.stigmer_home)
    process = spawn_server(paths)
    timeout = settings.stigmer_local_start_timeout_seconds
    with console.status(f"Starting the local Stigmer server at {url} (log: {paths.log_file})…"):
        await wait_until_ready(client, process=process, paths=paths, timeout=timeout)
    console.print(f"Local Stigmer server started at {url} (pid {process.pid}).")


def spawn_server(paths: LocalPaths) -> subprocess.Popen[bytes]:
    """Start ``python -m stigmer_cli server`` detached, its output appended to ``server.log``.

    The child gets its own session so it survives this command and the terminal's Ctrl-C.
    The caller does not wait for it: it runs until ``stigmer server stop``.
    """
    paths.ensure_home()
    env = dict(os.environ)
    env["STIGMER_HOME"] = str(paths.home)
    # The log file is not a terminal; people read it, so prefer plain lines to JSON.
    env.setdefault("STIGMER_LOG_FORMAT", "console")
    with paths.log_file.open("ab") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "stigmer_cli", "server"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


async def wait_until_ready(
    client: StigmerClient,
    *,
    process: subprocess.Popen[bytes],
    paths: LocalPaths,
    timeout: float,
) -> None:
    """Poll ``/readyz`` until it succeeds; fail early if the server exits, or at ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (_supervisor_ready(paths) and await server_ready(client)):
        if process.poll() is not None and not _another_supervisor(paths, process.pid):
            raise UnavailableError(
                f"the local Stigmer server exited with code {process.returncode}; "
                f"last lines of {paths.log_file}:\n{log_tail(paths.log_file)}"
            )
        if time.monotonic() >= deadline:
            raise UnavailableError(
                f"the local Stigmer server was not ready within {timeout:.0f}s "
                f"(it keeps starting in the background; `stigmer server stop` stops it); "
                f"last lines of {paths.log_file}:\n{log_tail(paths.log_file)}"
            )
        await asyncio.sleep(0.25)


def _supervisor_ready(paths: LocalPaths) -> bool:
    # The API answers before the workers start; the supervisor marks when all have.
    pid = read_pid(paths.ready_file)
    return pid is not None and pid == read_pid(paths.pid_file) and pid_runs(pid, SUPERVISOR_WORD)


def _another_supervisor(paths: LocalPaths, ours: int) -> bool:
    # Two commands may race to start a server: ours exits when the other one won.
    other = read_pid(paths.pid_file)
    return other is not None and other != ours and pid_runs(other, SUPERVISOR_WORD)


def stop_local_server(paths: LocalPaths, *, grace_seconds: float) -> str:
    """Stop the supervisor in the pid file (and a Temporal it left behind); say what happened."""
    pid = read_pid(paths.pid_file)
    if pid is None or not pid_runs(pid, SUPERVISOR_WORD):
        paths.pid_file.unlink(missing_ok=True)
        message = "no local Stigmer server is running"
    else:
        killed = stop_pid(pid, grace_seconds=grace_seconds)
        paths.pid_file.unlink(missing_ok=True)
        paths.ready_file.unlink(missing_ok=True)
        how = "killed after the grace period" if killed else "stopped"
        message = f"local Stigmer server (pid {pid}) {how}"
    # The supervisor stops its Temporal dev server on SIGTERM; a SIGKILL leaves it behind.
    temporal = read_pid(paths.temporal_pid_file)
    if temporal is not None and pid_runs(temporal, "temporal"):
        stop_pid(temporal, grace_seconds=10.0)
        message += f"; stopped the Temporal dev server it left behind (pid {temporal})"
    paths.temporal_pid_file.unlink(missing_ok=True)
    return message
