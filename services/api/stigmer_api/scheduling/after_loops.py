"""``schedule.after`` loops on Temporal: one running loop workflow per DSL namespace/name.

The loop (stigmer_orchestrator's ``AfterLoop``) names the version it starts in its memo.
``ensure`` makes the running loop start the given version (start it, or terminate the run
that starts another version and start anew); ``stop`` terminates it. Both are idempotent and
safe to run from many API replicas at once: a terminate names the run it saw, and a start
that finds a loop already running leaves it to the next sync to check.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from stigmer_core.temporal_contracts import (
    AFTER_LOOP_ID_PREFIX,
    AFTER_LOOP_WORKFLOW,
    AFTER_TARGET_MEMO,
    AfterLoopInput,
    after_loop_id,
)

log = logging.getLogger(__name__)

_ENSURE_ATTEMPTS = 3


class AfterLoops:
    def __init__(
        self,
        *,
        task_queue: str,
        rpc_timeout: timedelta,
        start_timeout_seconds: float,
        poll_max_seconds: float,
    ) -> None:
        self._queue = task_queue
        self._timeout = rpc_timeout
        self._start_timeout = start_timeout_seconds
        self._poll_max = poll_max_seconds

    def loop_id(self, namespace: str, name: str) -> str:
        return after_loop_id(self._queue, namespace, name)

    async def ensure(self, client: Client, loop_id: str, workflow_id: str, after: float) -> None:
        """Make the running loop ``loop_id`` start ``workflow_id`` every ``after`` seconds
        after the previous execution ended. Raises RPCError when Temporal refuses."""
        for _ in range(_ENSURE_ATTEMPTS):
            running = await self._running(client, loop_id)
            if running is not None:
                if await running.memo_value(AFTER_TARGET_MEMO, None) == workflow_id:
                    return  # a version's document never changes: same target, same loop
                await self._terminate(client, running, f"version {workflow_id} defines it now")
            try:
                await client.start_workflow(
                    AFTER_LOOP_WORKFLOW,
                    AfterLoopInput(
                        workflow_id=workflow_id,
                        after_seconds=after,
                        start_timeout_seconds=self._start_timeout,
                        poll_max_seconds=self._poll_max,
                    ),
                    id=loop_id,
                    task_queue=self._queue,
                    memo={AFTER_TARGET_MEMO: workflow_id},
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                    rpc_timeout=self._timeout,
                )
                log.info("started after loop %s for %s", loop_id, workflow_id)
                return
            except WorkflowAlreadyStartedError:
                continue  # another replica was faster: check what its loop starts
        log.warning("after loop %s kept changing; the next sync checks it again", loop_id)

    async def stop(self, client: Client, loop_id: str) -> None:
        """Terminate the loop if it runs (the execution of its round runs on)."""
        running = await self._running(client, loop_id)
        if running is not None:
            await self._terminate(client, running, "its schedule is no longer `after`")

    async def names(self, client: Client) -> set[tuple[str, str]]:
        """Namespace/name of this installation's running loops, to stop orphans (workflows
        deleted while Temporal was down). Visibility is eventually consistent."""
        prefix = f"{AFTER_LOOP_ID_PREFIX}{self._queue}/"
        names: set[tuple[str, str]] = set()
        query = f"WorkflowType = '{AFTER_LOOP_WORKFLOW}' AND ExecutionStatus = 'Running'"
        try:
            async for entry in client.list_workflows(query, rpc_timeout=self._timeout):
                if entry.id.startswith(prefix):
                    namespace, _, name = entry.id[len(prefix) :].partition("/")
                    names.add((namespace, name))
        except RPCError as exc:
            log.warning("could not list after loops: %s", exc)
        return names

    async def _running(self, client: Client, loop_id: str) -> WorkflowExecutionDescription | None:
        try:
            description = await client.get_workflow_handle(loop_id).describe(
                rpc_timeout=self._timeout
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        if description.status is not WorkflowExecutionStatus.RUNNING:
            return None
        return description

    async def _terminate(
        self, client: Client, running: WorkflowExecutionDescription, reason: str
    ) -> None:
        handle = client.get_workflow_handle(running.id, run_id=running.run_id)
        try:
            await handle.terminate(reason=reason, rpc_timeout=self._timeout)
            log.info("terminated after loop %s (%s)", running.id, reason)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:  # that run ended meanwhile
                raise
