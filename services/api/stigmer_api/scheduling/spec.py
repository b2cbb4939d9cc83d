"""The DSL ``schedule`` → a trigger. Pure logic, no I/O.

``every`` and ``cron`` map onto Temporal's interval and cron specs (both may be given: the
schedule fires on either). ``after`` is a fixed duration a loop workflow sleeps between the end
of one execution and the start of the next. ``on`` is an event consumption strategy whose
filters the API matches against posted events on their literal attributes. ``after`` and ``on``
stand alone: combined with anything else the meaning is unclear, so such a schedule does not run.
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
from stigmer_core.event_strategy import (
    Strategy,
    StrategyError,
    has_runtime_expression,
    parse_strategy,
)
from stigmer_core.model import ScheduleKind

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
    """When a scheduled workflow starts: at a fixed interval and/or on cron times (``TIME``),
    ``after_seconds`` after the previous execution ended (``AFTER``), or on events (``EVENT``)."""

    every_seconds: float | None = None
    cron: str | None = None
    after_seconds: float | None = None
    on: Strategy | None = None

    @property
    def kind(self) -> ScheduleKind:
        if self.after_seconds is not None:
            return ScheduleKind.AFTER
        if self.on is not None:
            return ScheduleKind.EVENT
        return ScheduleKind.TIME

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
        others = sorted(k for k in schedule if k != key)
        if key in schedule and others:
            raise ScheduleNotRunnableError(
                f"schedule.{key} cannot be combined with schedule.{others[0]}: give one trigger",
                f"/schedule/{key}",
            )
    if "after" in schedule:
        return ScheduleTrigger(after_seconds=_fixed_seconds(schedule["after"], "after"))
    if "on" in schedule:
        return ScheduleTrigger(on=event_strategy(schedule["on"]))
    every = schedule.get("every")
    cron = schedule.get("cron")
    return ScheduleTrigger(
        every_seconds=None if every is None else _fixed_seconds(every, "every"),
        cron=None if cron is None else check_cron(cron),
    )


def _fixed_seconds(value: Any, key: str) -> float:
    pointer = f"/schedule/{key}"
    if isinstance(value, str) and value.strip().startswith("${"):
        raise ScheduleNotRunnableError(
            f"schedule.{key} must be a fixed duration: a runtime expression has no context "
            "to be evaluated in before the workflow runs",
            pointer,
        )
    try:
        seconds = duration_seconds(value)
    except ValueError as exc:
        raise ScheduleNotRunnableError(f"schedule.{key}: {exc}", pointer) from None
    if seconds < MIN_INTERVAL_SECONDS:
        raise ScheduleNotRunnableError(
            f"schedule.{key} must be at least {MIN_INTERVAL_SECONDS:g} second, got {seconds:g}s",
            pointer,
        )
    return seconds


def event_strategy(value: Any) -> Strategy:
    """``schedule.on`` as a strategy the API can match: literal filters, no ``until``.

    Runtime expressions and ``correlate`` need a context (and a jq engine) that only a
    running workflow has; ``until`` says when a listen stops, which has no meaning for a
    trigger that keeps starting executions.
    """
    try:
        strategy = parse_strategy(value, "schedule.on")
    except StrategyError as exc:
        raise ScheduleNotRunnableError(str(exc), "/schedule/on") from None
    if isinstance(value, Mapping) and "until" in value:
        raise ScheduleNotRunnableError(
            "schedule.on: until is not supported: each matching event (any, one) or each "
            "complete set of events (all) starts an execution",
            "/schedule/on/until",
        )
    for index, event_filter in enumerate(strategy.filters):
        pointer = f"/schedule/on/{strategy.kind}" + ("" if strategy.kind == "one" else f"/{index}")
        if event_filter.correlate:
            raise ScheduleNotRunnableError(
                "schedule.on: correlate is not supported: the API matches events on literal "
                "attributes only",
                f"{pointer}/correlate",
            )
        if has_runtime_expression(dict(event_filter.attributes)):
            raise ScheduleNotRunnableError(
                "schedule.on: runtime expressions in event filters are not supported: the API "
                "matches events on literal attributes (regular expressions for strings)",
                f"{pointer}/with",
            )
    return strategy


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
