"""The runner's settings, read once from the environment in `main()`."""

from __future__ import annotations

from stigmer_core.settings import ApiClientSettings, TemporalSettings


class RunnerSettings(TemporalSettings, ApiClientSettings):
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

    stigmer_shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long in-flight activities may take to finish before the worker stops."""
