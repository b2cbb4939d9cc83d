"""Connecting workers to Temporal: keep trying, so workers may start before Temporal."""

from __future__ import annotations

import asyncio
import logging

from temporalio.client import Client

from stigmer_core.settings import TemporalSettings

log = logging.getLogger(__name__)


async def connect_with_retry(
    settings: TemporalSettings, *, attempt_timeout: float = 5.0, max_delay: float = 30.0
) -> Client:
    """Connect, retrying with capped exponential backoff until it works or we are cancelled."""
    delay = 0.5
    while True:
        try:
            return await asyncio.wait_for(
                Client.connect(settings.temporal_host_port, namespace=settings.temporal_namespace),
                timeout=attempt_timeout,
            )
        except (RuntimeError, TimeoutError, OSError) as exc:
            log.warning(
                "Temporal at %s not reachable (%s); retrying in %.1fs",
                settings.temporal_host_port,
                exc or type(exc).__name__,
                delay,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_delay)
