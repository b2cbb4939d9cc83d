"""GET /metrics: this process's metrics in Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from stigmer_core.observability.exposition import CONTENT_TYPE, stigmer_metrics

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics() -> Response:
    """Stigmer's metrics in Prometheus' text format; no token needed, like the probes."""
    return Response(stigmer_metrics(), media_type=CONTENT_TYPE)
