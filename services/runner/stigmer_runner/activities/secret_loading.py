"""The activity that hands a run the secrets its document declares (``use.secrets``).

Secrets live in the runner's configuration (see :mod:`stigmer_runner.secrets`), so only an
activity may read them; the DSL workflow calls it once when a run starts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.errors import ValidationFailedError
from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.run_contracts import (
    LOAD_SECRETS_ACTIVITY,
    SECRETS_UNAVAILABLE_ERROR,
    SecretsRequest,
)
from stigmer_runner.secrets import declared_secrets, load_secrets
from stigmer_runner.settings import RunnerSettings


class SecretLoading:
    """Reads declared secrets from the environment and the secrets directory."""

    def __init__(self, *, settings: RunnerSettings) -> None:
        self._settings = settings

    @activity.defn(name=LOAD_SECRETS_ACTIVITY)
    async def load(self, request: SecretsRequest) -> dict[str, Any]:
        """The declared secrets by name; missing or malformed ones fail without retry."""
        try:
            names = declared_secrets({"use": {"secrets": request.names}})
            # Files may sit on a slow mounted volume: keep the event loop free.
            return await asyncio.to_thread(load_secrets, self._settings, names)
        except ValidationFailedError as exc:
            body = problem(ErrorType.CONFIGURATION, detail=exc.message, instance="/use/secrets")
            raise ApplicationError(
                exc.message, body, type=SECRETS_UNAVAILABLE_ERROR, non_retryable=True
            ) from None
