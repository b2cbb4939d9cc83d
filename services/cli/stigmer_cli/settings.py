"""The CLI's settings, read once from the environment when a command starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from stigmer_core.settings import ApiClientSettings, TemporalSettings


def _default_home() -> Path:
    return Path.home() / ".stigmer"


class CliSettings(TemporalSettings, ApiClientSettings):
    stigmer_home: Path = Field(default_factory=_default_home)
    """Local mode's files (pid file, logs, embedded store, Temporal db); default `~/.stigmer`."""

    stigmer_local_start_timeout_seconds: float = 60.0
    """How long `run`/`apply` wait for a local server they started to become ready."""

    stigmer_watch_reconnects: int = 5
    """How many times a dropped event stream is reopened before the CLI gives up."""

    stigmer_local_shutdown_grace_seconds: float = 10.0
    """Local mode: how long workers may finish in-flight work when the server stops."""

    stigmer_codec_server_token: SecretStr | None = None
    """Bearer token `stigmer codec-server` requires of Temporal's UI and CLI; needed when it
    listens on a non-loopback interface."""
