"""The orchestrator's settings, read once from the environment in `main()`."""

from __future__ import annotations

from stigmer_core.settings import ApiClientSettings, ObservabilitySettings, TemporalSettings


class OrchestratorSettings(TemporalSettings, ApiClientSettings, ObservabilitySettings):
    stigmer_orchestrator_max_concurrent_workflow_tasks: int = 100
    """Workflow task slots of this worker."""

    stigmer_shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long in-flight work may take to finish before the worker stops."""
