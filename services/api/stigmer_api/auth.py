"""Bearer-token authentication: a user token for everything, a runner token for runner work."""

from __future__ import annotations

import secrets
from enum import StrEnum

from fastapi import Request

from stigmer_api.settings import ApiSettings
from stigmer_core.errors import ForbiddenError, UnauthorizedError, ValidationFailedError


class Role(StrEnum):
    USER = "user"
    RUNNER = "runner"


class Authenticator:
    """Maps the Authorization header to a role.

    With ``STIGMER_API_ALLOW_ANONYMOUS`` (local mode) every caller is a user. Otherwise
    a user token must be configured; the runner token is optional (runners may then use
    the user token).
    """

    def __init__(self, *, settings: ApiSettings) -> None:
        self._anonymous = settings.stigmer_api_allow_anonymous
        user = settings.stigmer_api_token
        runner = settings.stigmer_runner_token
        self._user = user.get_secret_value() if user else None
        self._runner = runner.get_secret_value() if runner else None
        if not self._anonymous and not self._user:
            raise ValidationFailedError(
                "STIGMER_API_TOKEN is not set: set it (and STIGMER_RUNNER_TOKEN), or set "
                "STIGMER_API_ALLOW_ANONYMOUS=true for a server reachable only by you",
                field="STIGMER_API_TOKEN",
            )

    def role_of(self, authorization: str | None) -> Role:
        if self._anonymous:
            return Role.USER
        if not authorization:
            raise UnauthorizedError("missing bearer token", field="Authorization")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError(
                "expected 'Authorization: Bearer <token>'", field="Authorization"
            )
        if self._user and secrets.compare_digest(token, self._user):
            return Role.USER
        if self._runner and secrets.compare_digest(token, self._runner):
            return Role.RUNNER
        raise UnauthorizedError("invalid bearer token", field="Authorization")

    def require(self, request: Request, *roles: Role) -> Role:
        role = self.role_of(request.headers.get("Authorization"))
        if role not in roles:
            raise ForbiddenError(f"the {role.value} token may not call this route")
        return role
