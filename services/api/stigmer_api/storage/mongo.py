"""The MongoDB document store, on pymongo's asyncio client.

Documents are stored with ``_id`` equal to ``metadata.id`` so that the primary key is the
id every caller already knows and ``list`` can page on it. Writes wait for a majority;
reads use majority read concern where the server offers it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from bson.errors import BSONError
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    ConfigurationError,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    InvalidOperation,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)
from pymongo.read_concern import ReadConcern

from stigmer_api.storage import documents
from stigmer_api.storage.base import INDEXED_FIELDS, OPAQUE_FIELDS, UNIQUE_KEYS, Collection
from stigmer_api.storage.documents import ID_FIELD
from stigmer_core.errors import (
    ConflictError,
    StigmerError,
    UnavailableError,
    ValidationFailedError,
)

Document = dict[str, Any]

# Servers started without majority read concern answer a majority read with this code
# (ReadConcernMajorityNotEnabled); InvalidOptions is the older spelling of the same refusal.
_NO_MAJORITY_READS = frozenset({148, 72})


@dataclass
class _DocLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class MongoStore:
    """A DocumentStore on MongoDB (or any server speaking its wire protocol)."""

    def __init__(
        self,
        *,
        client: AsyncMongoClient[Document],
        database: str,
        majority_reads: bool = True,
    ) -> None:
        self._client = client
        self._db: AsyncDatabase[Document] = client.get_database(
            database,
            write_concern=WriteConcern("majority"),
            read_concern=ReadConcern("majority") if majority_reads else ReadConcern(),
        )
        self._doc_locks: dict[tuple[Collection, str], _DocLock] = {}

    @classmethod
    async def open(cls, uri: str, *, database: str, timeout_seconds: float = 5.0) -> MongoStore:
        """Connect, check the server answers, and create the indexes (idempotently)."""
        timeout_ms = max(1, int(timeout_seconds * 1000))
        try:
            client: AsyncMongoClient[Document] = AsyncMongoClient(
                uri,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                tz_aware=True,
            )
        except ConfigurationError as exc:
            raise ValidationFailedError(f"invalid MongoDB URI: {exc}", field="uri") from exc
        try:
            majority = await _supports_majority_reads(client, database)
            store = cls(client=client, database=database, majority_reads=majority)
            await store.ensure_indexes()
        except BaseException:
            await client.close()
            raise
        return store

    async def ensure_indexes(self) -> None:
        """Create the unique keys and list indexes; existing identical indexes are kept."""
        for collection in Collection:
            models = [
                IndexModel([(path, ASCENDING) for path in key], unique=True)
                for key in UNIQUE_KEYS[collection]
            ]
            models += [IndexModel([(path, ASCENDING)]) for path in INDEXED_FIELDS[collection]]
            # One index per command: FerretDB 1.x drops the connection when a single
            # createIndexes names several indexes that all exist already.
            for model in models:
                with _translated("creating indexes"):
                    await self._coll(collection).create_indexes([model])

    async def insert(self, collection: Collection, doc: Mapping[str, Any]) -> None:
        """Insert a new document; ConflictError if its id or a unique key already exists."""
        doc_id = documents.doc_id(doc)
        documents.doc_version(doc)
        try:
            with _translated("inserting"):
                await self._coll(collection).insert_one(_to_stored(collection, doc_id, doc))
        except DuplicateKeyError as exc:
            raise await self._conflict(collection, doc_id, doc, exc) from exc

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        """The document with this ``metadata.id``, or None."""
        with _translated("reading"):
            found = await self._coll(collection).find_one({"_id": doc_id})
        return _from_stored(collection, found)

    async def find_one(self, collection: Collection, filters: Mapping[str, Any]) -> Document | None:
        """Any one document whose dotted-path fields equal ``filters``."""
        query = _query(filters)
        with _translated("reading"):
            found = await self._coll(collection).find_one(query)
        return _from_stored(collection, found)

    async def count(self, collection: Collection, filters: Mapping[str, Any]) -> int:
        """How many documents match ``filters`` (dotted-path equality)."""
        query = _query(filters)
        with _translated("counting"):
            found: int = await self._coll(collection).count_documents(query)
        return found

    async def list(
        self,
        collection: Collection,
        *,
        filters: Mapping[str, Any] | None = None,
        limit: int = 50,
        before_id: str | None = None,
    ) -> list[Document]:
        """Up to ``limit`` documents matching ``filters``, newest first, below ``before_id``."""
        documents.check_limit(limit)
        query = _query(filters or {})
        if before_id is not None:
            query["_id"] = {"$lt": before_id}
        with _translated("listing"):
            cursor = self._coll(collection).find(query, sort=[("_id", DESCENDING)], limit=limit)
            found = await cursor.to_list()
        return [doc for doc in (_from_stored(collection, d) for d in found) if doc is not None]

    async def replace(
        self, collection: Collection, doc: Mapping[str, Any], *, expected_version: int
    ) -> bool:
        """Replace the document if its stored ``metadata.version`` is ``expected_version``."""
        doc_id = documents.doc_id(doc)
        documents.doc_version(doc)
        # MongoDB applies the filtered replace atomically on its own. Servers that run an
        # update as "query, then write by _id" (FerretDB 1.x) do not, so writes to one
        # document from this process go one at a time; on MongoDB this only queues writes
        # that would have lost the compare-and-swap anyway.
        async with self._doc_lock(collection, doc_id):
            try:
                with _translated("replacing"):
                    result = await self._coll(collection).replace_one(
                        {"_id": doc_id, "metadata.version": expected_version},
                        _to_stored(collection, doc_id, doc),
                    )
            except DuplicateKeyError as exc:
                raise await self._conflict(collection, doc_id, doc, exc, replacing=True) from exc
            except StigmerError as exc:
                # FerretDB 1.x reports a unique-index clash on update as an internal error,
                # not as a duplicate key; a clash is still a clash, so look for one.
                if isinstance(exc, UnavailableError) or exc.__cause__ is None:
                    raise
                fields = await self._find_clash(collection, doc_id, doc, replacing=True)
                if fields is None:
                    raise
                raise documents.conflict(collection, doc, fields) from exc.__cause__
        return result.matched_count == 1

    async def delete(self, collection: Collection, doc_id: str) -> bool:
        """Delete by id; True if a document was deleted."""
        with _translated("deleting"):
            result = await self._coll(collection).delete_one({"_id": doc_id})
        return result.deleted_count == 1

    async def ping(self) -> None:
        """Raise UnavailableError if MongoDB cannot be reached."""
        with _translated("pinging"):
            await self._client.admin.command("ping")

    async def close(self) -> None:
        """Close the client and its connection pool."""
        await self._client.close()

    def _coll(self, collection: Collection) -> AsyncCollection[Document]:
        return self._db[collection.value]

    @asynccontextmanager
    async def _doc_lock(self, collection: Collection, doc_id: str) -> AsyncIterator[None]:
        key = (collection, doc_id)
        entry = self._doc_locks.setdefault(key, _DocLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._doc_locks[key]

    async def _conflict(
        self,
        collection: Collection,
        doc_id: str,
        doc: Mapping[str, Any],
        exc: DuplicateKeyError,
        *,
        replacing: bool = False,
    ) -> ConflictError:
        fields = _key_fields(exc)
        if fields is None:
            # Not every server names the index in the error (FerretDB does not): find it
            # by looking for the document that holds each key.
            fields = await self._find_clash(collection, doc_id, doc, replacing=replacing)
        if fields is None:
            # The clashing document is gone already; name every key it could have been.
            unique = [path for key in UNIQUE_KEYS[collection] for path in key]
            fields = tuple(unique) or (ID_FIELD,)
        return documents.conflict(collection, doc, fields)

    async def _find_clash(
        self, collection: Collection, doc_id: str, doc: Mapping[str, Any], *, replacing: bool
    ) -> tuple[str, ...] | None:
        """The id or unique key that another stored document shares with ``doc``."""
        coll = self._coll(collection)
        with _translated("reading"):
            if not replacing and await coll.find_one({"_id": doc_id}, projection=["_id"]):
                return (ID_FIELD,)
            for key in UNIQUE_KEYS[collection]:
                query = {path: {"$eq": documents.lookup(doc, path)} for path in key}
                query["_id"] = {"$ne": doc_id}
                if await coll.find_one(query, projection=["_id"]):
                    return key
        return None


async def _supports_majority_reads(client: AsyncMongoClient[Document], database: str) -> bool:
    probe = client.get_database(database, read_concern=ReadConcern("majority"))
    with _translated("connecting"):
        await client.admin.command("ping")
        try:
            await probe[Collection.WORKFLOWS.value].find_one({}, projection=["_id"])
        except OperationFailure as exc:
            if exc.code in _NO_MAJORITY_READS:
                return False
            raise
    return True


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn pymongo's exceptions into domain errors, so none crosses the port."""
    try:
        yield
    except DuplicateKeyError:
        raise
    except (ConnectionFailure, ExecutionTimeout, WTimeoutError) as exc:
        raise UnavailableError(f"MongoDB is unavailable while {action}: {_short(exc)}") from exc
    except (BSONError, OverflowError) as exc:
        raise ValidationFailedError(f"MongoDB cannot store the document: {exc}") from exc
    except InvalidOperation as exc:
        # Raised for a closed client: to callers the store is simply not there.
        raise UnavailableError(f"MongoDB client cannot be used while {action}: {exc}") from exc
    except PyMongoError as exc:
        raise StigmerError(f"MongoDB refused {action}: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    # Server selection errors append the whole topology description; the first part says it.
    return str(exc).split(", Timeout:", 1)[0][:300]


def _key_fields(exc: DuplicateKeyError) -> tuple[str, ...] | None:
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if not isinstance(pattern, Mapping) or not pattern:
        return None
    fields = tuple(str(path) for path in pattern)
    return (ID_FIELD,) if fields == ("_id",) else fields


def _to_stored(collection: Collection, doc_id: str, doc: Mapping[str, Any]) -> Document:
    stored: Document = {"_id": doc_id}
    stored.update((key, value) for key, value in doc.items() if key != "_id")
    for path in OPAQUE_FIELDS[collection]:
        _transform(stored, path.split("."), _encode)
    return stored


def _from_stored(collection: Collection, stored: Mapping[str, Any] | None) -> Document | None:
    if stored is None:
        return None
    doc = {key: value for key, value in stored.items() if key != "_id"}
    for path in OPAQUE_FIELDS[collection]:
        _transform(doc, path.split("."), _decode)
    return doc


def _transform(node: Any, parts: list[str], change: Callable[[Any], Any]) -> None:
    """Apply ``change`` to the value at ``parts`` (``name[]`` descends into every element),
    copying the containers on the way so the caller's document is left as it was."""
    if not isinstance(node, dict) or not parts:
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    key = head[:-2] if many else head
    if key not in node:
        return
    if many:
        if isinstance(node[key], list):
            node[key] = [dict(item) if isinstance(item, dict) else item for item in node[key]]
            for item in node[key]:
                _transform(item, rest, change)
    elif rest:
        if isinstance(node[key], dict):
            node[key] = dict(node[key])
            _transform(node[key], rest, change)
    else:
        node[key] = change(node[key])


def _encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _decode(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _query(filters: Mapping[str, Any]) -> Document:
    """An equality query; ``$eq`` keeps a value from being read as an operator."""
    return {path: {"$eq": value} for path, value in documents.check_filters(filters).items()}
