"""The runner's settings, read once from the environment in `main()`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from stigmer_core.settings import ApiClientSettings, ObservabilitySettings, TemporalSettings


class ClientCertificate(BaseModel):
    """Files of the client certificate the runner presents to one host (mutual TLS)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    certificate: Path
    """PEM file of the client certificate, followed by any intermediate certificates."""

    key: Path | None = None
    """PEM file of its (unencrypted) private key; unset when `certificate` holds the key too."""

    ca: Path | None = None
    """PEM bundle of the CAs trusted to sign the server's certificate; unset: the public CAs."""


class RunnerSettings(TemporalSettings, ApiClientSettings, ObservabilitySettings):
    stigmer_runner_max_concurrent_activities: int = 100
    """Activity slots of this runner (HTTP calls, status reports)."""

    stigmer_runner_max_concurrent_workflow_tasks: int = 100
    """Workflow task slots of this runner (DSL interpretation steps)."""

    stigmer_runner_task_heartbeat_seconds: float = 30.0
    """Heartbeat timeout of long task activities: how soon a dead runner's work moves on."""

    stigmer_runner_task_timeout_seconds: float = 300.0
    """Default start-to-close timeout of one task activity (an HTTP call, say)."""

    stigmer_runner_http_timeout_seconds: float = 60.0
    """Default timeout of one HTTP request made by a `call: http` task."""

    stigmer_runner_iterations_per_run: int = 0
    """Continue a DSL run as new after this many `for` loop iterations (of loops in the
    document's `do`, in `do` tasks and in loop bodies, counted together), which keeps Temporal
    histories short; 0 leaves it to Temporal's own suggestion."""

    stigmer_runner_default_catalog_url: str | None = None
    """Root URL of the DSL's default function catalog: `call: name:version@default` runs the
    task at `<url>/functions/<name>/<version>/function.yaml`. Unset: no default catalog
    (a workflow's own `use.catalogs.default` still works)."""

    stigmer_shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long in-flight activities may take to finish before the worker stops."""

    stigmer_runner_allow_shell: bool = False
    """Allow `run: shell` tasks. Off by default: a shell command runs with the runner's
    privileges on the runner's host."""

    stigmer_runner_allow_script: bool = False
    """Allow `run: script` tasks (python with the runner's interpreter, js with `node`)."""

    stigmer_runner_process_timeout_seconds: float = 60.0
    """Longest run of one shell command, script or container (its image pull included); then
    the process group is killed, or the container killed and removed. Keep it below
    `STIGMER_RUNNER_TASK_TIMEOUT_SECONDS`."""

    stigmer_runner_process_output_limit_bytes: int = 1024 * 1024
    """Most bytes kept of a process's (or container's) stdout and of its stderr; the rest is
    dropped and the output is marked truncated."""

    stigmer_runner_container_runtime: str | None = None
    """The OCI engine's CLI that runs `run: container` tasks: `docker`, `podman`, or a path to
    either. Unset: `run: container` is refused with a configuration error. The CLI sees only
    its own part of the runner's environment (`DOCKER_*`, `CONTAINERS_*`, `XDG_*`, proxies,
    `PATH`, `HOME`...)."""

    stigmer_runner_container_network: str | None = None
    """`--network` of every container (`none`, `host`, a network name); unset: the engine's
    default."""

    stigmer_runner_container_volume_roots: list[Path] = []
    """Host directories under which `run: container` volumes may be mounted (a JSON list,
    e.g. `["/srv/shared"]`); empty: tasks with `volumes` are refused."""

    stigmer_runner_secrets_dir: Path | None = None
    """Directory of secrets (a mounted volume): one file per secret, named after it, holding
    plain text, JSON or YAML (`name`, `name.json`, `name.yaml` or `name.yml`)."""

    stigmer_runner_secret_env_prefix: str = "STIGMER_SECRET_"
    """Environment variables with this prefix are secrets: `STIGMER_SECRET_DB_PASSWORD` is the
    secret `db_password` (or `db-password`, `DB_PASSWORD`...); a JSON object or array value
    is parsed. They win over files of the same name."""

    stigmer_runner_client_certificates: dict[str, ClientCertificate] = {}
    """Client certificates (mutual TLS) for HTTPS requests of tasks, as JSON mapping `host` or
    `host:port` to `{"certificate": path, "key": path, "ca": path}` (`key`, `ca` optional).
    Every request to that host (`call: http`, `call: openapi`, document fetches) presents the
    certificate. Files are read once at start; their content never leaves the runner."""
