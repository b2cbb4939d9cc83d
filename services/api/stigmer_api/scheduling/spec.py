"""The DSL ``schedule`` → a trigger → a Temporal ``ScheduleSpec``. Pure logic, no I/O.

``every`` and ``cron`` map onto Temporal's interval and cron specs (both may be given: the
schedule fires on either). ``after`` and ``on`` are not run yet: such a document registers and
its schedule state says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import ScheduleIntervalSpec, ScheduleSpec

from stigmer_core.durations import duration_seconds
from stigmer_core.errors import ValidationFailedError

# Temporal's scheduler works in whole seconds; a shorter interval would be rounded away.
MIN_INTERVAL_SECONDS = 1.0
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#\-]+$")
_CRON_TZ = re.compile(r"^(?:CRON_TZ|TZ)=\S+\s+")


class ScheduleNotRunnableError(Exception):
    """A schedule the specification allows but Stigmer cannot run; ``pointer`` says where."""

    def __init__(self, message: str, pointer: str) -> None:
        super().__init__(message)
        self.message = message
        self.pointer = pointer


@dataclass(frozen=True)
class ScheduleTrigger:
    """When a scheduled workflow starts: at a fixed interval, on cron times, or both."""

    every_seconds: float | None = None
    cron: str | None = None

    def temporal_spec(self) -> ScheduleSpec:
        intervals = (
            [ScheduleIntervalSpec(every=timedelta(seconds=self.every_seconds))]
            if self.every_seconds is not None
            else []
        )
        return ScheduleSpec(
            intervals=intervals, cron_expressions=[self.cron] if self.cron is not None else []
        )


def trigger_of(document: Mapping[str, Any]) -> ScheduleTrigger | None:
    """The document's trigger; None without a ``schedule`` (or with an empty one).

    Raises ValidationFailedError (422 at registration) for a cron text that is no cron
    expression, and ScheduleNotRunnableError for valid DSL that Stigmer does not run.
    """
    schedule = document.get("schedule")
    if not isinstance(schedule, Mapping) or not schedule:
        return None
    for key in ("after", "on"):
        if key in schedule:
            raise ScheduleNotRunnableError(
                f"schedule.{key} is not supported yet: only schedule.every and schedule.cron "
                "start executions",
                f"/schedule/{key}",
            )
    every = schedule.get("every")
    cron = schedule.get("cron")
    return ScheduleTrigger(
        every_seconds=None if every is None else _interval_seconds(every),
        cron=None if cron is None else check_cron(cron),
    )


def _interval_seconds(every: Any) -> float:
    if isinstance(every, str) and every.strip().startswith("${"):
        raise ScheduleNotRunnableError(
            "schedule.every must be a fixed duration: a runtime expression has no context "
            "to be evaluated in before the workflow runs",
            "/schedule/every",
        )
    try:
        seconds = duration_seconds(every)
    except ValueError as exc:
        raise ScheduleNotRunnableError(f"schedule.every: {exc}", "/schedule/every") from None
    if seconds < MIN_INTERVAL_SECONDS:
        raise ScheduleNotRunnableError(
            f"schedule.every must be at least {MIN_INTERVAL_SECONDS:g} second, got {seconds:g}s",
            "/schedule/every",
        )
    return seconds


def check_cron(cron: str) -> str:
    """Refuse text that is no cron expression; Temporal checks the fields' values."""
    text = _CRON_TZ.sub("", cron.strip())
    if text in _CRON_MACROS or text.startswith("@every "):
        return cron.strip()
    fields = text.split()
    if not 5 <= len(fields) <= 7 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValidationFailedError(
            f"schedule.cron {cron!r} is not a cron expression: expected 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 0 * * *', or a macro "
            "such as @daily",
            field="/schedule/cron",
        )
    return cron.strip()
