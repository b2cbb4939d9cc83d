"""Command lines for the engine's CLI, built from a ``run: container`` request: no engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stigmer_runner.activities.container_cli import (
    CLEANUP_AFTER_LABEL,
    RUNNER_LABEL,
    ContainerSpecError,
    cli_environment,
    create_command,
    exit_code_command,
    remove_command,
    start_command,
)
from stigmer_runner.dsl.run_contracts import ContainerRequest

BASE = {"PATH": "/usr/bin", "HOME": "/root"}


def request(**fields: Any) -> ContainerRequest:
    return ContainerRequest(task="task 't' (/do/0/t)", image="busybox:1.36", **fields)


def test_the_full_request_becomes_one_create_command() -> None:
    command = create_command(
        "podman",
        request(
            command=["sh", "-c", 'echo "$1"'],
            arguments=["sh", "a b"],
            ports={"8080": "80", "127.0.0.1:9090": "90/udp"},
            stdin="in",
            pull_policy="never",
        ),
        name="c1",
        base_environment=BASE,
        env_file_path="/tmp/x/env",
        network="none",
        cleanup_at=1700000000.5,
    )
    assert command.argv == [
        "podman", "create", "--name", "c1", "--pull", "never",
        "--label", f"{RUNNER_LABEL}=true", "--label", f"{CLEANUP_AFTER_LABEL}=1700000000",
        "--interactive", "--network", "none",
        "--publish", "8080:80", "--publish", "127.0.0.1:9090:90/udp",
        "busybox:1.36", "sh", "-c", 'echo "$1"', "sh", "a b",
    ]  # fmt: skip
    assert command.env_file == []


def test_environment_values_never_reach_the_command_line() -> None:
    command = create_command(
        "docker",
        request(environment={"TOKEN": "s3cr3t", "PATH": "/opt/bin", "KEY": "line1\nline2"}),
        name="c",
        base_environment=BASE,
        env_file_path="/tmp/x/env",
    )
    assert not any("s3cr3t" in arg or "/opt/bin" in arg or "line1" in arg for arg in command.argv)
    # Names only: the CLI reads each value from its own environment...
    assert command.argv.count("--env") == 2
    assert command.argv[command.argv.index("TOKEN") - 1 :][:2] == ["--env", "TOKEN"]
    assert command.environment == {**BASE, "TOKEN": "s3cr3t", "KEY": "line1\nline2"}
    # ...except a name the CLI needs itself, which goes through the private env file.
    assert command.env_file == ["PATH=/opt/bin"]
    assert command.argv[command.argv.index("--env-file") + 1] == "/tmp/x/env"
    assert command.environment["PATH"] == "/usr/bin"


def test_a_multiline_value_for_a_name_the_cli_uses_is_refused() -> None:
    with pytest.raises(ContainerSpecError, match="HOME holds several lines"):
        create_command(
            "docker",
            request(environment={"HOME": "a\nb"}),
            name="c",
            base_environment=BASE,
            env_file_path="/e",
        )


def test_volumes_need_allowed_roots(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "escape").symlink_to("/etc")
    with pytest.raises(ContainerSpecError, match="STIGMER_RUNNER_CONTAINER_VOLUME_ROOTS"):
        create_command(
            "podman",
            request(volumes={str(data): "/data"}),
            name="c",
            base_environment={},
            env_file_path="/e",
        )
    command = create_command(
        "podman",
        request(volumes={str(data): "/data:ro"}),
        name="c",
        base_environment={},
        env_file_path="/e",
        volume_roots=(tmp_path,),
    )
    assert command.argv[command.argv.index("--volume") + 1] == f"{data}:/data:ro"
    # A symlink out of an allowed root is judged by where it leads.
    with pytest.raises(ContainerSpecError, match="outside the directories"):
        create_command(
            "podman",
            request(volumes={str(tmp_path / "escape"): "/etc"}),
            name="c",
            base_environment={},
            env_file_path="/e",
            volume_roots=(tmp_path,),
        )


def test_pull_policies_map_to_the_cli_spelling() -> None:
    def pull(policy: str) -> str:
        argv = create_command(
            "docker", request(pull_policy=policy), name="c", base_environment={}, env_file_path=""
        ).argv
        return argv[argv.index("--pull") + 1]

    assert [pull(p) for p in ("ifNotPresent", "always", "never")] == ["missing", "always", "never"]
    with pytest.raises(ContainerSpecError, match="unknown pull policy"):
        pull("sometimes")


def test_the_cli_sees_only_its_own_part_of_the_runner_environment() -> None:
    environ = {
        "PATH": "/bin",
        "DOCKER_HOST": "unix:///x",
        "CONTAINERS_CONF": "/c.conf",
        "XDG_RUNTIME_DIR": "/run/user/0",
        "STIGMER_SECRET_DB": "pw",
        "STIGMER_RUNNER_TOKEN": "tok",
        "AWS_SECRET_ACCESS_KEY": "k",
    }
    assert cli_environment(environ) == {
        "PATH": "/bin",
        "DOCKER_HOST": "unix:///x",
        "CONTAINERS_CONF": "/c.conf",
        "XDG_RUNTIME_DIR": "/run/user/0",
    }


def test_lifecycle_commands() -> None:
    assert start_command("docker", "c", interactive=True) == [
        "docker", "start", "--attach", "--interactive", "c",
    ]  # fmt: skip
    assert start_command("docker", "c", interactive=False) == ["docker", "start", "--attach", "c"]
    assert exit_code_command("podman", "c")[-3:] == ["--format", "{{.State.ExitCode}}", "c"]
    assert remove_command("podman", "c") == ["podman", "rm", "--force", "c"]
