"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from stigmer_api.services import Services, services
from stigmer_core.errors import UnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Ready: store and bus reachable; Temporal reported")
async def readyz(svc: Services = Depends(services)) -> JSONResponse:
    """200 when the store and the bus answer. Temporal is reported but does not fail
    readiness (unless `STIGMER_READINESS_REQUIRES_TEMPORAL`): without it the API still
    accepts executions, which wait in PENDING."""

    async def check(probe: Awaitable[None]) -> str:
        try:
            await asyncio.wait_for(probe, timeout=3)
        except (UnavailableError, TimeoutError, OSError) as exc:
            return f"unavailable: {exc or type(exc).__name__}"
        return "ok"

    store, bus = await asyncio.gather(check(svc.store.ping()), check(svc.bus.ping()))
    temporal = "ok" if await svc.dispatcher.ping() else "unavailable"
    ready = store == "ok" and bus == "ok"
    if svc.settings.stigmer_readiness_requires_temporal:
        ready = ready and temporal == "ok"
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {"store": store, "bus": bus, "temporal": temporal},
    }
    return JSONResponse(body, status_code=200 if ready else 503)
