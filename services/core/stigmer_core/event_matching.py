"""How a literal CloudEvent filter value matches an attribute, the same in API and runner.

The API routes an event to executions by these rules; the runner applies them again (with
expressions on top) when a ``listen`` task consumes it, so both must agree exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


def literal_matches(expected: Any, actual: Any) -> bool:
    """Strings are full-match regular expressions (plain strings when not valid patterns),
    mappings match supersets, anything else must be equal."""
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        pattern = _pattern(expected)
        return expected == actual or (pattern is not None and pattern.fullmatch(actual) is not None)
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and literal_matches(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None
