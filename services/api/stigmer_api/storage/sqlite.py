"""The embedded document store for local mode: one SQLite file, no server.

Each collection is a table ``(id, version, doc)`` with the envelope as JSON text. Unique
keys and list filters use ``json_extract`` expression indexes, so the store refuses and
finds the same documents MongoDB would. sqlite3 is blocking, so every call runs in a
worker thread, one at a time on one connection.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from stigmer_api.storage import documents
from stigmer_api.storage.base import INDEXED_FIELDS, UNIQUE_KEYS, Collection
from stigmer_api.storage.documents import ID_FIELD, FilterValue
from stigmer_core.errors import StigmerError, UnavailableError, ValidationFailedError

Document = dict[str, Any]
T = TypeVar("T")

MEMORY = ":memory:"
_UNIQUE_INDEX = re.compile(r"UNIQUE constraint failed: index '([^']+)'")


def _json_path(path: str) -> str:
    # Quoted segments so no name is read as JSON-path syntax; check_filters has already
    # kept quotes and dollars out of the names.
    return "$" + "".join(f'."{part}"' for part in path.split("."))


def _extract(path: str) -> str:
    """The SQL expression of a dotted path; identical text in indexes and queries."""
    return f"json_extract(doc, '{_json_path(path)}')"


def _unique_index_name(collection: Collection, position: int) -> str:
    return f"uq_{collection.value}_{position}"


def _schema() -> list[str]:
    statements: list[str] = []
    for collection in Collection:
        table = collection.value
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL)"
        )
        for position, key in enumerate(UNIQUE_KEYS[collection]):
            columns = ", ".join(_extract(path) for path in key)
            name = _unique_index_name(collection, position)
            statements.append(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        for path in INDEXED_FIELDS[collection]:
            name = f"ix_{table}_{path.replace('.', '_')}"
            statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({_extract(path)})")
    return statements


def _connect(path: str) -> sqlite3.Connection:
    if path != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Autocommit: each statement is its own transaction, which is all the store needs.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL makes a write durable when the call returns, as the port promises.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
        for statement in _schema():
            conn.execute(statement)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteStore:
    """A DocumentStore in one SQLite database file (or in memory, for tests)."""

    def __init__(self, *, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # A threading lock, not an asyncio one: a cancelled caller leaves its statement
        # running in the worker thread, and the next one must still wait for it.
        self._lock = threading.Lock()
        self._unique_keys = {
            _unique_index_name(collection, position): key
            for collection in Collection
            for position, key in enumerate(UNIQUE_KEYS[collection])
        }

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStore:
        """Open (creating if needed) the database at ``path``; ``":memory:"`` for tests."""
        try:
            conn = await asyncio.to_thread(_connect, str(path))
        except (sqlite3.Error, OSError) as exc:
            raise UnavailableError(f"cannot open SQLite store at {path}: {exc}") from exc
        return cls(connection=conn)

    async def insert(self, collection: Collection, doc: Mapping[str, Any]) -> None:
        """Insert a new document; ConflictError if its id or a unique key already exists."""
        doc_id = documents.doc_id(doc)
        version = documents.doc_version(doc)
        text = _dumps(doc)
        sql = f"INSERT INTO {collection.value} (id, version, doc) VALUES (?, ?, ?)"
        try:
            await self._run(self._conn.execute, sql, (doc_id, version, text))
        except sqlite3.IntegrityError as exc:
            raise documents.conflict(collection, doc, self._clash(exc)) from exc

    async def get(self, collection: Collection, doc_id: str) -> Document | None:
        """The document with this ``metadata.id``, or None."""
        sql = f"SELECT doc FROM {collection.value} WHERE id = ?"
        row = await self._run(_fetchone, self._conn, sql, (doc_id,))
        return None if row is None else _loads(row)

    async def find_one(self, collection: Collection, filters: Mapping[str, Any]) -> Document | None:
        """Any one document whose dotted-path fields equal ``filters``."""
        where, params = _where(documents.check_filters(filters))
        sql = f"SELECT doc FROM {collection.value} WHERE {where} LIMIT 1"
        row = await self._run(_fetchone, self._conn, sql, tuple(params))
        return None if row is None else _loads(row)

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
        where, params = _where(documents.check_filters(filters or {}))
        if before_id is not None:
            where += " AND id < ?"
            params.append(before_id)
        sql = f"SELECT doc FROM {collection.value} WHERE {where} ORDER BY id DESC LIMIT ?"
        params.append(limit)
        rows = await self._run(_fetchall, self._conn, sql, tuple(params))
        return [_loads(row) for row in rows]

    async def count(self, collection: Collection, filters: Mapping[str, Any]) -> int:
        """How many documents match ``filters`` (dotted-path equality)."""
        where, params = _where(documents.check_filters(filters))
        sql = f"SELECT COUNT(*) FROM {collection.value} WHERE {where}"
        found = await self._run(_fetchone, self._conn, sql, tuple(params))
        return int(found or 0)

    async def replace(
        self, collection: Collection, doc: Mapping[str, Any], *, expected_version: int
    ) -> bool:
        """Replace the document if its stored ``metadata.version`` is ``expected_version``."""
        doc_id = documents.doc_id(doc)
        version = documents.doc_version(doc)
        text = _dumps(doc)
        sql = f"UPDATE {collection.value} SET version = ?, doc = ? WHERE id = ? AND version = ?"
        try:
            cursor = await self._run(
                self._conn.execute, sql, (version, text, doc_id, expected_version)
            )
        except sqlite3.IntegrityError as exc:
            raise documents.conflict(collection, doc, self._clash(exc)) from exc
        return cursor.rowcount == 1

    async def delete(self, collection: Collection, doc_id: str) -> bool:
        """Delete by id; True if a document was deleted."""
        sql = f"DELETE FROM {collection.value} WHERE id = ?"
        cursor = await self._run(self._conn.execute, sql, (doc_id,))
        return cursor.rowcount == 1

    async def ping(self) -> None:
        """Raise UnavailableError if the database cannot be used."""
        await self._run(_fetchone, self._conn, "SELECT 1", ())

    async def close(self) -> None:
        """Close the connection; later calls raise UnavailableError."""
        await self._run(self._conn.close)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(self._locked, fn, *args)
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.OperationalError, sqlite3.ProgrammingError) as exc:
            # Locked, disk full or I/O errors, or a closed connection: the store is not there.
            raise UnavailableError(f"SQLite store is unavailable: {exc}") from exc
        except sqlite3.Error as exc:
            raise StigmerError(f"SQLite store failed: {exc}") from exc

    def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            return fn(*args)

    def _clash(self, exc: sqlite3.IntegrityError) -> tuple[str, ...]:
        match = _UNIQUE_INDEX.search(str(exc))
        if match and match.group(1) in self._unique_keys:
            return self._unique_keys[match.group(1)]
        return (ID_FIELD,)


def _fetchone(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> str | None:
    row = conn.execute(sql, params).fetchone()
    return None if row is None else str(row[0])


def _fetchall(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[str]:
    return [str(row[0]) for row in conn.execute(sql, params).fetchall()]


def _where(filters: Mapping[str, FilterValue]) -> tuple[str, list[Any]]:
    """SQL for dotted-path equality with MongoDB's typing: "1" is not 1 and true is not 1."""
    clauses = ["1 = 1"]
    params: list[Any] = []
    for path, value in filters.items():
        column = _extract(path)
        if value is None:
            # Like MongoDB, null matches a null value and a missing field.
            clauses.append(f"{column} IS NULL")
            continue
        clauses.append(f"{column} = ?")
        params.append(value)
        types = _json_types(value)
        clauses.append(f"json_type(doc, '{_json_path(path)}') IN ({', '.join('?' * len(types))})")
        params.extend(types)
    return " AND ".join(clauses), params


def _json_types(value: str | int | float | bool) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true",) if value else ("false",)
    if isinstance(value, int | float):
        return ("integer", "real")
    return ("text",)


def _dumps(doc: Mapping[str, Any]) -> str:
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationFailedError(f"document is not JSON: {exc}") from exc


def _loads(text: str) -> Document:
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise StigmerError("SQLite store holds a document that is not a JSON object")
    return doc
