"""The store port.

Stores keep resource envelopes (the JSON form of stigmer_core.model resources) as
documents keyed by ``metadata.id``. They know nothing of status rules: those live in
stigmer_core.status and stigmer_api.executions, above this port, so both backends agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol


class Collection(StrEnum):
    WORKFLOWS = "workflows"
    INSTANCES = "instances"
    EXECUTIONS = "executions"
    SUBSCRIPTIONS = "subscriptions"
    """Listen tasks' routing filters (stigmer_api.cloud_events)."""
    REQUESTS = "requests"
    """Idempotency keys of execution creates: request id digest → execution id."""
    EVENT_TRIGGERS = "event_triggers"
    """``schedule.on`` with ``all``: the events matched so far, per namespace/name."""


# Unique keys per collection (dotted paths). A second insert with the same values raises
# ConflictError: this is what makes workflow registration and default instances idempotent
# across API replicas without locks.
UNIQUE_KEYS: dict[Collection, list[tuple[str, ...]]] = {
    Collection.WORKFLOWS: [("spec.namespace", "spec.name", "spec.version")],
    Collection.INSTANCES: [],
    Collection.EXECUTIONS: [],
    Collection.SUBSCRIPTIONS: [],
    Collection.REQUESTS: [],
    Collection.EVENT_TRIGGERS: [],
}

# Fields list() filters on; backends index them.
INDEXED_FIELDS: dict[Collection, list[str]] = {
    Collection.WORKFLOWS: ["spec.name", "status.schedule.state"],
    Collection.INSTANCES: ["spec.workflow_id"],
    Collection.EXECUTIONS: ["status.phase", "spec.workflow_id", "spec.instance_id"],
    Collection.SUBSCRIPTIONS: ["spec.execution_id"],
    Collection.REQUESTS: [],
    Collection.EVENT_TRIGGERS: ["spec.firing_pending"],
}


# Fields that hold users' data (workflow documents, inputs, outputs, errors, env, event
# filters): any JSON at all. A store must keep them opaque: MongoDB restricts keys that start
# with "$" or contain "." and some MongoDB-protocol servers reject nested arrays, and no query
# ever looks inside them. "[]" stands for every element of a list.
OPAQUE_FIELDS: dict[Collection, list[str]] = {
    Collection.WORKFLOWS: ["spec.document"],
    Collection.INSTANCES: ["spec.env"],
    Collection.EXECUTIONS: [
        "spec.input",
        "spec.env",
        "status.output",
        "status.error",
        "status.tasks[].input",
        "status.tasks[].output",
        "status.tasks[].error",
    ],
    Collection.SUBSCRIPTIONS: ["spec.filters"],
    Collection.REQUESTS: [],
    Collection.EVENT_TRIGGERS: ["spec.slots", "spec.firing"],
}


class DocumentStore(Protocol):
    """Asynchronous document storage. Every write is durable when the call returns."""

    async def insert(self, collection: Collection, doc: Mapping[str, Any]) -> None:
        """Insert a new document; ConflictError if its id or a unique key already exists."""

    async def get(self, collection: Collection, doc_id: str) -> dict[str, Any] | None:
        """The document with this ``metadata.id``, or None."""

    async def find_one(
        self, collection: Collection, filters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Any one document whose dotted-path fields equal ``filters``."""

    async def list(
        self,
        collection: Collection,
        *,
        filters: Mapping[str, Any] | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Documents matching ``filters`` (dotted-path equality), newest first (id
        descending), only ids below ``before_id`` when given, at most ``limit``."""

    async def count(self, collection: Collection, filters: Mapping[str, Any]) -> int:
        """How many documents match ``filters`` (dotted-path equality, null matching a
        missing field too)."""

    async def replace(
        self, collection: Collection, doc: Mapping[str, Any], *, expected_version: int
    ) -> bool:
        """Replace the document if its stored ``metadata.version`` is ``expected_version``.

        Returns False (and writes nothing) when the version differs or the document is
        gone; the caller re-reads and retries. This is the optimistic concurrency that
        keeps concurrent status updates from overwriting each other.
        """

    async def delete(self, collection: Collection, doc_id: str) -> bool:
        """Delete by id; True if a document was deleted."""

    async def ping(self) -> None:
        """Raise UnavailableError if the backend cannot be reached."""

    async def close(self) -> None:
        """Release connections."""
