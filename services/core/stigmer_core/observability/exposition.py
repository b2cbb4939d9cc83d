"""Prometheus text of this process: Stigmer's metrics (prometheus-client's default registry),
then, in a worker, the Temporal SDK's."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

# prometheus-client adds a `<name>_created` gauge (a timestamp) to every counter and histogram
# series; Prometheus has no use for it in the text format, and it doubles the series count.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Both parts are written in the classic text format; prometheus-client's default content type
# announces a newer format version that the SDK's exporter does not claim.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

BUILD_INFO = Gauge(
    "stigmer_build_info",
    "1 for every running Stigmer process, labelled with its component and version.",
    # Not `service`: Prometheus Operator attaches a `service` target label, which would
    # rename this one to `exported_service` and break every dashboard filter on it.
    ["component", "version"],
)


def stigmer_version() -> str:
    try:
        return version("stigmer")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def record_build_info(service: str) -> None:
    """Set `stigmer_build_info{component, version}` to 1 (local mode sets it once per
    component)."""
    BUILD_INFO.labels(component=service, version=stigmer_version()).set(1)


def stigmer_metrics(registry: CollectorRegistry = REGISTRY) -> bytes:
    return generate_latest(registry)


def merged(stigmer: bytes, sdk: bytes | None, *, sdk_error: str | None = None) -> bytes:
    """One exposition from both parts; a failed SDK scrape becomes a comment, not a 500,
    so Stigmer's own metrics stay visible while the SDK's exporter is unwell."""
    parts = [stigmer if stigmer.endswith(b"\n") or not stigmer else stigmer + b"\n"]
    if sdk is not None:
        parts.append(sdk if sdk.endswith(b"\n") or not sdk else sdk + b"\n")
    elif sdk_error is not None:
        comment = sdk_error.replace("\n", " ")
        parts.append(f"# Temporal SDK metrics unavailable: {comment}\n".encode())
    return b"".join(parts)
