"""Domain errors to HTTP responses, in one place. Bodies are JSON; never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stigmer_core.errors import (
    ConflictError,
    DispatchFailedError,
    ForbiddenError,
    NotFoundError,
    StigmerError,
    UnauthorizedError,
    UnavailableError,
    ValidationFailedError,
)

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[StigmerError], int]] = [
    (ValidationFailedError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),  # TerminalPhaseError included
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (DispatchFailedError, 502),
    (UnavailableError, 503),
]


def status_for(error: StigmerError) -> int:
    return next((code for cls, code in STATUS_BY_ERROR if isinstance(error, cls)), 500)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StigmerError)
    async def _domain(_: Request, exc: StigmerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, UnauthorizedError) else None
        return JSONResponse(exc.to_body(), status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        # loc is ("body", "input", ...) or ("query", "limit"): name the field the caller sent.
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        body = {
            "error": ValidationFailedError.code,
            "message": f"{'.'.join(loc) or 'request'}: {first.get('msg')}",
            "field": ".".join(loc) or None,
            "details": [
                {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                for e in errors
            ],
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal", "message": "internal error; see the API log"}, status_code=500
        )
