"""/v1/executions: create, get, list, cancel, and the runners' status route."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from stigmer_api.executions import CreateExecution
from stigmer_api.services import Services, as_reader, as_runner, as_user, services
from stigmer_core.model import ExecutionPhase, Page, WorkflowExecution
from stigmer_core.status import StatusUpdate

router = APIRouter(prefix="/v1/executions", tags=["executions"])


@router.post(
    "",
    response_model=WorkflowExecution,
    status_code=201,
    # The orchestrator starts scheduled executions with the service (runner) token.
    dependencies=[Depends(as_runner)],
    summary="Start an execution",
    description=(
        "Persists the execution as PENDING and starts it on Temporal. If Temporal is "
        "unreachable the execution stays PENDING and is dispatched once Temporal is back. "
        "If Temporal rejects the start, the execution is FAILED and the response is 502. "
        "With `request_id`, a repeated create returns the first one's execution."
    ),
)
async def create_execution(
    body: CreateExecution, svc: Services = Depends(services)
) -> WorkflowExecution:
    return await svc.executions.create(body)


@router.get("", response_model=Page, dependencies=[Depends(as_reader)])
async def list_executions(
    phase: ExecutionPhase | None = Query(None),
    workflow_id: str | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="next_cursor of the previous page."),
    svc: Services = Depends(services),
) -> Page:
    return await svc.executions.list(
        phase=phase, workflow_id=workflow_id, limit=limit, cursor=cursor
    )


@router.get("/{execution_id}", response_model=WorkflowExecution, dependencies=[Depends(as_reader)])
async def get_execution(execution_id: str, svc: Services = Depends(services)) -> WorkflowExecution:
    return await svc.executions.get(execution_id)


@router.post(
    "/{execution_id}/cancel", response_model=WorkflowExecution, dependencies=[Depends(as_user)]
)
async def cancel_execution(
    execution_id: str, svc: Services = Depends(services)
) -> WorkflowExecution:
    return await svc.executions.cancel(execution_id)


@router.post(
    "/{execution_id}/status",
    response_model=WorkflowExecution,
    dependencies=[Depends(as_runner)],
    summary="Report progress (runners)",
    description=(
        "Merges a partial status: tasks are upserted by id, terminal phases are sticky "
        "(409 once COMPLETED, FAILED or CANCELLED), and the sequence increases by one."
    ),
)
async def update_status(
    execution_id: str, body: StatusUpdate, svc: Services = Depends(services)
) -> WorkflowExecution:
    return await svc.executions.update_status(execution_id, body)
