"""The Temporal SDK runtime of a worker process, exporting the SDK's metrics to Prometheus.

The SDK's exporter is a server of its own inside the Rust core; it listens on a loopback port
picked here, and the worker's own `/metrics` reads it back (stigmer_core.observability.server),
so a pod is one scrape target. One runtime per process: each one starts a thread pool.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from stigmer_core.errors import UnavailableError

log = logging.getLogger(__name__)

_BIND_ATTEMPTS = 5


@dataclass(frozen=True)
class SdkMetrics:
    """A runtime whose metrics are served at ``url`` (loopback only)."""

    runtime: Runtime
    url: str


def prometheus_config(bind_address: str) -> PrometheusConfig:
    """Conventional Prometheus names: `_total` counters, `_seconds` histograms in seconds."""
    return PrometheusConfig(
        bind_address=bind_address,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )


def sdk_metrics_runtime() -> SdkMetrics:
    """A runtime exporting on a free loopback port.

    The exporter cannot be asked which port it bound, so a free one is picked first; another
    process may take it in between, hence the few attempts.
    """
    error: Exception | None = None
    for _ in range(_BIND_ATTEMPTS):
        port = _free_loopback_port()
        address = f"127.0.0.1:{port}"
        try:
            runtime = Runtime(telemetry=TelemetryConfig(metrics=prometheus_config(address)))
        except ValueError as exc:  # "Failed starting Prometheus exporter: Address already in use"
            error = exc
            continue
        log.debug("Temporal SDK metrics exported on %s", address)
        return SdkMetrics(runtime=runtime, url=f"http://{address}/metrics")
    raise UnavailableError(f"could not start the Temporal SDK's metrics exporter: {error}")


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
