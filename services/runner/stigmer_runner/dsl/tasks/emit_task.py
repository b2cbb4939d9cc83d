"""The ``emit`` task: publish a CloudEvent through the Stigmer API; output the event.

Defaults are filled in here, inside the workflow, so they are the same on replay and on a
retried publish (consumers can de-duplicate on ``source`` + ``id``): ``id`` a UUID drawn
from the runtime's deterministic random, ``time`` the workflow clock, ``specversion`` 1.0.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from stigmer_runner.dsl.contracts import ActivityCall
from stigmer_runner.dsl.event_contracts import CLOUDEVENTS_SPEC_VERSION, EMIT_EVENT_ACTIVITY
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult

REQUIRED = ("source", "type")


async def run_emit(task: TaskContext) -> TaskResult:
    """Build the event from ``emit.event.with``, publish it, output it."""
    emit = task.definition.get("emit")
    event_definition = emit.get("event") if isinstance(emit, Mapping) else None
    if not isinstance(event_definition, Mapping):
        raise task.configuration_error("'emit' must be a mapping with 'event'")
    attributes = event_definition.get("with")
    if not isinstance(attributes, Mapping):
        raise task.configuration_error("emit.event.with must map the event's attributes")
    event: dict[str, Any] = task.evaluate_value(dict(attributes), field="emit.event.with")
    for name in REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            raise task.configuration_error(f"emit.event.with.{name} must be a non-empty string")
    for name in ("id", "subject", "time", "datacontenttype", "dataschema"):
        if name in event and not isinstance(event[name], str):
            raise task.configuration_error(f"emit.event.with.{name} must be a string")
    event.setdefault("specversion", CLOUDEVENTS_SPEC_VERSION)
    event.setdefault("id", str(_uuid(task)))
    event.setdefault("time", task.runtime.now().astimezone(UTC).isoformat().replace("+00:00", "Z"))
    await task.runtime.execute(ActivityCall(EMIT_EVENT_ACTIVITY, {"event": event}))
    return TaskResult(event)


def _uuid(task: TaskContext) -> uuid.UUID:
    """A version-4 UUID from the runtime's replay-safe random numbers."""
    bits = 0
    for _ in range(4):
        bits = (bits << 32) | int(task.runtime.random() * 2**32)
    return uuid.UUID(int=bits, version=4)
