"""GET /v1/executions/{id}/events: the execution as server-sent events.

Order of operations is what makes the stream gap-free: subscribe to the bus first,
read the snapshot from the store second, then forward only newer sequences. A message
that skips a sequence (lost or reordered in transit) triggers a re-read of the store, and
so does a quiet keep-alive interval, so a missed publish delays an update but never loses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from sse_starlette import EventSourceResponse, ServerSentEvent

from stigmer_api.bus import execution_channel
from stigmer_api.services import Services, as_reader, services
from stigmer_core.model import WorkflowExecution

router = APIRouter(prefix="/v1/executions", tags=["executions"])


def _event(execution: WorkflowExecution) -> ServerSentEvent:
    return ServerSentEvent(
        data=execution.model_dump_json(by_alias=True),
        event="execution",
        id=str(execution.status.sequence),
    )


async def execution_events(svc: Services, execution_id: str) -> AsyncIterator[ServerSentEvent]:
    """Snapshot, then every newer state, ending after a terminal phase."""
    keepalive = svc.settings.stigmer_sse_keepalive_seconds
    draining = asyncio.ensure_future(svc.draining.wait())
    try:
        async with svc.bus.subscribe(execution_channel(execution_id)) as subscription:
            current = await svc.executions.get(execution_id)
            yield _event(current)
            last = current.status.sequence
            while not current.status.phase.terminal:
                receive = asyncio.ensure_future(subscription.get(timeout=keepalive))
                await asyncio.wait({receive, draining}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():  # the server is stopping: the client reconnects
                    receive.cancel()
                    return
                message = receive.result()
                if message is not None:
                    received = WorkflowExecution.model_validate_json(message)
                    if received.status.sequence <= last:
                        continue
                    if received.status.sequence == last + 1:
                        current = received
                    else:
                        current = await svc.executions.get(execution_id)
                else:
                    current = await svc.executions.get(execution_id)
                    if current.status.sequence <= last:
                        yield ServerSentEvent(comment="keep-alive")
                        continue
                yield _event(current)
                last = current.status.sequence
    finally:
        draining.cancel()


@router.get(
    "/{execution_id}/events",
    dependencies=[Depends(as_reader)],
    summary="Watch an execution (server-sent events)",
    description=(
        "Each `execution` event carries the whole execution; `id` is its status sequence. "
        "The first event is the current snapshot; the stream ends after a terminal phase."
    ),
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def watch_execution(
    execution_id: str, svc: Services = Depends(services)
) -> EventSourceResponse:
    await svc.executions.get(execution_id)  # 404 before the stream starts
    return EventSourceResponse(execution_events(svc, execution_id))
