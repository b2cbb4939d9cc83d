"""``stigmer-operator``: the runner autoscaling operator (kopf, with peering)."""

from __future__ import annotations

import asyncio
import logging

import kopf
from prometheus_client import start_http_server

from stigmer_core.logs import configure_logging
from stigmer_operator import handlers
from stigmer_operator.metrics import Metrics
from stigmer_operator.settings import OperatorSettings

log = logging.getLogger(__name__)


def operator_memo(settings: OperatorSettings, metrics: Metrics) -> kopf.Memo:
    """The operator-wide memo; the start-up handler adds the clients."""
    return kopf.Memo(settings=settings, metrics=metrics)


async def run(
    settings: OperatorSettings,
    *,
    metrics: Metrics,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set (or a signal arrives)."""
    namespaces = settings.stigmer_operator_namespaces
    await kopf.operator(
        registry=handlers.REGISTRY,
        clusterwide=not namespaces,
        namespaces=namespaces,
        # An explicit peering name makes the peering object mandatory, even standalone.
        standalone=settings.stigmer_operator_standalone,
        peering_name=(
            None if settings.stigmer_operator_standalone else settings.stigmer_operator_peering
        ),
        liveness_endpoint=f"http://0.0.0.0:{settings.stigmer_operator_liveness_port}/healthz",
        memo=operator_memo(settings, metrics),
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def main() -> None:
    settings = OperatorSettings()
    configure_logging(settings.stigmer_log_level, settings.stigmer_log_format)
    metrics = Metrics()
    start_http_server(
        settings.stigmer_observability_port,
        addr=settings.stigmer_observability_host,
        registry=metrics.registry,
    )
    log.info(
        "stigmer-operator: metrics on :%d, namespaces %s",
        settings.stigmer_observability_port,
        ",".join(settings.stigmer_operator_namespaces) or "(all)",
    )
    asyncio.run(run(settings, metrics=metrics))
