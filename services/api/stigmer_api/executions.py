"""Executions: the create pipeline, status updates with optimistic concurrency, cancel.

Every change goes store first, bus second: a subscriber that misses a message can always
recover the truth from the store (the SSE stream does exactly that).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import OrderedDict
from typing import Any
from weakref import WeakValueDictionary

from pydantic import Field

from stigmer_api.bus import Bus, execution_channel
from stigmer_api.dispatch import Dispatcher
from stigmer_api.execution_metrics import ExecutionMetrics
from stigmer_api.instances import InstanceService
from stigmer_api.metrics import STATUS_UPDATES
from stigmer_api.storage import Collection, DocumentStore
from stigmer_api.workflows import WorkflowService, _page
from stigmer_core.errors import (
    ConflictError,
    DispatchFailedError,
    NotFoundError,
    StigmerError,
    TerminalPhaseError,
    UnavailableError,
    ValidationFailedError,
)
from stigmer_core.ids import IdPrefix, is_id, new_id
from stigmer_core.logs import bind_here
from stigmer_core.model import (
    ExecutionPhase,
    ExecutionSpec,
    ExecutionStatus,
    Metadata,
    Page,
    WorkflowExecution,
    _Model,
    utcnow,
)
from stigmer_core.status import StatusUpdate, apply_update
from stigmer_core.temporal_contracts import invoke_workflow_id
from stigmer_core.trace_context import continue_trace, current_trace_id

log = logging.getLogger(__name__)

SYSTEM_ERROR_TYPE = "https://serverlessworkflow.io/spec/1.0.0/errors/runtime"
# Enough for 50+ writers racing on one execution in one round each.
_MAX_CAS_ATTEMPTS = 200
_WRITTEN_CACHE_SIZE = 10_000


class CreateExecution(_Model):
    """Body of POST /v1/executions: name a workflow or one of its instances."""

    workflow_id: str | None = Field(None, description="Run this workflow's default instance.")
    instance_id: str | None = Field(None, description="Run this instance.")
    input: Any = Field(default_factory=dict, description="The workflow input (any JSON).")
    env: dict[str, str] = Field(
        default_factory=dict, description="Runtime environment; overrides the instance's."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    request_id: str | None = Field(
        None,
        min_length=1,
        max_length=400,
        description=(
            "Idempotency key: a create repeated with the same request_id returns the "
            "execution the first one created instead of starting another."
        ),
    )


class ExecutionService:
    def __init__(
        self,
        *,
        store: DocumentStore,
        bus: Bus,
        dispatcher: Dispatcher,
        workflows: WorkflowService,
        instances: InstanceService,
        metrics: ExecutionMetrics,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._bus = bus
        self._dispatcher = dispatcher
        self._workflows = workflows
        self._instances = instances
        # Serialises writers to one execution inside this process, so CAS retries are
        # only needed against other replicas.
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()
        # Last version written per live execution, oldest first (bounded; see update_status).
        self._written: OrderedDict[str, WorkflowExecution] = OrderedDict()

    # --- create -------------------------------------------------------------------------

    async def create(self, request: CreateExecution) -> WorkflowExecution:
        """validate → resolve instance → persist PENDING → publish → start on Temporal.

        With a ``request_id`` the create is idempotent: the key is stored first with the
        execution id it will use, so a retry (the caller lost the answer, or crashed
        between the two writes) finds that id and returns or finishes that execution.
        """
        instance_id, workflow_id, env = await self._resolve(request)
        workflow = await self._workflows.get(workflow_id, field="workflow_id")
        execution_id = new_id(IdPrefix.EXECUTION)
        if request.request_id is not None:
            execution_id = await self._claim_request(request.request_id, execution_id)
            existing = await self._store.get(Collection.EXECUTIONS, execution_id)
            if existing is not None:
                return WorkflowExecution.model_validate(existing)
        execution = WorkflowExecution(
            metadata=Metadata(id=execution_id, name=workflow.spec.name, labels=request.labels),
            spec=ExecutionSpec(
                workflow_id=workflow_id,
                instance_id=instance_id,
                input=request.input,
                env=env,
            ),
            status=ExecutionStatus(
                temporal_workflow_id=invoke_workflow_id(execution_id),
                trace_id=current_trace_id(),
            ),
        )
        bind_here(execution_id=execution_id, workflow_id=workflow_id)
        log.info("creating execution %s of workflow %s", execution_id, workflow_id)
        try:
            await self._store.insert(Collection.EXECUTIONS, execution.to_doc())
        except ConflictError:
            if request.request_id is None:
                raise
            return await self.get(execution_id)  # a concurrent retry of the same request
        self._metrics.created(workflow)
        await self._publish(execution)
        return await self.dispatch(execution)

    async def _claim_request(self, request_id: str, execution_id: str) -> str:
        """The execution id of ``request_id``: ours if we are first, else the stored one."""
        key = "req-" + hashlib.sha256(request_id.encode()).hexdigest()
        record = {
            "metadata": {"id": key, "version": 1, "created_at": utcnow().isoformat()},
            "spec": {"execution_id": execution_id},
        }
        try:
            await self._store.insert(Collection.REQUESTS, record)
            return execution_id
        except ConflictError:
            stored = await self._store.get(Collection.REQUESTS, key)
            if stored is None:
                raise
            found: str = stored["spec"]["execution_id"]
            return found

    async def _resolve(self, request: CreateExecution) -> tuple[str, str, dict[str, str]]:
        if request.instance_id:
            if not is_id(request.instance_id, IdPrefix.INSTANCE):
                raise ValidationFailedError("not an instance id", field="instance_id")
            instance = await self._instances.get(request.instance_id, field="instance_id")
            if request.workflow_id and request.workflow_id != instance.spec.workflow_id:
                raise ValidationFailedError(
                    f"instance {instance.metadata.id} belongs to workflow "
                    f"{instance.spec.workflow_id}, not {request.workflow_id}",
                    field="workflow_id",
                )
        elif request.workflow_id:
            if not is_id(request.workflow_id, IdPrefix.WORKFLOW):
                raise ValidationFailedError("not a workflow id", field="workflow_id")
            workflow = await self._workflows.get(request.workflow_id, field="workflow_id")
            instance = await self._instances.default_for(workflow)
        else:
            raise ValidationFailedError("give workflow_id or instance_id", field="workflow_id")
        return instance.metadata.id, instance.spec.workflow_id, {**instance.spec.env, **request.env}

    async def dispatch(self, execution: WorkflowExecution) -> WorkflowExecution:
        """Start the execution on Temporal; leave it PENDING if Temporal is unreachable.

        A start that Temporal rejects fails the execution (persisted and published) and
        re-raises DispatchFailedError for the caller.
        """
        execution_id = execution.metadata.id
        try:
            started = await self._dispatcher.start(execution_id)
        except DispatchFailedError as exc:
            with contextlib.suppress(TerminalPhaseError):
                await self.update_status(
                    execution_id,
                    StatusUpdate(
                        phase=ExecutionPhase.FAILED,
                        message=exc.message,
                        error=system_problem("Dispatch failed", exc.message, execution_id),
                    ),
                )
            raise
        if not started:
            return execution
        try:
            return await self.update_status(execution_id, StatusUpdate(dispatched_at=utcnow()))
        except TerminalPhaseError:
            # It already ran to the end: nothing left to record.
            return await self.get(execution_id)
        except StigmerError as exc:
            # Temporal has it and it runs; only the bookkeeping failed. The reconciler's
            # next start of it is a harmless "already started" that records dispatched_at.
            log.warning("started %s but could not record dispatched_at: %s", execution_id, exc)
            return execution

    async def dispatch_pending(self, *, batch: int = 100) -> int:
        """Start every PENDING execution Temporal has not accepted yet; return how many."""
        if not await self._dispatcher.ensure_connected():
            return 0
        dispatched, cursor = 0, None
        while True:
            docs = await self._store.list(
                Collection.EXECUTIONS,
                filters={"status.phase": ExecutionPhase.PENDING.value},
                limit=batch,
                before_id=cursor,
            )
            for doc in docs:
                execution = WorkflowExecution.model_validate(doc)
                if execution.status.dispatched_at is not None:
                    continue
                try:
                    # The start joins the trace the create began (and logs name the run).
                    with continue_trace(execution.status.trace_id):
                        updated = await self.dispatch(execution)
                except DispatchFailedError as exc:
                    log.error("reconciler could not dispatch %s: %s", execution.metadata.id, exc)
                    continue
                if updated.status.dispatched_at is None:
                    return dispatched  # Temporal went away again; try next round
                dispatched += 1
                log.info("dispatched PENDING execution %s", execution.metadata.id)
            if len(docs) < batch:
                return dispatched
            cursor = docs[-1]["metadata"]["id"]

    async def count_pending(self) -> int:
        """PENDING executions not yet handed to Temporal."""
        return await self._store.count(
            Collection.EXECUTIONS,
            {"status.phase": ExecutionPhase.PENDING.value, "status.dispatched_at": None},
        )

    # --- read ---------------------------------------------------------------------------

    async def get(self, execution_id: str, *, field: str = "id") -> WorkflowExecution:
        doc = await self._store.get(Collection.EXECUTIONS, execution_id)
        if doc is None:
            raise NotFoundError(f"execution {execution_id} not found", field=field)
        return WorkflowExecution.model_validate(doc)

    async def list(
        self,
        *,
        phase: ExecutionPhase | None,
        workflow_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        filters: dict[str, Any] = {}
        if phase is not None:
            filters["status.phase"] = phase.value
        if workflow_id:
            filters["spec.workflow_id"] = workflow_id
        docs = await self._store.list(
            Collection.EXECUTIONS, filters=filters, limit=limit + 1, before_id=cursor
        )
        return _page(docs, limit)

    # --- write --------------------------------------------------------------------------

    async def update_status(self, execution_id: str, update: StatusUpdate) -> WorkflowExecution:
        """Merge ``update`` into the stored status (compare-and-swap), then publish.

        Concurrent updates never overwrite each other: a writer that loses the race
        re-reads and re-applies its update on the newer status.
        """
        lock = self._locks.get(execution_id)
        if lock is None:
            lock = self._locks[execution_id] = asyncio.Lock()
        async with lock:
            # The last version this process wrote is usually still the stored one: start from
            # it and let the compare-and-swap prove it. A failed swap re-reads.
            current = self._written.pop(execution_id, None) or await self.get(execution_id)
            for attempt in range(_MAX_CAS_ATTEMPTS):
                if attempt:
                    current = await self.get(execution_id)
                try:
                    status = apply_update(current.status, update, utcnow())
                except ConflictError:  # terminal phases are sticky; phases never go back
                    STATUS_UPDATES.labels(outcome="rejected").inc()
                    raise
                updated = current.model_copy(
                    update={
                        "status": status,
                        "metadata": current.metadata.model_copy(
                            update={
                                "version": current.metadata.version + 1,
                                "updated_at": utcnow(),
                            }
                        ),
                    }
                )
                if await self._store.replace(
                    Collection.EXECUTIONS,
                    updated.to_doc(),
                    expected_version=current.metadata.version,
                ):
                    break
                # Another writer won: back off a little so we do not collide again.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            else:
                STATUS_UPDATES.labels(outcome="rejected").inc()
                raise ConflictError(
                    f"execution {execution_id} is updated too often; retry", field="status"
                )
            STATUS_UPDATES.labels(outcome="applied").inc()
            if not updated.status.phase.terminal:
                self._remember(updated)
        await self._metrics.finished(current.status.phase, updated)
        await self._publish(updated)
        return updated

    def _remember(self, execution: WorkflowExecution) -> None:
        """Keep the version just written, for the next update of this execution."""
        self._written[execution.metadata.id] = execution
        while len(self._written) > _WRITTEN_CACHE_SIZE:
            self._written.popitem(last=False)

    async def cancel(self, execution_id: str) -> WorkflowExecution:
        execution = await self.update_status(
            execution_id,
            StatusUpdate(phase=ExecutionPhase.CANCELLED, message="cancelled on request"),
        )
        await self._dispatcher.cancel(execution_id)
        return execution

    async def _publish(self, execution: WorkflowExecution) -> None:
        try:
            await self._bus.publish(
                execution_channel(execution.metadata.id), execution.model_dump_json(by_alias=True)
            )
        except UnavailableError as exc:
            # The change is stored; live watchers catch up from the store on their next poll.
            log.warning("could not publish %s: %s", execution.metadata.id, exc)


def system_problem(title: str, detail: str, execution_id: str) -> dict[str, Any]:
    """An RFC 7807 problem for failures of the platform rather than of the workflow."""
    return {
        "type": SYSTEM_ERROR_TYPE,
        "status": 500,
        "title": title,
        "detail": detail,
        "instance": f"/executions/{execution_id}",
    }


__all__ = ["CreateExecution", "ExecutionService", "StigmerError", "system_problem"]
