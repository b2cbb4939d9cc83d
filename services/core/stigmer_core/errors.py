"""Domain errors. The API maps each class to one HTTP status in one place."""

from __future__ import annotations


class StigmerError(Exception):
    """Base of every error Stigmer raises on purpose.

    ``field`` names the offending input (a JSON pointer or a parameter name) when
    there is one, so an error body can tell the caller exactly what to fix.
    """

    code = "internal"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class NotFoundError(StigmerError):
    code = "not_found"


class ConflictError(StigmerError):
    code = "conflict"


class ValidationFailedError(StigmerError):
    code = "invalid"


class TerminalPhaseError(ConflictError):
    """An update tried to leave COMPLETED, FAILED or CANCELLED."""

    code = "terminal"


class UnauthorizedError(StigmerError):
    code = "unauthorized"


class ForbiddenError(StigmerError):
    code = "forbidden"


class UnavailableError(StigmerError):
    """A dependency (Temporal, the store, the bus, the API) cannot be reached."""

    code = "unavailable"


class DispatchFailedError(StigmerError):
    """Temporal refused to start an execution's workflow."""

    code = "dispatch_failed"


ERRORS_BY_CODE: dict[str, type[StigmerError]] = {
    cls.code: cls
    for cls in (
        StigmerError,
        NotFoundError,
        ConflictError,
        ValidationFailedError,
        TerminalPhaseError,
        UnauthorizedError,
        ForbiddenError,
        UnavailableError,
        DispatchFailedError,
    )
}


def error_from_body(body: object, fallback: str) -> StigmerError:
    """Rebuild a domain error from an API error body (used by API clients)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        cls = ERRORS_BY_CODE.get(body["error"], StigmerError)
        field = body.get("field")
        return cls(
            str(body.get("message", fallback)), field=field if isinstance(field, str) else None
        )
    return StigmerError(fallback)
