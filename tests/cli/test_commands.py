"""Command-line parsing, help and exit codes of paths that need no running server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stigmer_cli.main import app
from tests.cli.conftest import DummyFactory
from tests.services import free_port

EXIT_CODES_TEXT = "2 bad usage or invalid workflow, 3 CANCELLED, 4 server unreachable"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Settings pointing at a loopback port nothing listens on, and a private home."""
    return {
        "STIGMER_API_URL": f"http://127.0.0.1:{free_port()}",
        "STIGMER_HOME": str(tmp_path / "home"),
        "STIGMER_API_TOKEN": "",
        "COLUMNS": "200",
    }


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env)
    # Expected errors are a message and an exit code, never an exception.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],
        ["watch"],
        ["apply"],
        ["get"],
        ["cancel"],
        ["list", "workflows"],
        ["list", "executions"],
        ["server"],
        ["server", "stop"],
        ["server", "status"],
        ["codec-server"],
    ],
)
def test_every_command_explains_itself(args: list[str], env: dict[str, str]) -> None:
    code, out, _ = invoke([*args, "--help"], env)
    assert code == 0
    assert "Usage: stigmer" in out
    assert len(out.split("\n")) > 8


@pytest.mark.parametrize("args", [[], ["run"], ["watch"]])
def test_exit_codes_are_in_the_help(args: list[str], env: dict[str, str]) -> None:
    _, out, _ = invoke([*args, "--help"], env)
    assert EXIT_CODES_TEXT in " ".join(out.split())


def test_run_help_documents_its_options(env: dict[str, str]) -> None:
    _, out, _ = invoke(["run", "--help"], env)
    for option in ("--input", "--env", "--no-follow", "--output", "JSON|@FILE", "KEY=VALUE"):
        assert option in out


def test_bad_input_json_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    code, out, err = invoke(["run", "wfl-01JD0000000000000000000000", "--input", "{oops"], env)
    assert code == 2
    assert out == ""
    assert "error: --input: inline JSON is not valid JSON" in err
    assert "field: --input" in err
    # Checked before any network call, so no local server was started for it.
    assert not (tmp_path / "home" / "server.pid").exists()


def test_missing_input_file(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = invoke(["run", "hello", "--input", f"@{tmp_path / 'nope.json'}"], env)
    assert code == 2
    assert "no such file" in err


def test_bad_env_pair(env: dict[str, str]) -> None:
    code, _, err = invoke(["run", "hello", "--env", "NOVALUE"], env)
    assert code == 2
    assert "--env takes KEY=VALUE" in err


def test_missing_workflow_file(env: dict[str, str]) -> None:
    code, _, err = invoke(["run", "./missing.yaml"], env)
    assert code == 2
    assert "no such file: ./missing.yaml" in err
    code, _, err = invoke(["apply", "-f", "missing.yaml"], env)
    assert code == 2
    assert "field: --file" in err


def test_unknown_option_is_usage(env: dict[str, str]) -> None:
    code, _, _ = invoke(["run", "hello", "--bogus"], env)
    assert code == 2


def test_bad_output_format_is_usage(env: dict[str, str]) -> None:
    code, _, _ = invoke(["get", "wex-01JD0000000000000000000000", "-o", "xml"], env)
    assert code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["get", "exec-123"], "not a Stigmer id: 'exec-123'"),
        (["watch", "wfl-01JD0000000000000000000000"], "not an execution id"),
        (["cancel", "nope"], "not an execution id"),
    ],
)
def test_malformed_ids(args: list[str], message: str, env: dict[str, str]) -> None:
    code, _, err = invoke(args, env)
    assert code == 2
    assert message in err
    assert "field: ID" in err


@pytest.mark.parametrize(
    "args",
    [
        ["get", "wex-01JD0000000000000000000000"],
        ["list", "executions"],
        ["list", "workflows"],
        ["watch", "wex-01JD0000000000000000000000"],
        ["cancel", "wex-01JD0000000000000000000000"],
    ],
)
def test_unreachable_server_is_exit_4_and_starts_nothing(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> None:
    code, _, err = invoke(args, {**env, "STIGMER_WATCH_RECONNECTS": "0"})
    assert code == 4
    assert f"cannot reach the Stigmer API at {env['STIGMER_API_URL']}" in err or "lost" in err
    assert "Traceback" not in err
    # Only run and apply start a local server.
    assert not (tmp_path / "home").exists()


def test_invalid_setting_names_the_variable(env: dict[str, str]) -> None:
    code, _, err = invoke(["list", "workflows"], {**env, "STIGMER_API_TIMEOUT_SECONDS": "soon"})
    assert code == 2
    assert "STIGMER_API_TIMEOUT_SECONDS" in err


def test_server_refuses_to_run_twice(
    env: dict[str, str], tmp_path: Path, dummy_process: DummyFactory
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    other = dummy_process("stigmer-server")
    (home / "server.pid").write_text(f"{other.pid}\n")
    code, _, err = invoke(["server"], env)
    assert code == 2
    assert f"already running (pid {other.pid}" in err
    assert other.poll() is None


def test_server_refuses_a_remote_url(env: dict[str, str]) -> None:
    code, _, err = invoke(["server"], {**env, "STIGMER_API_URL": "http://10.1.2.3:8234"})
    assert code == 2
    assert "loopback" in err


def test_server_refuses_an_unreadable_payload_keys_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-keys"
    code, _, err = invoke(["server"], {**env, "STIGMER_PAYLOAD_KEYS_FILE": str(missing)})
    assert code == 2
    assert f"cannot read the payload keys file {missing}" in err
    assert "STIGMER_PAYLOAD_KEYS_FILE" in err


def test_server_status_without_server(env: dict[str, str]) -> None:
    code, out, _ = invoke(["server", "status"], env)
    assert code == 4
    assert "not running" in out
    assert "unreachable" in out


def test_server_stop_without_server(env: dict[str, str]) -> None:
    code, out, _ = invoke(["server", "stop"], env)
    assert code == 0
    assert "no local Stigmer server is running" in out


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stigmer_cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )
    assert done.returncode == 0
    assert "Usage:" in done.stdout


def test_codec_server_without_a_key_says_there_is_nothing_to_decode(env: dict[str, str]) -> None:
    code, _, err = invoke(["codec-server"], {**env, "STIGMER_PAYLOAD_KEY": ""})
    assert code == 2
    assert "no payload key is configured" in err
    assert "STIGMER_PAYLOAD_KEY" in err


def test_codec_server_off_loopback_needs_a_token(env: dict[str, str]) -> None:
    key = "k1:" + "A" * 43 + "="
    code, _, err = invoke(
        ["codec-server", "--host", "0.0.0.0"],
        {**env, "STIGMER_PAYLOAD_KEY": key, "STIGMER_CODEC_SERVER_TOKEN": ""},
    )
    assert code == 2
    assert "STIGMER_CODEC_SERVER_TOKEN" in err
