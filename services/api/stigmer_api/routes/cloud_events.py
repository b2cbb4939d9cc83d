"""POST /v1/events (CloudEvents in) and the listen tasks' subscriptions (runners)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request

from stigmer_api.cloud_events import Delivery, EventService, Subscribe, Subscription, validate_event
from stigmer_api.services import Services, as_reader, as_runner, services
from stigmer_core.errors import ValidationFailedError

router = APIRouter(tags=["events"])

MAX_EVENT_BYTES = 1024 * 1024


def event_service(svc: Services = Depends(services)) -> EventService:
    """FastAPI dependency: the event service over the app's store and Temporal client."""
    return EventService(
        store=svc.store,
        dispatcher=svc.dispatcher,
        executions=svc.executions,
        triggers=svc.triggers,
    )


@router.post(
    "/v1/events",
    response_model=Delivery,
    dependencies=[Depends(as_runner)],
    summary="Publish a CloudEvent",
    description=(
        "Accepts a CloudEvent in structured JSON mode (`application/cloudevents+json` or "
        "`application/json`; `specversion` 1.0, `id`, `source` and `type` required) and "
        "signals it to every execution whose listen task is waiting for a matching event, "
        "and starts an execution of every workflow whose `schedule.on` it triggers (input: "
        "the list of triggering events; a repeated `source` + `id` starts none). The "
        "response lists both; 503 when Temporal is unreachable (retry: nothing was lost)."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/cloudevents+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def publish_event(
    request: Request, events: EventService = Depends(event_service)
) -> Delivery:
    raw = await request.body()
    if len(raw) > MAX_EVENT_BYTES:
        # Every listening execution gets the event as a Temporal payload, limited to 2 MB.
        raise ValidationFailedError(
            f"the event is {len(raw)} bytes; at most {MAX_EVENT_BYTES} are accepted", field="body"
        )
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailedError(f"the body is not JSON: {exc}", field="body") from None
    return await events.deliver(validate_event(body))


@router.put(
    "/v1/executions/{execution_id}/subscriptions",
    response_model=Subscription,
    dependencies=[Depends(as_runner)],
    summary="Register a listen task's filters (runners)",
    description=(
        "Upserts the subscription of one listen task (`task`, its JSON pointer). Register "
        "before waiting: events matched afterwards are signalled and buffered by Temporal."
    ),
)
async def subscribe(
    execution_id: str, body: Subscribe, events: EventService = Depends(event_service)
) -> Subscription:
    return await events.subscribe(execution_id, body)


@router.get(
    "/v1/executions/{execution_id}/subscriptions",
    response_model=list[Subscription],
    dependencies=[Depends(as_reader)],
    summary="The execution's listen subscriptions",
)
async def list_subscriptions(
    execution_id: str, events: EventService = Depends(event_service)
) -> list[Subscription]:
    return await events.subscriptions(execution_id)


@router.delete(
    "/v1/executions/{execution_id}/subscriptions",
    status_code=204,
    dependencies=[Depends(as_runner)],
    summary="Remove listen subscriptions (runners)",
    description="Removes the subscription of `task`, or every one of the execution's.",
)
async def unsubscribe(
    execution_id: str,
    task: str | None = Query(None, description="The listen task's JSON pointer."),
    events: EventService = Depends(event_service),
) -> None:
    await events.unsubscribe(execution_id, task)
