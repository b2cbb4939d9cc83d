"""Activities behind ``emit`` and ``listen``: publish events, manage subscriptions.

All three are idempotent (a publish carries a fixed ``id``; subscriptions are upserted and
deleted by key), so Temporal may retry them freely. Like the HTTP activity, they heartbeat
while the API is slow to answer.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from stigmer_core.errors import ConflictError, NotFoundError, ValidationFailedError
from stigmer_runner.activities.heartbeats import heartbeating
from stigmer_runner.dsl.errors import ErrorType, problem
from stigmer_runner.dsl.event_contracts import (
    EMIT_EVENT_ACTIVITY,
    SUBSCRIBE_ACTIVITY,
    UNSUBSCRIBE_ACTIVITY,
)
from stigmer_runner.event_api import EventApi

INVALID_EVENT_ERROR = "InvalidEvent"
"""``ApplicationError.type`` of an event the API refused (not retryable)."""


class EventActivities:
    def __init__(self, *, events: EventApi) -> None:
        self._events = events

    @activity.defn(name=EMIT_EVENT_ACTIVITY)
    async def emit(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Publish ``payload["event"]``; a refused event fails the task (validation)."""
        try:
            async with heartbeating():
                return await self._events.publish_event(payload["event"])
        except ValidationFailedError as exc:
            raise _refused(exc.message, exc.field) from exc

    @activity.defn(name=SUBSCRIBE_ACTIVITY)
    async def subscribe(self, payload: dict[str, Any]) -> None:
        """Register a listen task's routing filters."""
        try:
            async with heartbeating():
                await self._events.subscribe(
                    payload["execution_id"], task=payload["task"], filters=payload["filters"]
                )
        except (ValidationFailedError, NotFoundError, ConflictError) as exc:
            # Conflict: the execution is over (cancelled meanwhile); retrying cannot help.
            raise _refused(exc.message, exc.field) from exc

    @activity.defn(name=UNSUBSCRIBE_ACTIVITY)
    async def unsubscribe(self, payload: dict[str, Any]) -> None:
        """Remove a listen task's subscription; one already gone is fine."""
        try:
            async with heartbeating():
                await self._events.unsubscribe(payload["execution_id"], task=payload["task"])
        except NotFoundError:
            activity.logger.info("subscription of %s already gone", payload["execution_id"])


def _refused(message: str, field: str | None) -> ApplicationError:
    detail = f"{field}: {message}" if field else message
    return ApplicationError(
        detail,
        problem(ErrorType.VALIDATION, detail=detail),
        type=INVALID_EVENT_ERROR,
        non_retryable=True,
    )
