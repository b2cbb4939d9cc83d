"""/v1/workflows: register (YAML or JSON body), get, list, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response

from stigmer_api.services import Services, as_reader, as_user, services
from stigmer_core.model import Page, Workflow, WorkflowSchedule

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])

_DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A Serverless Workflow DSL 1.0 document.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "",
    response_model=Workflow,
    status_code=201,
    dependencies=[Depends(as_user)],
    openapi_extra=_DOCUMENT_BODY,
    summary="Register a workflow",
    description=(
        "Validates the document against the DSL 1.0 JSON Schema (422 names the JSON pointer "
        "of the offending field). Registering an identical document again returns the "
        "existing workflow with 200; a different document under the same namespace, name "
        "and version is a 409. A document with a `schedule` gets a Temporal schedule: the "
        "newest registered version of a namespace/name defines it (see "
        "`GET /v1/workflows/{id}/schedule`)."
    ),
    responses={200: {"description": "Already registered", "model": Workflow}},
)
async def register_workflow(
    request: Request, response: Response, svc: Services = Depends(services)
) -> Workflow:
    workflow, created = await svc.workflows.register(await request.body())
    if not created:
        response.status_code = 200
        return workflow
    return await svc.schedules.after_register(workflow)


@router.get("", response_model=Page, dependencies=[Depends(as_reader)])
async def list_workflows(
    name: str | None = Query(None, description="Only workflows with this document name."),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, description="next_cursor of the previous page."),
    svc: Services = Depends(services),
) -> Page:
    return await svc.workflows.list(name=name, limit=limit, cursor=cursor)


@router.get("/{workflow_id}", response_model=Workflow, dependencies=[Depends(as_reader)])
async def get_workflow(workflow_id: str, svc: Services = Depends(services)) -> Workflow:
    return await svc.workflows.get(workflow_id)


@router.get(
    "/{workflow_id}/schedule",
    response_model=WorkflowSchedule,
    dependencies=[Depends(as_reader)],
    summary="The workflow's schedule",
    description=(
        "The document's `schedule`, its state (PENDING until Temporal has it, ACTIVE, "
        "SUPERSEDED by a newer version, UNSUPPORTED, FAILED) and, while ACTIVE, Temporal's "
        "next fire times and recent fires."
    ),
)
async def get_workflow_schedule(
    workflow_id: str, svc: Services = Depends(services)
) -> WorkflowSchedule:
    return await svc.schedules.describe(await svc.workflows.get(workflow_id))


@router.delete(
    "/{workflow_id}",
    status_code=204,
    dependencies=[Depends(as_user)],
    description=(
        "Deleting the version that defines a schedule hands the schedule to the newest "
        "remaining version, or deletes it when that version has no `schedule`."
    ),
)
async def delete_workflow(workflow_id: str, svc: Services = Depends(services)) -> Response:
    workflow = await svc.workflows.delete(workflow_id)
    await svc.schedules.after_delete(workflow)
    return Response(status_code=204)
