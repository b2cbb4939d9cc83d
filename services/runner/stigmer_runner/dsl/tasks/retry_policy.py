"""Retry policies of ``try``/``catch``: inline or named in ``use.retries``.

Delays: ``delay`` (default none) grows with ``backoff``: ``constant`` keeps it, ``linear``
multiplies it by the retry number (1, 2, 3...), ``exponential`` by 2 to the power of the
retry number minus one (1, 2, 4...). ``jitter`` adds a random duration between ``from`` and
``to``, drawn from the runtime (replayed identically under Temporal).
``limit.attempt.count`` caps the number of retries (the first attempt is not one);
``limit.duration`` caps the time from the first attempt to the start of the last retry;
``limit.attempt.duration`` is a timeout on each attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.expressions import is_expression, truthy
from stigmer_runner.dsl.tasks.base import TaskContext

BACKOFFS = ("constant", "linear", "exponential")


@dataclass(frozen=True)
class RetryPolicy:
    """A resolved retry policy: durations in seconds, None where there is no limit."""

    when: str | None = None
    except_when: str | None = None
    delay: float = 0.0
    backoff: str = "constant"
    max_retries: int | None = None
    attempt_seconds: float | None = None
    total_seconds: float | None = None
    jitter: tuple[float, float] | None = None

    def delay_before(self, retry: int, random: float) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry).

        ``random`` in [0, 1) places the jitter within its range; unused without jitter.
        """
        if self.backoff == "linear":
            seconds = self.delay * retry
        elif self.backoff == "exponential":
            seconds = self.delay * 2 ** (retry - 1)
        else:
            seconds = self.delay
        if self.jitter is not None:
            low, high = self.jitter
            seconds += low + random * (high - low)
        return seconds

    def wants(self, task: TaskContext, scope: Mapping[str, Any]) -> bool:
        """Whether the policy's ``when``/``exceptWhen`` let the caught error be retried."""
        if self.when is not None and not truthy(
            task.evaluate(self.when, field="catch.retry.when", extra=scope)
        ):
            return False
        return self.except_when is None or not truthy(
            task.evaluate(self.except_when, field="catch.retry.exceptWhen", extra=scope)
        )


def resolve_retry(task: TaskContext, retry: Any) -> RetryPolicy | None:
    """The ``catch.retry`` of ``task``, or None when it has none."""
    if retry is None:
        return None
    field = "catch.retry"
    if isinstance(retry, str):
        use = task.document.get("use")
        retries = use.get("retries") if isinstance(use, Mapping) else None
        if not isinstance(retries, Mapping) or retry not in retries:
            raise task.configuration_error(
                f"catch.retry names {retry!r}, which is not defined in use.retries"
            )
        field, retry = f"use.retries.{retry}", retries[retry]
    if not isinstance(retry, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    unknown = set(retry) - {"when", "exceptWhen", "delay", "backoff", "limit", "jitter"}
    if unknown:
        raise task.configuration_error(f"{field} has unknown properties: {sorted(unknown)}")
    limit = _mapping(task, retry.get("limit"), f"{field}.limit")
    attempt = _mapping(task, limit.get("attempt"), f"{field}.limit.attempt")
    count = attempt.get("count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise task.configuration_error(f"{field}.limit.attempt.count must be a whole number")
    return RetryPolicy(
        when=_expression(task, retry.get("when"), f"{field}.when"),
        except_when=_expression(task, retry.get("exceptWhen"), f"{field}.exceptWhen"),
        delay=_seconds(task, retry.get("delay"), f"{field}.delay") or 0.0,
        backoff=_backoff(task, retry.get("backoff"), f"{field}.backoff"),
        max_retries=count,
        attempt_seconds=_seconds(task, attempt.get("duration"), f"{field}.limit.attempt.duration"),
        total_seconds=_seconds(task, limit.get("duration"), f"{field}.limit.duration"),
        jitter=_jitter(task, retry.get("jitter"), f"{field}.jitter"),
    )


def _mapping(task: TaskContext, value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    return value


def _expression(task: TaskContext, value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise task.configuration_error(f"{field} must be a runtime expression")
    return value


def _seconds(task: TaskContext, value: Any, field: str) -> float | None:
    if value is None:
        return None
    if is_expression(value):
        value = task.evaluate(value, field=field)
    try:
        return duration_seconds(value)
    except ValueError as exc:
        raise task.configuration_error(f"{field}: {exc}") from None


def _backoff(task: TaskContext, value: Any, field: str) -> str:
    if value is None:
        return "constant"
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in BACKOFFS:
        raise task.configuration_error(f"{field} must be one of {', '.join(BACKOFFS)}, e.g. {{}}")
    return str(next(iter(value)))


def _jitter(task: TaskContext, value: Any, field: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "from" not in value or "to" not in value:
        raise task.configuration_error(f"{field} must be a mapping with 'from' and 'to'")
    low = _seconds(task, value["from"], f"{field}.from") or 0.0
    high = _seconds(task, value["to"], f"{field}.to") or 0.0
    if high < low:
        raise task.configuration_error(f"{field}.to must not be shorter than {field}.from")
    return low, high
