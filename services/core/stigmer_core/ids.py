"""Resource identifiers: a kind prefix and a ULID, so ids sort by creation time."""

from __future__ import annotations

import re
from enum import StrEnum

from ulid import ULID


class IdPrefix(StrEnum):
    WORKFLOW = "wfl"
    INSTANCE = "win"
    EXECUTION = "wex"


_ID_RE = re.compile(r"^(wfl|win|wex)-[0-9A-HJKMNP-TV-Z]{26}$")


def new_id(prefix: IdPrefix) -> str:
    """Return a fresh id such as ``wex-01JD...``."""
    return f"{prefix.value}-{ULID()}"


def is_id(value: str, prefix: IdPrefix | None = None) -> bool:
    """Tell whether ``value`` is a well-formed id (of ``prefix`` when given)."""
    if not _ID_RE.match(value):
        return False
    return prefix is None or value.startswith(prefix.value + "-")


def default_instance_id(workflow_id: str) -> str:
    """The id of a workflow's default instance.

    It reuses the workflow's ULID, so every API replica computes the same id and
    a unique-key insert makes "create the default instance" idempotent without a lock.
    """
    if not is_id(workflow_id, IdPrefix.WORKFLOW):
        raise ValueError(f"not a workflow id: {workflow_id!r}")
    return f"{IdPrefix.INSTANCE.value}-{workflow_id.split('-', 1)[1]}"
