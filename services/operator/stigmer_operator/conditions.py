"""The status conditions of a RunnerAutoscaler (Ready, Active, ScalingLimited,
TemporalUnreachable), in the Kubernetes shape, keeping each one's transition time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CONDITION_TYPES = ("Ready", "Active", "ScalingLimited", "TemporalUnreachable")


@dataclass(frozen=True)
class Condition:
    type: str
    status: bool
    reason: str
    message: str = ""


def merge_conditions(
    previous: Sequence[Mapping[str, Any]] | None,
    updates: Iterable[Condition],
    *,
    now: datetime,
) -> list[dict[str, Any]]:
    """The conditions list with ``updates`` applied: ``lastTransitionTime`` moves only when
    a condition's status changes; conditions not updated are kept as they were."""
    by_type: dict[str, dict[str, Any]] = {
        str(item.get("type")): dict(item) for item in previous or () if item.get("type")
    }
    for condition in updates:
        status = "True" if condition.status else "False"
        old = by_type.get(condition.type)
        changed = old is None or old.get("status") != status
        by_type[condition.type] = {
            "type": condition.type,
            "status": status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": (
                now.isoformat(timespec="seconds").replace("+00:00", "Z")
                if changed
                else old.get("lastTransitionTime")
                if old
                else None
            ),
        }
    order = {name: index for index, name in enumerate(CONDITION_TYPES)}
    return sorted(by_type.values(), key=lambda item: order.get(item["type"], len(order)))
