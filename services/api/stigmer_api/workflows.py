"""Workflow registration: parse, validate against the DSL schema, store once per version."""

from __future__ import annotations

from typing import Any

from stigmer_api.scheduling import initial_status
from stigmer_api.storage import Collection, DocumentStore
from stigmer_core.dsl_document import count_tasks, parse_document, validate_document
from stigmer_core.errors import ConflictError, NotFoundError
from stigmer_core.ids import IdPrefix, new_id
from stigmer_core.model import Metadata, Page, Workflow, WorkflowSpec, WorkflowStatus


class WorkflowService:
    def __init__(self, *, store: DocumentStore) -> None:
        self._store = store

    async def register(
        self, body: str | bytes, *, labels: dict[str, str] | None = None
    ) -> tuple[Workflow, bool]:
        """Register a DSL document; return (workflow, created).

        Registering the same namespace/name/version again returns the stored workflow
        when the document is identical and a conflict otherwise: a version names one
        document forever, so executions always know what they ran.
        """
        document = parse_document(body)
        header = validate_document(document)
        workflow = Workflow(
            metadata=Metadata(id=new_id(IdPrefix.WORKFLOW), name=header.name, labels=labels or {}),
            spec=WorkflowSpec(
                namespace=header.namespace,
                name=header.name,
                version=header.version,
                document=document,
            ),
            status=WorkflowStatus(
                task_count=count_tasks(document), schedule=initial_status(document)
            ),
        )
        try:
            await self._store.insert(Collection.WORKFLOWS, workflow.to_doc())
            return workflow, True
        except ConflictError:
            existing = await self.find(header.namespace, header.name, header.version)
            if existing is None:  # deleted in between: the caller may simply retry
                raise
            if existing.spec.document != document:
                raise ConflictError(
                    f"workflow {header.namespace}/{header.name} version {header.version} is "
                    "already registered with a different document; change document.version",
                    field="/document/version",
                ) from None
            return existing, False

    async def find(self, namespace: str, name: str, version: str) -> Workflow | None:
        doc = await self._store.find_one(
            Collection.WORKFLOWS,
            {"spec.namespace": namespace, "spec.name": name, "spec.version": version},
        )
        return Workflow.model_validate(doc) if doc else None

    async def get(self, workflow_id: str, *, field: str = "id") -> Workflow:
        doc = await self._store.get(Collection.WORKFLOWS, workflow_id)
        if doc is None:
            raise NotFoundError(f"workflow {workflow_id} not found", field=field)
        return Workflow.model_validate(doc)

    async def list(self, *, name: str | None, limit: int, cursor: str | None) -> Page:
        filters: dict[str, Any] = {"spec.name": name} if name else {}
        docs = await self._store.list(
            Collection.WORKFLOWS, filters=filters, limit=limit + 1, before_id=cursor
        )
        return _page(docs, limit)

    async def delete(self, workflow_id: str) -> Workflow:
        """Delete the workflow; return it as it was."""
        workflow = await self.get(workflow_id)
        if not await self._store.delete(Collection.WORKFLOWS, workflow_id):
            raise NotFoundError(f"workflow {workflow_id} not found", field="id")
        return workflow


def _page(docs: list[dict[str, Any]], limit: int) -> Page:
    """Build a page from ``limit + 1`` documents: the extra one tells whether more exist."""
    items = docs[:limit]
    more = len(docs) > limit
    return Page(items=items, next_cursor=items[-1]["metadata"]["id"] if more and items else None)
