"""Checks and helpers both stores share, so they accept and refuse the same input."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stigmer_api.storage.base import Collection
from stigmer_core.errors import ConflictError, ValidationFailedError

ID_FIELD = "metadata.id"
VERSION_FIELD = "metadata.version"

# Path segments are kept to plain names: SQLite builds them into JSON paths, and MongoDB
# would read a leading "$" as an operator.
_FIELD_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
FilterValue = str | int | float | bool | None
_FILTER_TYPES = (str, int, float, bool, type(None))


def lookup(doc: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path``, or None when any part of it is missing."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def doc_id(doc: Mapping[str, Any]) -> str:
    """The document's ``metadata.id``; ValidationFailedError if it has none."""
    value = lookup(doc, ID_FIELD)
    if not isinstance(value, str) or not value:
        raise ValidationFailedError("document has no metadata.id string", field=ID_FIELD)
    return value


def doc_version(doc: Mapping[str, Any]) -> int:
    """The document's ``metadata.version``; ValidationFailedError if it is not an integer."""
    value = lookup(doc, VERSION_FIELD)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationFailedError("document has no integer metadata.version", field=VERSION_FIELD)
    return value


def check_filters(filters: Mapping[str, Any]) -> dict[str, FilterValue]:
    """Validate equality filters: dotted paths of plain names, scalar values."""
    checked: dict[str, FilterValue] = {}
    for path, value in filters.items():
        if not isinstance(path, str) or not all(
            _FIELD_SEGMENT.match(part) for part in path.split(".")
        ):
            raise ValidationFailedError(f"not a dotted field path: {path!r}", field=str(path))
        if not isinstance(value, _FILTER_TYPES):
            raise ValidationFailedError(
                f"filter on {path} must be a string, number, boolean or null", field=path
            )
        checked[path] = value
    return checked


def check_limit(limit: int) -> None:
    """Refuse a page size below one (MongoDB would read 0 as "no limit")."""
    if limit < 1:
        raise ValidationFailedError(f"limit must be at least 1, got {limit}", field="limit")


def conflict(
    collection: Collection, doc: Mapping[str, Any], fields: tuple[str, ...]
) -> ConflictError:
    """The error for an insert or replace that clashes with another document on ``fields``."""
    values = ", ".join(f"{path}={lookup(doc, path)!r}" for path in fields)
    noun = collection.value.removesuffix("s")
    return ConflictError(f"a {noun} with {values} already exists", field=", ".join(fields))
