"""Starting executions on Temporal, and noticing when Temporal comes and goes.

The invoke workflow's id is derived from the execution id and duplicates are rejected,
so "start" is idempotent: the create path and the reconciler may both try, one wins,
and the execution runs exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, Interceptor, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from stigmer_api.settings import ApiSettings
from stigmer_core.errors import DispatchFailedError, UnavailableError
from stigmer_core.temporal_connect import connect, data_converter
from stigmer_core.temporal_contracts import (
    ACTIVITY_TASK_QUEUE_MEMO,
    INVOKE_WORKFLOW,
    InvokeWorkflowInput,
    dsl_workflow_id,
    invoke_workflow_id,
)

log = logging.getLogger(__name__)

# Errors that mean "Temporal is not there right now", as opposed to "Temporal said no".
_UNREACHABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}

Connector = Callable[[], Awaitable[Client]]


def unreachable(exc: RPCError) -> bool:
    """True when the error means Temporal is not there, rather than that it said no."""
    return exc.status in _UNREACHABLE


def temporal_connector(
    settings: ApiSettings, *, interceptors: Sequence[Interceptor] = ()
) -> Connector:
    """Connects with Stigmer's data converter, built (and its keys checked) right away,
    and ``interceptors`` (tracing: see ``stigmer_core.temporal_interceptors``)."""
    converter = data_converter(settings)

    async def connect_once() -> Client:
        return await asyncio.wait_for(
            connect(settings, converter=converter, interceptors=interceptors),
            timeout=settings.stigmer_temporal_connect_timeout_seconds,
        )

    return connect_once


class Dispatcher:
    """Holds the Temporal client (None while Temporal is unreachable) and starts workflows."""

    def __init__(self, *, settings: ApiSettings, connect: Connector) -> None:
        self._settings = settings
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> Client | None:
        """The Temporal client, or None while Temporal is unreachable."""
        return self._client

    async def ensure_connected(self) -> bool:
        """Try to connect if not connected; True when a client is available."""
        if self._client is not None:
            return True
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await self._connect()
                    log.info("connected to Temporal at %s", self._settings.temporal_host_port)
                except Exception as exc:  # any failure to connect means "not reachable yet"
                    log.warning(
                        "Temporal at %s is unreachable (%s); executions wait in PENDING",
                        self._settings.temporal_host_port,
                        exc or type(exc).__name__,
                    )
        return self._client is not None

    async def start(self, execution_id: str) -> bool:
        """Start the execution's invoke workflow.

        Returns True when Temporal has it (now or from an earlier start), False when
        Temporal is unreachable (the execution stays PENDING for the reconciler), and
        raises DispatchFailedError when Temporal rejects the start.
        """
        client = self._client
        if client is None:
            return False
        settings = self._settings
        try:
            await client.start_workflow(
                INVOKE_WORKFLOW,
                InvokeWorkflowInput(
                    execution_id=execution_id,
                    runner_start_timeout_seconds=settings.stigmer_runner_start_timeout_seconds,
                    execution_timeout_seconds=settings.stigmer_execution_timeout_seconds,
                    handoff_grace_seconds=settings.stigmer_handoff_grace_seconds,
                ),
                id=invoke_workflow_id(execution_id),
                task_queue=settings.temporal_workflow_execution_stigmer_task_queue,
                memo={
                    ACTIVITY_TASK_QUEUE_MEMO: settings.temporal_workflow_execution_runner_task_queue
                },
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                rpc_timeout=timedelta(seconds=settings.stigmer_temporal_connect_timeout_seconds),
            )
        except WorkflowAlreadyStartedError:
            return True
        except RPCError as exc:
            if exc.status in _UNREACHABLE:
                log.warning("Temporal unreachable while starting %s: %s", execution_id, exc)
                return False
            raise DispatchFailedError(
                f"Temporal refused to start execution {execution_id}: {exc}"
            ) from exc
        return True

    async def cancel(self, execution_id: str) -> None:
        """Ask Temporal to cancel the execution's workflows; best effort."""
        client = self._client
        if client is None:
            return
        for workflow_id in (dsl_workflow_id(execution_id), invoke_workflow_id(execution_id)):
            handle: WorkflowHandle[object, object] = client.get_workflow_handle(workflow_id)
            try:
                description = await handle.describe()
                if description.status == WorkflowExecutionStatus.RUNNING:
                    await handle.cancel()
            except RPCError as exc:
                if exc.status is not RPCStatusCode.NOT_FOUND:
                    log.warning("could not cancel %s: %s", workflow_id, exc)

    async def signal(self, execution_id: str, signal: str, payload: Any) -> bool:
        """Signal the execution's DSL workflow; False when it is not running (gone or done).

        Raises UnavailableError when Temporal cannot be reached, so the caller can retry.
        """
        client = self._client
        if client is None:
            raise UnavailableError("Temporal is unreachable; nothing was delivered")
        handle: WorkflowHandle[object, object] = client.get_workflow_handle(
            dsl_workflow_id(execution_id)
        )
        try:
            await handle.signal(
                signal,
                payload,
                rpc_timeout=timedelta(
                    seconds=self._settings.stigmer_temporal_connect_timeout_seconds
                ),
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise UnavailableError(f"could not signal execution {execution_id}: {exc}") from exc
        return True

    async def ping(self) -> bool:
        client = self._client
        if client is None:
            return False
        try:
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), timeout=timedelta(seconds=2)
            )
        except RPCError:
            return False
        return True
