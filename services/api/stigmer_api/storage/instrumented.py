"""A store that counts the failures of the store it wraps (`stigmer_store_errors_total`).

Counted at the port, so both backends count alike. A ConflictError (a unique key taken) and
a ValidationFailedError (a document the store refuses) are answers, not failures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from stigmer_api.metrics import STORE_ERRORS
from stigmer_api.storage.base import Collection, DocumentStore
from stigmer_core.errors import ConflictError, ValidationFailedError

T = TypeVar("T")

_ANSWERS = (ConflictError, ValidationFailedError)


async def counted(operation: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except _ANSWERS:
        raise
    except Exception:
        STORE_ERRORS.labels(operation=operation).inc()
        raise


class InstrumentedStore:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def insert(self, collection: Collection, doc: Mapping[str, Any]) -> None:
        await counted("insert", self._store.insert(collection, doc))

    async def get(self, collection: Collection, doc_id: str) -> dict[str, Any] | None:
        return await counted("get", self._store.get(collection, doc_id))

    async def find_one(
        self, collection: Collection, filters: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return await counted("find_one", self._store.find_one(collection, filters))

    async def list(
        self,
        collection: Collection,
        *,
        filters: Mapping[str, Any] | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[dict[str, Any]]:
        return await counted(
            "list",
            self._store.list(collection, filters=filters, limit=limit, before_id=before_id),
        )

    async def count(self, collection: Collection, filters: Mapping[str, Any]) -> int:
        return await counted("count", self._store.count(collection, filters))

    async def replace(
        self, collection: Collection, doc: Mapping[str, Any], *, expected_version: int
    ) -> bool:
        return await counted(
            "replace", self._store.replace(collection, doc, expected_version=expected_version)
        )

    async def delete(self, collection: Collection, doc_id: str) -> bool:
        return await counted("delete", self._store.delete(collection, doc_id))

    async def ping(self) -> None:
        await counted("ping", self._store.ping())

    async def close(self) -> None:
        await self._store.close()
