"""/v1/instances: create, get, list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from stigmer_api.services import Services, as_reader, as_user, services
from stigmer_core.model import Page, WorkflowInstance, _Model

router = APIRouter(prefix="/v1/instances", tags=["instances"])


class CreateInstance(_Model):
    workflow_id: str
    name: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    description: str | None = None


@router.post("", response_model=WorkflowInstance, status_code=201, dependencies=[Depends(as_user)])
async def create_instance(
    body: CreateInstance, svc: Services = Depends(services)
) -> WorkflowInstance:
    return await svc.instances.create(
        workflow_id=body.workflow_id, name=body.name, env=body.env, description=body.description
    )


@router.get("", response_model=Page, dependencies=[Depends(as_reader)])
async def list_instances(
    workflow_id: str | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None),
    svc: Services = Depends(services),
) -> Page:
    return await svc.instances.list(workflow_id=workflow_id, limit=limit, cursor=cursor)


@router.get("/{instance_id}", response_model=WorkflowInstance, dependencies=[Depends(as_reader)])
async def get_instance(instance_id: str, svc: Services = Depends(services)) -> WorkflowInstance:
    return await svc.instances.get(instance_id)
