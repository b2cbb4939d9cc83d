"""DSL durations: an inline mapping (``{minutes: 1, seconds: 30}``) or ISO 8601 (``PT1M30S``).

Shared by the runner (wait, timeouts, retries) and the API (`schedule.every`, `schedule.after`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_UNITS = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0, "milliseconds": 0.001}
_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_ISO_WITH_CALENDAR = re.compile(r"^P[^T]*[YM]")


def duration_seconds(value: Any) -> float:
    """Return the duration in seconds; raise ValueError saying what is wrong with ``value``.

    Years and months are refused: they have no fixed length, and a timeout must have one.
    """
    if isinstance(value, Mapping):
        unknown = set(value) - set(_UNITS)
        if unknown or not value:
            raise ValueError(f"a duration takes only {', '.join(_UNITS)}; got {sorted(value)}")
        total = 0.0
        for unit, amount in value.items():
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise ValueError(f"duration {unit} must be a non-negative integer")
            total += amount * _UNITS[unit]
        return total
    if isinstance(value, str):
        match = _ISO.match(value)
        if match:
            parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
            weeks = parts.pop("weeks", 0.0)
            return weeks * 7 * 86400 + sum(parts[k] * _UNITS[k] for k in parts)
        if _ISO_WITH_CALENDAR.match(value):
            raise ValueError(f"duration {value!r} uses years or months, which have no fixed length")
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT30S")
    raise ValueError("a duration must be a mapping such as {seconds: 30} or an ISO 8601 string")
