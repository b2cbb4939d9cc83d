"""``schedule.on``: events posted to ``POST /v1/events`` start executions.

The workflows whose schedule is an ACTIVE ``on`` (the newest version of each namespace/name)
are matched against every posted event on the literal attributes of their filters. The
execution's input is the list of the events that started it, as the specification says
(``$workflow.input[0]`` is the first).

* ``one`` / ``any``: each matching event starts one execution. Its request id is derived from
  the namespace/name and the event's ``source`` and ``id`` (what makes a CloudEvent unique),
  so a retried post, on any replica, starts no second execution.
* ``all``: each filter takes one event (the first unfilled filter an event matches); the event
  that fills the last one starts an execution with all of them, in filter order. The partial
  set lives in the store (one document per namespace/name) and changes by compare-and-swap,
  so replicas racing on events see one order. Completing a set and marking it ``firing`` is one
  write; the execution is then created with a request id derived from the set, and the mark
  cleared. If the replica dies in between, the next event or the reconciler finishes the
  firing, and the request id makes that create idempotent. Event keys recently consumed are
  kept, so a retried post is not counted twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stigmer_api.executions import CreateExecution, ExecutionService
from stigmer_api.scheduling.spec import ScheduleNotRunnableError, trigger_of
from stigmer_api.storage import Collection, DocumentStore
from stigmer_core.errors import ConflictError, DispatchFailedError, NotFoundError
from stigmer_core.event_strategy import (
    EventFilter,
    Strategy,
    filter_matches_literally,
    first_open_slot,
)
from stigmer_core.model import ScheduleKind, ScheduleState, Workflow, utcnow

log = logging.getLogger(__name__)

TRIGGER_LABEL = "stigmer-trigger"
EVENT_ID_LABEL = "stigmer-event-id"
# Enough to recognise a retried post of any recent event; older keys are forgotten.
SEEN_LIMIT = 1000
_MAX_ATTEMPTS = 50
_PAGE = 500


def event_key(event: Mapping[str, Any]) -> str:
    """A CloudEvent's identity: ``source`` and ``id`` together (the spec's uniqueness rule)."""
    return hashlib.sha256(f"{event['source']}\0{event['id']}".encode()).hexdigest()[:32]


def one_request_id(namespace: str, name: str, event: Mapping[str, Any]) -> str:
    return f"on/{namespace}/{name}/{event_key(event)}"


def all_request_id(namespace: str, name: str, keys: Sequence[str]) -> str:
    digest = hashlib.sha256("\0".join(keys).encode()).hexdigest()[:32]
    return f"on-all/{namespace}/{name}/{digest}"


def starts_one(strategy: Strategy, event: Mapping[str, Any]) -> bool:
    """``one`` / ``any``: whether ``event`` starts an execution (``any: []`` takes every event)."""
    if not strategy.filters:
        return strategy.kind == "any"
    return any(filter_matches_literally(f, event) for f in strategy.filters)


@dataclass(frozen=True)
class Firing:
    """A complete ``all`` set whose execution is being created."""

    request_id: str
    workflow_id: str
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class AllState:
    """The ``all`` progress of one namespace/name, as stored."""

    workflow_id: str
    slots: list[dict[str, Any] | None]
    slot_keys: list[str | None]
    seen: list[str] = field(default_factory=list)
    firing: Firing | None = None

    @classmethod
    def empty(cls, workflow_id: str, size: int, seen: list[str] | None = None) -> AllState:
        return cls(workflow_id, [None] * size, [None] * size, list(seen or []))

    def offer(
        self,
        filters: Sequence[EventFilter],
        event: dict[str, Any],
        key: str,
        namespace: str,
        name: str,
    ) -> AllState | None:
        """The state after ``event`` (None: it changes nothing — a repeat or no open filter
        matches). Filling the last filter moves the set to ``firing`` and empties the slots."""
        if key in self.seen:
            return None
        index = first_open_slot(filters, [s is not None for s in self.slots], event)
        if index is None:
            return None
        slots = list(self.slots)
        keys = list(self.slot_keys)
        slots[index], keys[index] = event, key
        seen = [*self.seen, key][-SEEN_LIMIT:]
        if any(s is None for s in slots):
            return replace(self, slots=slots, slot_keys=keys, seen=seen)
        complete = [s for s in slots if s is not None]
        firing = Firing(
            all_request_id(namespace, name, [k for k in keys if k is not None]),
            self.workflow_id,
            complete,
        )
        return replace(AllState.empty(self.workflow_id, len(filters), seen), firing=firing)


def state_id(namespace: str, name: str) -> str:
    return "etr-" + hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:40]


def state_from_doc(doc: Mapping[str, Any] | None, workflow_id: str, size: int) -> AllState:
    """The stored state; a state of another version (or filter count) starts over, keeping
    the keys already seen and any firing still to finish."""
    if doc is None:
        return AllState.empty(workflow_id, size)
    spec = doc["spec"]
    raw = spec.get("firing")
    firing = Firing(raw["request_id"], raw["workflow_id"], raw["events"]) if raw else None
    if spec.get("workflow_id") != workflow_id or len(spec.get("slots") or []) != size:
        return replace(AllState.empty(workflow_id, size, spec.get("seen")), firing=firing)
    return AllState(workflow_id, spec["slots"], spec["slot_keys"], spec.get("seen") or [], firing)


def state_to_doc(
    doc_id: str, version: int, namespace: str, name: str, state: AllState
) -> dict[str, Any]:
    firing = state.firing
    return {
        "metadata": {"id": doc_id, "version": version, "updated_at": utcnow().isoformat()},
        "spec": {
            "namespace": namespace,
            "name": name,
            "workflow_id": state.workflow_id,
            "slots": state.slots,
            "slot_keys": state.slot_keys,
            "seen": state.seen,
            "firing": None
            if firing is None
            else {
                "request_id": firing.request_id,
                "workflow_id": firing.workflow_id,
                "events": firing.events,
            },
            "firing_pending": firing is not None,
        },
    }


class EventTriggers:
    def __init__(self, *, store: DocumentStore, executions: ExecutionService) -> None:
        self._store = store
        self._executions = executions

    async def fire(self, event: dict[str, Any]) -> list[str]:
        """Start the executions ``event`` triggers; their ids (a repeated post of a ``one``
        or ``any`` event returns the executions its first post started)."""
        started: list[str] = []
        for workflow in await self._active():
            try:
                trigger = trigger_of(workflow.spec.document)
            except ScheduleNotRunnableError:
                continue  # recorded ACTIVE before a rule changed: the next sync fixes it
            strategy = trigger.on if trigger is not None else None
            if strategy is None:
                continue
            spec = workflow.spec
            if strategy.kind == "all":
                started += await self._offer_all(workflow, strategy, event)
            elif starts_one(strategy, event):
                found = await self._start(
                    workflow.metadata.id,
                    [event],
                    one_request_id(spec.namespace, spec.name, event),
                    event_id=event["id"],
                )
                started += [found] if found else []
        return started

    async def finish_pending(self) -> None:
        """Create the executions of ``all`` sets completed by a replica that died before it
        could (the reconciler calls this)."""
        docs = await self._store.list(
            Collection.EVENT_TRIGGERS, filters={"spec.firing_pending": True}, limit=_PAGE
        )
        for doc in docs:
            spec = doc["spec"]
            state = state_from_doc(doc, spec["workflow_id"], len(spec["slots"]))
            await self._finish(spec["namespace"], spec["name"], state)

    async def _active(self) -> list[Workflow]:
        workflows: list[Workflow] = []
        cursor: str | None = None
        while True:
            docs = await self._store.list(
                Collection.WORKFLOWS,
                filters={
                    "status.schedule.state": ScheduleState.ACTIVE.value,
                    "status.schedule.kind": ScheduleKind.EVENT.value,
                },
                limit=_PAGE,
                before_id=cursor,
            )
            workflows += [Workflow.model_validate(d) for d in docs]
            if len(docs) < _PAGE:
                return workflows
            cursor = docs[-1]["metadata"]["id"]

    async def _offer_all(
        self, workflow: Workflow, strategy: Strategy, event: dict[str, Any]
    ) -> list[str]:
        namespace, name = workflow.spec.namespace, workflow.spec.name
        doc_id = state_id(namespace, name)
        key = event_key(event)
        started: list[str] = []
        for _ in range(_MAX_ATTEMPTS):
            doc = await self._store.get(Collection.EVENT_TRIGGERS, doc_id)
            state = state_from_doc(doc, workflow.metadata.id, len(strategy.filters))
            if state.firing is not None:  # a set completed earlier is not started yet
                found = await self._finish(namespace, name, state)
                started += [found] if found else []
                continue
            after = state.offer(strategy.filters, event, key, namespace, name)
            if after is None:
                return started
            if await self._write(doc, doc_id, namespace, name, after):
                if after.firing is not None:
                    found = await self._finish(namespace, name, after)
                    started += [found] if found else []
                return started
        raise ConflictError(
            f"the events of {namespace}/{name} are changing too often; post the event again",
            field="id",
        )

    async def _finish(self, namespace: str, name: str, state: AllState) -> str | None:
        """Create the firing's execution (idempotent), then clear the firing mark."""
        firing = state.firing
        assert firing is not None
        found = await self._start(
            firing.workflow_id, firing.events, firing.request_id, event_id=firing.events[-1]["id"]
        )
        doc_id = state_id(namespace, name)
        for _ in range(_MAX_ATTEMPTS):
            doc = await self._store.get(Collection.EVENT_TRIGGERS, doc_id)
            if (
                doc is None
                or (doc["spec"].get("firing") or {}).get("request_id") != firing.request_id
            ):
                break  # another replica cleared it
            current = state_from_doc(doc, doc["spec"]["workflow_id"], len(doc["spec"]["slots"]))
            if await self._write(doc, doc_id, namespace, name, replace(current, firing=None)):
                break
        return found

    async def _write(
        self,
        doc: Mapping[str, Any] | None,
        doc_id: str,
        namespace: str,
        name: str,
        state: AllState,
    ) -> bool:
        if doc is None:
            try:
                await self._store.insert(
                    Collection.EVENT_TRIGGERS, state_to_doc(doc_id, 1, namespace, name, state)
                )
                return True
            except ConflictError:
                return False
        version = int(doc["metadata"]["version"])
        return await self._store.replace(
            Collection.EVENT_TRIGGERS,
            state_to_doc(doc_id, version + 1, namespace, name, state),
            expected_version=version,
        )

    async def _start(
        self, workflow_id: str, events: list[dict[str, Any]], request_id: str, *, event_id: str
    ) -> str | None:
        try:
            execution = await self._executions.create(
                CreateExecution(
                    workflow_id=workflow_id,
                    input=events,
                    labels={TRIGGER_LABEL: "event", EVENT_ID_LABEL: event_id},
                    request_id=request_id,
                )
            )
        except DispatchFailedError as exc:
            # Stored FAILED with the reason; the event is not the problem.
            log.error(
                "event %s: the execution of %s failed to start: %s", event_id, workflow_id, exc
            )
            return None
        except NotFoundError:
            log.warning("event %s: workflow %s was deleted meanwhile", event_id, workflow_id)
            return None
        log.info("event %s started execution %s", event_id, execution.metadata.id)
        return execution.metadata.id


__all__ = ["AllState", "EventTriggers", "event_key", "one_request_id", "starts_one"]
