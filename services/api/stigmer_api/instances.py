"""Workflow instances: a workflow bound to a runtime environment."""

from __future__ import annotations

from stigmer_api.storage import Collection, DocumentStore
from stigmer_api.workflows import WorkflowService, _page
from stigmer_core.errors import ConflictError, NotFoundError
from stigmer_core.ids import IdPrefix, default_instance_id, new_id
from stigmer_core.model import InstanceSpec, Metadata, Page, Workflow, WorkflowInstance


class InstanceService:
    def __init__(self, *, store: DocumentStore, workflows: WorkflowService) -> None:
        self._store = store
        self._workflows = workflows

    async def create(
        self,
        *,
        workflow_id: str,
        name: str | None,
        env: dict[str, str],
        description: str | None,
    ) -> WorkflowInstance:
        workflow = await self._workflows.get(workflow_id, field="workflow_id")
        instance = WorkflowInstance(
            metadata=Metadata(id=new_id(IdPrefix.INSTANCE), name=name or workflow.spec.name),
            spec=InstanceSpec(workflow_id=workflow_id, env=env, description=description),
        )
        await self._store.insert(Collection.INSTANCES, instance.to_doc())
        return instance

    async def get(self, instance_id: str, *, field: str = "id") -> WorkflowInstance:
        doc = await self._store.get(Collection.INSTANCES, instance_id)
        if doc is None:
            raise NotFoundError(f"instance {instance_id} not found", field=field)
        return WorkflowInstance.model_validate(doc)

    async def list(self, *, workflow_id: str | None, limit: int, cursor: str | None) -> Page:
        filters = {"spec.workflow_id": workflow_id} if workflow_id else {}
        docs = await self._store.list(
            Collection.INSTANCES, filters=filters, limit=limit + 1, before_id=cursor
        )
        return _page(docs, limit)

    async def default_for(self, workflow: Workflow) -> WorkflowInstance:
        """The workflow's default instance, created on first use.

        Its id is derived from the workflow id, so concurrent first runs (on any number
        of API replicas) race on one primary key: one insert wins, the others read it.
        """
        instance_id = default_instance_id(workflow.metadata.id)
        doc = await self._store.get(Collection.INSTANCES, instance_id)
        if doc is not None:
            return WorkflowInstance.model_validate(doc)
        instance = WorkflowInstance(
            metadata=Metadata(id=instance_id, name=f"{workflow.spec.name}-default"),
            spec=InstanceSpec(workflow_id=workflow.metadata.id, default=True),
        )
        try:
            await self._store.insert(Collection.INSTANCES, instance.to_doc())
        except ConflictError:
            return await self.get(instance_id)
        return instance
