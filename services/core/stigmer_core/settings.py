"""Settings shared by several services, read from the environment.

Each service composes these blocks into its own `pydantic-settings` class and reads it
once in `main()`. Field names are the environment variable names (case-insensitive),
so `temporal_host_port` is `TEMPORAL_HOST_PORT`; the reference is docs/configuration.md.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stigmer_core.payload_keys import parse_key, parse_keys


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class StigmerSettings(BaseSettings):
    """Base of every service's settings: unknown variables are ignored, values validated."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    stigmer_log_level: str = "INFO"
    """Log level for Stigmer's loggers (DEBUG, INFO, WARNING, ERROR)."""

    stigmer_log_format: LogFormat = LogFormat.AUTO
    """`json` for log collectors, `console` for people; `auto` picks console on a TTY."""


class TemporalSettings(StigmerSettings):
    temporal_host_port: str = "localhost:7233"
    """Address of the Temporal frontend (host:port)."""

    temporal_namespace: str = "default"
    """Temporal namespace that holds Stigmer's workflows."""

    temporal_workflow_execution_stigmer_task_queue: str = "workflow_execution_stigmer"
    """Task queue of the orchestrator (the invoke workflow)."""

    temporal_workflow_execution_runner_task_queue: str = "workflow_execution_runner"
    """Task queue of the runners (ExecuteWorkflow, the DSL workflow and its task activities)."""

    stigmer_payload_key: SecretStr | None = None
    """Key that encrypts every Temporal payload (AES-256-GCM), written
    `<key id>:<base64 of 32 bytes>`. Unset (and no keys file): payloads, `$secrets` values
    included, are stored in Temporal in clear. The API, orchestrator, runners and local mode
    must all have the same keys."""

    stigmer_payload_previous_keys: SecretStr | None = None
    """Older payload keys, comma-separated `<key id>:<base64>`: they only decrypt, so what
    they encrypted before a rotation stays readable."""

    stigmer_payload_keys_file: Path | None = None
    """File of payload keys (a mounted secret), one `<key id>:<base64>` per line: the first
    encrypts, all decrypt. Instead of `STIGMER_PAYLOAD_KEY` and
    `STIGMER_PAYLOAD_PREVIOUS_KEYS`; read once at start."""

    @field_validator("stigmer_payload_key")
    @classmethod
    def _key_is_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_key(value.get_secret_value())
        return value

    @field_validator("stigmer_payload_previous_keys")
    @classmethod
    def _keys_are_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_keys(value.get_secret_value())
        return value


class ObservabilitySettings(StigmerSettings):
    stigmer_observability_port: int = Field(9464, ge=0, le=65535)
    """Port of the worker's `/metrics`, `/healthz` and `/readyz` (orchestrator and runner);
    0 turns the server and the Temporal SDK's metrics off. The API serves them on its own
    port."""

    stigmer_observability_host: str = "0.0.0.0"
    """Interface the worker's metrics and probes server binds to."""


class ApiClientSettings(StigmerSettings):
    stigmer_api_url: str = "http://127.0.0.1:8234"
    """Base URL of the Stigmer API, as the runner, orchestrator and CLI reach it."""

    stigmer_api_token: SecretStr | None = None
    """Bearer token of users (CLI). Unset: no Authorization header is sent."""

    stigmer_runner_token: SecretStr | None = None
    """Bearer token runners and the orchestrator use for status updates."""

    stigmer_api_timeout_seconds: float = 30.0
    """Timeout of one HTTP request to the API."""
