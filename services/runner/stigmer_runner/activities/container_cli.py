"""Command lines for an OCI engine's CLI (``docker`` or ``podman``): pure, no I/O but paths.

Both CLIs take the same spelling for everything used here. Environment values never appear
on a command line (where ``ps`` would show them to anyone on the host): ``--env NAME`` takes
the value from the CLI's own environment, and a variable whose name the CLI itself needs
(``PATH``, ``HOME``...) goes through an env file instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stigmer_runner.dsl.run_contracts import ContainerRequest

PULL_POLICIES = {"ifNotPresent": "missing", "always": "always", "never": "never"}
RUNNER_LABEL = "io.stigmer.runner"
"""On every container this runner creates, to find leftovers (``--filter label=...``)."""
CLEANUP_AFTER_LABEL = "io.stigmer.cleanup-after"
"""Unix time after which a ``cleanup: eventually`` container may be removed."""

_CLI_ENV_NAMES = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "REGISTRY_AUTH_FILE", "DBUS_SESSION_BUS_ADDRESS",
    }
)  # fmt: skip
_CLI_ENV_PREFIXES = ("DOCKER_", "CONTAINERS_", "CONTAINER_", "PODMAN_", "BUILDAH_", "XDG_")


class ContainerSpecError(ValueError):
    """The request cannot become a container on this runner (the message says why)."""


@dataclass(frozen=True)
class CreateCommand:
    """``<cli> create ...`` and what must accompany it."""

    argv: list[str]
    environment: dict[str, str]
    """The CLI's environment: its own variables plus the values of each ``--env NAME``."""
    env_file: list[str] = field(default_factory=list)
    """Lines (``NAME=value``) of the env file named by ``--env-file {env_file_path}``, for
    variables the CLI needs itself; empty: no env file."""


def cli_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the runner's environment the CLI may need: locale, proxies, engine config.

    The runner's own settings, tokens and secrets are left out.
    """
    return {
        name: value
        for name, value in environ.items()
        if name in _CLI_ENV_NAMES or name.startswith(_CLI_ENV_PREFIXES)
    }


def create_command(
    cli: str,
    request: ContainerRequest,
    *,
    name: str,
    base_environment: Mapping[str, str],
    env_file_path: str,
    network: str | None = None,
    volume_roots: Sequence[Path] = (),
    cleanup_at: float | None = None,
) -> CreateCommand:
    """The ``create`` command for ``request``; ContainerSpecError when it breaks a rule of
    this runner (a volume outside ``volume_roots``, say)."""
    pull = PULL_POLICIES.get(request.pull_policy)
    if pull is None:
        raise ContainerSpecError(f"unknown pull policy {request.pull_policy!r}")
    argv = [cli, "create", "--name", name, "--pull", pull, "--label", f"{RUNNER_LABEL}=true"]
    if cleanup_at is not None:
        argv += ["--label", f"{CLEANUP_AFTER_LABEL}={int(cleanup_at)}"]
    if request.stdin is not None:
        argv.append("--interactive")
    if network:
        argv += ["--network", network]
    for host, container in request.ports.items():
        argv += ["--publish", f"{host}:{container}"]
    for host, container in request.volumes.items():
        argv += ["--volume", f"{_host_path(host, volume_roots)}:{container}"]
    environment = dict(base_environment)
    env_file: list[str] = []
    for variable, value in request.environment.items():
        if variable in base_environment:
            if "\n" in value or "\r" in value:
                raise ContainerSpecError(
                    f"environment variable {variable} holds several lines; the engine's CLI "
                    "uses this name itself, so it goes through an env file, which takes one "
                    "line per variable"
                )
            env_file.append(f"{variable}={value}")
        else:
            environment[variable] = value
            argv += ["--env", variable]
    if env_file:
        argv += ["--env-file", env_file_path]
    argv += [request.image, *request.command, *request.arguments]
    return CreateCommand(argv=argv, environment=environment, env_file=env_file)


def start_command(cli: str, name: str, *, interactive: bool) -> list[str]:
    """Start the created container attached: its output is the CLI's output."""
    return [cli, "start", "--attach", *(["--interactive"] if interactive else []), name]


def exit_code_command(cli: str, name: str) -> list[str]:
    """Print the exit code of the (stopped) container."""
    return [cli, "container", "inspect", "--format", "{{.State.ExitCode}}", name]


def wait_command(cli: str, name: str) -> list[str]:
    """Block until the container stops."""
    return [cli, "wait", name]


def kill_command(cli: str, name: str) -> list[str]:
    """SIGKILL the container at once (``rm --force`` alone gives podman a 10 s grace)."""
    return [cli, "kill", name]


def remove_command(cli: str, name: str) -> list[str]:
    """Remove the container, stopping it first if it still runs."""
    return [cli, "rm", "--force", name]


def _host_path(path: str, roots: Sequence[Path]) -> str:
    """``path`` with symlinks resolved, if it lies under one of ``roots``."""
    if not roots:
        raise ContainerSpecError(
            "volumes are disabled on this runner; list the host directories containers may "
            "mount in STIGMER_RUNNER_CONTAINER_VOLUME_ROOTS"
        )
    resolved = Path(os.path.realpath(path))
    if ":" in str(resolved):
        raise ContainerSpecError(f"volume {path!r} resolves to a path with ':' in it")
    for root in roots:
        base = Path(os.path.realpath(root))
        if resolved == base or base in resolved.parents:
            return str(resolved)
    allowed = ", ".join(str(root) for root in roots)
    raise ContainerSpecError(
        f"volume {path!r} is outside the directories this runner lets containers mount "
        f"(STIGMER_RUNNER_CONTAINER_VOLUME_ROOTS: {allowed})"
    )
