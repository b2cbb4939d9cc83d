"""Pid files refuse a second live supervisor, replace stale ones, and stop by pid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stigmer_cli.local_server import stop_local_server
from stigmer_cli.paths import LocalPaths
from stigmer_cli.pidfile import claimed_pid_file, pid_alive, pid_runs, read_pid, stop_pid
from stigmer_core.errors import ConflictError
from tests.cli.conftest import DummyFactory


def test_claim_writes_and_removes_our_pid(tmp_path: Path) -> None:
    pid_file = tmp_path / "server.pid"
    with claimed_pid_file(pid_file, word="stigmer"):
        assert read_pid(pid_file) == os.getpid()
    assert not pid_file.exists()


def test_claim_refuses_a_live_supervisor(tmp_path: Path, dummy_process: DummyFactory) -> None:
    other = dummy_process("stigmer-server")
    pid_file = tmp_path / "server.pid"
    pid_file.write_text(f"{other.pid}\n")
    with (
        pytest.raises(ConflictError, match=f"already running \\(pid {other.pid}"),
        claimed_pid_file(pid_file, word="stigmer"),
    ):
        pass
    assert read_pid(pid_file) == other.pid


def test_claim_replaces_a_stale_file(tmp_path: Path, dummy_process: DummyFactory) -> None:
    dead = dummy_process("stigmer-server")
    dead.kill()
    dead.wait()
    stranger = dummy_process("unrelated")
    pid_file = tmp_path / "server.pid"
    for content in (f"{dead.pid}\n", f"{stranger.pid}\n", "garbage\n"):
        pid_file.write_text(content)
        with claimed_pid_file(pid_file, word="stigmer"):
            assert read_pid(pid_file) == os.getpid()
    assert stranger.poll() is None


def test_stop_pid_terminates_then_kills(dummy_process: DummyFactory) -> None:
    polite = dummy_process("stigmer-polite")
    stubborn = dummy_process("stigmer-stubborn", ignore_sigterm=True)
    assert stop_pid(polite.pid, grace_seconds=5) is False
    assert stop_pid(stubborn.pid, grace_seconds=0.3) is True
    assert not pid_alive(polite.pid)
    assert not pid_alive(stubborn.pid)


def test_pid_runs_checks_the_command_line(dummy_process: DummyFactory) -> None:
    process = dummy_process("temporal-lookalike")
    assert pid_runs(process.pid, "temporal")
    assert not pid_runs(process.pid, "stigmer")


def test_server_stop_stops_supervisor_and_leftover_temporal(
    tmp_path: Path, dummy_process: DummyFactory
) -> None:
    paths = LocalPaths(tmp_path)
    supervisor = dummy_process("stigmer-server", ignore_sigterm=True)
    temporal = dummy_process("temporal-dev-server")
    paths.pid_file.write_text(f"{supervisor.pid}\n")
    paths.temporal_pid_file.write_text(f"{temporal.pid}\n")

    message = stop_local_server(paths, grace_seconds=0.3)

    assert f"(pid {supervisor.pid}) killed after the grace period" in message
    assert f"Temporal dev server it left behind (pid {temporal.pid})" in message
    assert not pid_alive(supervisor.pid)
    assert not pid_alive(temporal.pid)
    assert not paths.pid_file.exists()
    assert not paths.temporal_pid_file.exists()


def test_server_stop_never_signals_a_stranger(tmp_path: Path, dummy_process: DummyFactory) -> None:
    paths = LocalPaths(tmp_path)
    stranger = dummy_process("unrelated")
    paths.pid_file.write_text(f"{stranger.pid}\n")
    assert stop_local_server(paths, grace_seconds=0.3) == "no local Stigmer server is running"
    assert stranger.poll() is None
    assert not paths.pid_file.exists()
