"""Temporal Schedules and ``after`` loops kept in step with the registered workflows.

The store is the truth: the newest registered version of a DSL namespace/name defines its
schedule. ``sync`` makes Temporal match it — a Temporal schedule for ``every``/``cron``, a loop
workflow for ``after`` (create, retarget, delete), neither for ``on``, whose events the API
matches itself (stigmer_api.scheduling.event_triggers) — and records each version's schedule
state. Every step is idempotent, so the
registering request, the delete, and the reconciler of any number of API replicas may all
sync the same name; the reconciler's periodic sweep repairs what a race or an outage left.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.client import ScheduleState as TemporalScheduleState
from temporalio.service import RPCError, RPCStatusCode

from stigmer_api.dispatch import Dispatcher, unreachable
from stigmer_api.scheduling.after_loops import AfterLoops
from stigmer_api.scheduling.spec import ScheduleNotRunnableError, ScheduleTrigger, trigger_of
from stigmer_api.settings import ApiSettings
from stigmer_api.storage import Collection, DocumentStore
from stigmer_core.model import (
    ScheduledFire,
    ScheduleKind,
    ScheduleState,
    ScheduleStatus,
    Workflow,
    WorkflowSchedule,
    utcnow,
)
from stigmer_core.temporal_contracts import (
    SCHEDULE_ID_PREFIX,
    SCHEDULED_RUN_WORKFLOW,
    ScheduledRunInput,
    schedule_id,
    scheduled_run_workflow_id,
)

log = logging.getLogger(__name__)

_MAX_VERSIONS = 1000
_MAX_RECORD_ATTEMPTS = 10


def initial_status(document: dict[str, Any]) -> ScheduleStatus | None:
    """The schedule state a newly registered document starts in (None: not scheduled).

    Raises ValidationFailedError for a cron text that is no cron expression.
    """
    try:
        trigger = trigger_of(document)
    except ScheduleNotRunnableError as exc:
        return ScheduleStatus(state=ScheduleState.UNSUPPORTED, message=exc.message)
    if trigger is None:
        return None
    return ScheduleStatus(
        state=ScheduleState.PENDING, kind=trigger.kind, message=_WAITING[trigger.kind]
    )


_WAITING = {
    ScheduleKind.TIME: "waiting for Temporal to create the schedule",
    ScheduleKind.AFTER: "waiting for Temporal to start the after loop",
    ScheduleKind.EVENT: "waiting for Temporal to take older versions' schedules down",
}


class ScheduleService:
    def __init__(
        self, *, settings: ApiSettings, store: DocumentStore, dispatcher: Dispatcher
    ) -> None:
        self._settings = settings
        self._store = store
        self._dispatcher = dispatcher
        self._queue = settings.temporal_workflow_execution_stigmer_task_queue
        self._last_sweep = float("-inf")
        self._loops = AfterLoops(
            task_queue=self._queue,
            rpc_timeout=self._rpc_timeout(),
            start_timeout_seconds=settings.stigmer_schedule_start_timeout_seconds,
            poll_max_seconds=settings.stigmer_schedule_after_poll_max_seconds,
        )

    def schedule_id(self, namespace: str, name: str) -> str:
        return schedule_id(self._queue, namespace, name)

    # --- hooks of the workflow routes ----------------------------------------------------

    async def after_register(self, workflow: Workflow) -> Workflow:
        """Sync the name of a newly registered workflow when it or an older version is
        scheduled; return the workflow as stored afterwards. Never fails the request: what
        could not be done now, the reconciler does."""
        namespace, name = workflow.spec.namespace, workflow.spec.name
        if workflow.status.schedule is None and not await self._scheduled_versions(namespace, name):
            return workflow
        await self._sync_quietly(namespace, name)
        doc = await self._store.get(Collection.WORKFLOWS, workflow.metadata.id)
        return Workflow.model_validate(doc) if doc else workflow

    async def after_delete(self, workflow: Workflow) -> None:
        if workflow.status.schedule is not None:
            await self._sync_quietly(workflow.spec.namespace, workflow.spec.name)

    async def _sync_quietly(self, namespace: str, name: str) -> None:
        try:
            await self.sync(namespace, name)
        except Exception:  # the reconciler retries; the registration itself is stored
            log.exception("could not sync the schedule of %s/%s", namespace, name)

    # --- sync ------------------------------------------------------------------------------

    async def sync(self, namespace: str, name: str) -> bool:
        """Make Temporal's schedule of namespace/name match the store and record the states.

        Returns False when Temporal is unreachable: nothing is recorded, PENDING stays
        PENDING, and the reconciler tries again.
        """
        client = self._dispatcher.client
        if client is None:
            return False
        versions = await self._versions(namespace, name)
        newest = versions[0] if versions else None
        trigger: ScheduleTrigger | None = None
        state, message = ScheduleState.ACTIVE, None
        if newest is not None:
            try:
                trigger = trigger_of(newest.spec.document)
            except ScheduleNotRunnableError as exc:
                state, message = ScheduleState.UNSUPPORTED, exc.message
        sid = self.schedule_id(namespace, name)
        lid = self._loops.loop_id(namespace, name)
        kind = trigger.kind if trigger is not None else None
        try:
            if newest is not None and trigger is not None and kind is ScheduleKind.TIME:
                await self._upsert(client, sid, newest, trigger)
            else:
                await self._remove(client, sid)
            if newest is not None and trigger is not None and trigger.after_seconds is not None:
                await self._loops.ensure(client, lid, newest.metadata.id, trigger.after_seconds)
            else:
                await self._loops.stop(client, lid)
        except RPCError as exc:
            if unreachable(exc):
                log.warning("Temporal unreachable while syncing schedule %s: %s", sid, exc)
                return False
            state, message = ScheduleState.FAILED, f"Temporal refused the schedule: {exc.message}"
            log.error("schedule %s: %s", sid, message)
        if newest is not None:
            temporal_id = (
                {ScheduleKind.TIME: sid, ScheduleKind.AFTER: lid}.get(kind) if kind else None
            )
            await self._record(versions, newest, state, message, kind, temporal_id)
        return True

    async def _upsert(
        self, client: Client, sid: str, workflow: Workflow, trigger: ScheduleTrigger
    ) -> None:
        handle = client.get_schedule_handle(sid)
        timeout = self._rpc_timeout()
        try:
            description = await handle.describe(rpc_timeout=timeout)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            try:
                await client.create_schedule(
                    sid, self._schedule(workflow, trigger), rpc_timeout=timeout
                )
                log.info("created schedule %s for %s", sid, workflow.metadata.id)
                return
            except ScheduleAlreadyRunningError:  # another replica was faster
                description = await handle.describe(rpc_timeout=timeout)
        if target_of(description) == workflow.metadata.id:
            return  # a version's document never changes, so the same target is the same spec
        new = self._schedule(workflow, trigger)

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=new)

        await handle.update(replace, rpc_timeout=timeout)
        log.info("schedule %s now starts %s", sid, workflow.metadata.id)

    async def _remove(self, client: Client, sid: str) -> None:
        try:
            await client.get_schedule_handle(sid).delete(rpc_timeout=self._rpc_timeout())
            log.info("deleted schedule %s", sid)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise

    def _schedule(self, workflow: Workflow, trigger: ScheduleTrigger) -> Schedule:
        settings = self._settings
        spec = workflow.spec
        return Schedule(
            action=ScheduleActionStartWorkflow(
                SCHEDULED_RUN_WORKFLOW,
                ScheduledRunInput(
                    workflow_id=workflow.metadata.id,
                    start_timeout_seconds=settings.stigmer_schedule_start_timeout_seconds,
                ),
                id=scheduled_run_workflow_id(workflow.metadata.id),
                task_queue=self._queue,
            ),
            spec=trigger.temporal_spec(),
            # SKIP: while one fire still waits for the API, later fires are skipped
            # instead of piling up behind it.
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP,
                catchup_window=timedelta(seconds=settings.stigmer_schedule_catchup_window_seconds),
            ),
            state=TemporalScheduleState(
                note=f"Stigmer workflow {spec.namespace}/{spec.name} version {spec.version} "
                f"({workflow.metadata.id})"
            ),
        )

    async def _record(
        self,
        versions: list[Workflow],
        newest: Workflow,
        state: ScheduleState,
        message: str | None,
        kind: ScheduleKind | None,
        temporal_id: str | None,
    ) -> None:
        superseded = (
            f"version {newest.spec.version} ({newest.metadata.id}) is newer and defines "
            "the schedule"
        )
        for workflow in versions:
            if workflow.status.schedule is None:
                continue
            if workflow is newest:
                wanted = ScheduleStatus(
                    state=state,
                    kind=kind,
                    message=message,
                    schedule_id=temporal_id if state is ScheduleState.ACTIVE else None,
                )
            else:
                wanted = ScheduleStatus(
                    state=ScheduleState.SUPERSEDED,
                    kind=workflow.status.schedule.kind,
                    message=superseded,
                )
            await self._set_status(workflow, wanted)

    async def _set_status(self, workflow: Workflow, wanted: ScheduleStatus) -> None:
        """Write the schedule status (compare-and-swap on the workflow's version)."""
        current: Workflow | None = workflow
        for _ in range(_MAX_RECORD_ATTEMPTS):
            if current is None or current.status.schedule is None:
                return
            have = current.status.schedule
            if (have.state, have.kind, have.message, have.schedule_id) == (
                wanted.state,
                wanted.kind,
                wanted.message,
                wanted.schedule_id,
            ):
                return
            updated = current.model_copy(
                update={
                    "status": current.status.model_copy(
                        update={"schedule": wanted.model_copy(update={"updated_at": utcnow()})}
                    ),
                    "metadata": current.metadata.model_copy(
                        update={"version": current.metadata.version + 1, "updated_at": utcnow()}
                    ),
                }
            )
            if await self._store.replace(
                Collection.WORKFLOWS, updated.to_doc(), expected_version=current.metadata.version
            ):
                return
            doc = await self._store.get(Collection.WORKFLOWS, workflow.metadata.id)
            current = Workflow.model_validate(doc) if doc else None
        log.warning("gave up recording the schedule state of %s", workflow.metadata.id)

    # --- reconcile -------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Sync the names left PENDING and, every sweep interval, every scheduled name."""
        if self._dispatcher.client is None:
            return
        names = await self._names_in_state(ScheduleState.PENDING)
        now = time.monotonic()
        if now - self._last_sweep >= self._settings.stigmer_schedule_sweep_interval_seconds:
            names |= await self._names_in_state(ScheduleState.ACTIVE)
            names |= await self._temporal_names()
            names |= await self._loops.names(self._dispatcher.client)
            self._last_sweep = now
        for namespace, name in sorted(names):
            if not await self.sync(namespace, name):
                return  # Temporal went away; next round

    async def _names_in_state(self, state: ScheduleState) -> set[tuple[str, str]]:
        docs = await self._store.list(
            Collection.WORKFLOWS, filters={"status.schedule.state": state.value}, limit=1000
        )
        return {(d["spec"]["namespace"], d["spec"]["name"]) for d in docs}

    async def _temporal_names(self) -> set[tuple[str, str]]:
        """Names of this installation's schedules on Temporal, to delete orphans (workflows
        deleted while Temporal was down). Listing is eventually consistent: a name seen
        late is swept next time."""
        client = self._dispatcher.client
        if client is None:
            return set()
        prefix = f"{SCHEDULE_ID_PREFIX}{self._queue}/"
        names: set[tuple[str, str]] = set()
        try:
            async for entry in await client.list_schedules(rpc_timeout=self._rpc_timeout()):
                if entry.id.startswith(prefix):
                    namespace, _, name = entry.id[len(prefix) :].partition("/")
                    names.add((namespace, name))
        except RPCError as exc:
            log.warning("could not list Temporal schedules: %s", exc)
        return names

    # --- read ------------------------------------------------------------------------------

    async def describe(self, workflow: Workflow) -> WorkflowSchedule:
        """The stored state and, for an ACTIVE schedule, Temporal's live view of it."""
        document_schedule = workflow.spec.document.get("schedule")
        result = WorkflowSchedule(
            workflow_id=workflow.metadata.id,
            schedule=document_schedule if isinstance(document_schedule, dict) else None,
            status=workflow.status.schedule,
        )
        status = workflow.status.schedule
        if (
            status is None
            or status.state is not ScheduleState.ACTIVE
            or status.kind not in (None, ScheduleKind.TIME)  # loops and events have no fires
            or not status.schedule_id
        ):
            return result
        client = self._dispatcher.client
        if client is None:
            return result.model_copy(update={"temporal": "unavailable"})
        try:
            description = await client.get_schedule_handle(status.schedule_id).describe(
                rpc_timeout=self._rpc_timeout()
            )
        except RPCError as exc:
            log.warning("could not describe schedule %s: %s", status.schedule_id, exc)
            return result.model_copy(update={"temporal": "unavailable"})
        info = description.info
        return result.model_copy(
            update={
                "temporal": "ok",
                "paused": description.schedule.state.paused,
                "next_fire_times": list(info.next_action_times),
                "recent_fires": [
                    ScheduledFire(scheduled_at=a.scheduled_at, started_at=a.started_at)
                    for a in info.recent_actions
                ],
                "fires": info.num_actions,
            }
        )

    # --- helpers ---------------------------------------------------------------------------

    async def _versions(self, namespace: str, name: str) -> list[Workflow]:
        """Every registered version of namespace/name, newest first."""
        docs = await self._store.list(
            Collection.WORKFLOWS,
            filters={"spec.namespace": namespace, "spec.name": name},
            limit=_MAX_VERSIONS,
        )
        return [Workflow.model_validate(d) for d in docs]

    async def _scheduled_versions(self, namespace: str, name: str) -> bool:
        for state in (ScheduleState.ACTIVE, ScheduleState.PENDING):
            found = await self._store.find_one(
                Collection.WORKFLOWS,
                {"spec.namespace": namespace, "spec.name": name, "status.schedule.state": state},
            )
            if found is not None:
                return True
        return False

    def _rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self._settings.stigmer_temporal_connect_timeout_seconds)


def target_of(description: ScheduleDescription) -> str | None:
    """The Stigmer workflow id a schedule starts, read from its action's workflow id."""
    action = description.schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow):
        return None
    prefix = scheduled_run_workflow_id("")
    return action.id[len(prefix) :] if action.id.startswith(prefix) else None


__all__ = ["ScheduleService", "initial_status", "target_of"]
