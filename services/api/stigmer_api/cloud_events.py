"""CloudEvents in, Temporal signals out: validation, subscriptions and delivery.

Events also start executions of workflows scheduled ``on`` them
(stigmer_api.scheduling.event_triggers).

A ``listen`` task registers a subscription (its task pointer and routing filters) before it
waits; ``POST /v1/events`` delivers an event to every execution with a subscription one of
whose filters matches, as the ``stigmer.runner.event`` signal on the execution's DSL
workflow. Filters here hold only literal attribute values; the workflow applies the full
filter (runtime expressions, correlation) to what it receives, so routing may deliver a
little more than a listen consumes but never less.

Subscriptions of executions that are over are dropped when an event next matches them.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pydantic import Field

from stigmer_api.dispatch import Dispatcher
from stigmer_api.executions import ExecutionService
from stigmer_api.scheduling.event_triggers import EventTriggers
from stigmer_api.storage import Collection, DocumentStore
from stigmer_core.errors import (
    ConflictError,
    NotFoundError,
    TerminalPhaseError,
    ValidationFailedError,
)
from stigmer_core.event_matching import literal_matches
from stigmer_core.model import Metadata, _Model
from stigmer_core.temporal_contracts import EVENT_SIGNAL

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
OPTIONAL_STRING_ATTRIBUTES = ("subject", "time", "datacontenttype", "dataschema")
MAX_FILTERS = 100
MAX_PATTERN_LENGTH = 1000
_PAGE = 500


class Subscribe(_Model):
    """Body of PUT /v1/executions/{id}/subscriptions: one listen task's routing filters."""

    task: str = Field(min_length=1, description="The listen task's JSON pointer.")
    filters: list[dict[str, Any]] = Field(
        max_length=MAX_FILTERS,
        description=(
            "Literal CloudEvent attributes, one mapping per filter; an event is delivered "
            "when it matches all the attributes of any filter. `{}` matches every event."
        ),
    )


class Subscription(_Model):
    metadata: Metadata
    execution_id: str
    task: str
    filters: list[dict[str, Any]]


class Delivery(_Model):
    """Response of POST /v1/events."""

    event_id: str
    delivered_to: list[str] = Field(
        description="Executions that were listening for the event and were signalled."
    )
    started: list[str] = Field(
        default_factory=list,
        description=(
            "Executions the event started: workflows whose `schedule.on` it matches. A "
            "repeated post of the same event (`source` and `id`) starts none; for `one` and "
            "`any` it lists the executions the first post started."
        ),
    )


def validate_event(body: Any) -> dict[str, Any]:
    """Check a structured-mode CloudEvent; ValidationFailedError names the bad attribute."""
    if not isinstance(body, dict):
        raise ValidationFailedError("a CloudEvent must be a JSON object", field="body")
    for name in REQUIRED_ATTRIBUTES:
        value = body.get(name)
        if not isinstance(value, str) or not value:
            raise ValidationFailedError(
                f"required CloudEvent attribute {name} is missing or not a non-empty string",
                field=name,
            )
    if body["specversion"] != SPEC_VERSION:
        raise ValidationFailedError(
            f"unsupported specversion {body['specversion']!r}; expected {SPEC_VERSION!r}",
            field="specversion",
        )
    for name in OPTIONAL_STRING_ATTRIBUTES:
        if name in body and not isinstance(body[name], str):
            raise ValidationFailedError(f"{name} must be a string", field=name)
    if "data" in body and "data_base64" in body:
        raise ValidationFailedError("give data or data_base64, not both", field="data_base64")
    return body


def validate_filters(filters: list[dict[str, Any]]) -> None:
    for index, attributes in enumerate(filters):
        for name, value in attributes.items():
            if isinstance(value, str) and len(value) > MAX_PATTERN_LENGTH:
                raise ValidationFailedError(
                    f"filter values are limited to {MAX_PATTERN_LENGTH} characters",
                    field=f"filters[{index}].{name}",
                )


def event_matches(filters: list[dict[str, Any]], event: Mapping[str, Any]) -> bool:
    """Whether any filter accepts ``event``: every attribute of the filter matches.

    The literal rules of stigmer_core.event_matching, which the runner applies too.
    """
    return any(
        all(name in event and literal_matches(value, event[name]) for name, value in f.items())
        for f in filters
    )


def subscription_id(execution_id: str, task: str) -> str:
    """One subscription per listen task of an execution, so registering twice replaces."""
    digest = hashlib.sha256(task.encode()).hexdigest()[:16]
    return f"sub-{execution_id}-{digest}"


class EventService:
    """Subscriptions in the store, and delivery of events to the executions listening."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        dispatcher: Dispatcher,
        executions: ExecutionService,
        triggers: EventTriggers,
    ) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._executions = executions
        self._triggers = triggers

    async def subscribe(self, execution_id: str, request: Subscribe) -> Subscription:
        """Register (or replace) a listen task's filters; 409 once the execution is over."""
        execution = await self._executions.get(execution_id)
        if execution.status.phase.terminal:
            raise TerminalPhaseError(
                f"execution {execution_id} is {execution.status.phase.value}; it listens no more",
                field="execution_id",
            )
        validate_filters(request.filters)
        doc_id = subscription_id(execution_id, request.task)
        for _ in range(10):
            current = await self._store.get(Collection.SUBSCRIPTIONS, doc_id)
            version = current["metadata"]["version"] if current else 0
            subscription = Subscription(
                metadata=Metadata(id=doc_id, name=request.task, version=version + 1),
                execution_id=execution_id,
                task=request.task,
                filters=request.filters,
            )
            doc = _to_doc(subscription)
            if current is None:
                try:
                    await self._store.insert(Collection.SUBSCRIPTIONS, doc)
                    return subscription
                except ConflictError:
                    continue
            if await self._store.replace(Collection.SUBSCRIPTIONS, doc, expected_version=version):
                return subscription
        raise ConflictError(f"subscription {doc_id} is changing too often; retry", field="task")

    async def unsubscribe(self, execution_id: str, task: str | None) -> int:
        """Remove one listen task's subscription, or all of the execution's; how many."""
        if task is not None:
            deleted = await self._store.delete(
                Collection.SUBSCRIPTIONS, subscription_id(execution_id, task)
            )
            return int(deleted)
        removed = 0
        for doc in await self._subscriptions_of(execution_id):
            removed += int(await self._store.delete(Collection.SUBSCRIPTIONS, doc_id_of(doc)))
        return removed

    async def subscriptions(self, execution_id: str) -> list[Subscription]:
        """The execution's current subscriptions."""
        await self._executions.get(execution_id)
        docs = await self._subscriptions_of(execution_id)
        return [_from_doc(doc) for doc in docs]

    async def deliver(self, event: dict[str, Any]) -> Delivery:
        """Signal the event to every execution listening for it, once per execution, and
        start the executions of the workflows whose ``schedule.on`` it triggers."""
        listening: dict[str, None] = {}
        async for doc in self._all_subscriptions():
            spec = doc.get("spec") or {}
            if event_matches(spec.get("filters") or [], event):
                listening.setdefault(str(spec.get("execution_id")), None)
        delivered: list[str] = []
        for execution_id in sorted(listening):
            try:
                execution = await self._executions.get(execution_id)
            except NotFoundError:
                await self.unsubscribe(execution_id, None)
                continue
            if execution.status.phase.terminal:
                await self.unsubscribe(execution_id, None)
                continue
            if await self._dispatcher.signal(execution_id, EVENT_SIGNAL, event):
                delivered.append(execution_id)
            else:  # its workflow is gone: nobody will consume the event
                await self.unsubscribe(execution_id, None)
        started = await self._triggers.fire(event)
        return Delivery(event_id=event["id"], delivered_to=delivered, started=started)

    async def _subscriptions_of(self, execution_id: str) -> list[dict[str, Any]]:
        return await self._store.list(
            Collection.SUBSCRIPTIONS,
            filters={"spec.execution_id": execution_id},
            limit=MAX_FILTERS,
        )

    async def _all_subscriptions(self) -> AsyncIterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            docs = await self._store.list(Collection.SUBSCRIPTIONS, limit=_PAGE, before_id=cursor)
            for doc in docs:
                yield doc
            if len(docs) < _PAGE:
                return
            cursor = doc_id_of(docs[-1])


def doc_id_of(doc: Mapping[str, Any]) -> str:
    return str(doc["metadata"]["id"])


def _to_doc(subscription: Subscription) -> dict[str, Any]:
    return {
        "metadata": subscription.metadata.model_dump(mode="json"),
        "spec": {
            "execution_id": subscription.execution_id,
            "task": subscription.task,
            "filters": subscription.filters,
        },
    }


def _from_doc(doc: Mapping[str, Any]) -> Subscription:
    return Subscription(
        metadata=Metadata.model_validate(doc["metadata"]),
        execution_id=doc["spec"]["execution_id"],
        task=doc["spec"]["task"],
        filters=doc["spec"]["filters"],
    )
