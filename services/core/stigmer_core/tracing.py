"""Tracing set-up: one OpenTelemetry TracerProvider per process, from the standard OTEL_*
variables, built in each service's ``main()`` and passed down.

Off (None: no provider, no exporter, no span is ever made) unless an OTLP endpoint is
configured. Everything else the SDK reads from the environment itself, as the
OpenTelemetry specification defines it: the sampler (``OTEL_TRACES_SAMPLER``,
``OTEL_TRACES_SAMPLER_ARG``), the resource (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``), the exporter's headers, timeout, compression and
certificates (``OTEL_EXPORTER_OTLP_*``) and the batch processor (``OTEL_BSP_*``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Literal

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

TRACER_NAME = "stigmer"


class TracingSettings(BaseSettings):
    """The OTEL_* variables that decide whether tracing is on (names from the OpenTelemetry
    specification, so they are not prefixed STIGMER_)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, use_attribute_docstrings=True)

    otel_sdk_disabled: bool = False
    """`true` turns tracing off whatever else is set."""

    otel_traces_exporter: str = "otlp"
    """`otlp` (the only exporter Stigmer ships) or `none`."""

    otel_exporter_otlp_endpoint: str | None = None
    """Base URL of an OTLP/HTTP receiver (a collector); spans go to `<url>/v1/traces`.
    Unset (and no traces endpoint): tracing is off."""

    otel_exporter_otlp_traces_endpoint: str | None = None
    """Full URL that receives spans; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`."""

    otel_exporter_otlp_protocol: Literal["http/protobuf"] = "http/protobuf"
    """Stigmer exports OTLP over HTTP with protobuf bodies only."""

    otel_exporter_otlp_traces_protocol: Literal["http/protobuf"] | None = None
    """As `OTEL_EXPORTER_OTLP_PROTOCOL`, for traces only."""

    @property
    def enabled(self) -> bool:
        endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
        return (
            not self.otel_sdk_disabled
            and self.otel_traces_exporter.strip().lower() != "none"
            and bool(endpoint and endpoint.strip())
        )


def tracer_provider(settings: TracingSettings, *, service: str) -> TracerProvider | None:
    """The process's provider, exporting in batches over OTLP/HTTP; None when tracing is off.

    ``service`` names the process unless ``OTEL_SERVICE_NAME`` (or ``service.name`` in
    ``OTEL_RESOURCE_ATTRIBUTES``) says otherwise.
    """
    if not settings.enabled:
        return None
    # Imported here: the exporter (and its protobuf and requests) is only loaded when used.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    log.info(
        "tracing on: spans of %s go to %s",
        resource.attributes.get(SERVICE_NAME),
        settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint,
    )
    return provider


async def shut_down_after(main: Coroutine[Any, Any, None], provider: TracerProvider | None) -> None:
    """Run ``main``; then export the spans still buffered and stop the provider.

    Processes end with ``os._exit`` (see ``stigmer_core.process``), which skips exit hooks,
    so the flush has to happen here, inside the service coroutine.
    """
    try:
        await main
    finally:
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)
