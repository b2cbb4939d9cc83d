"""Metrics and probes shared by every process: the Temporal SDK runtime exporting to
Prometheus, `stigmer_build_info`, and the workers' `/metrics`, `/healthz`, `/readyz` server.

Stigmer's own metrics are prometheus-client objects on its default registry, defined next to
the code that records them (stigmer_api.metrics, stigmer_runner.metrics).
"""

from stigmer_core.observability.exposition import (
    CONTENT_TYPE,
    record_build_info,
    stigmer_metrics,
)
from stigmer_core.observability.readiness import Readiness, WorkerReadiness, WorkerState
from stigmer_core.observability.worker import WorkerObservability

__all__ = [
    "CONTENT_TYPE",
    "Readiness",
    "WorkerObservability",
    "WorkerReadiness",
    "WorkerState",
    "record_build_info",
    "stigmer_metrics",
]
