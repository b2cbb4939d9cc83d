"""Task and workflow timeouts: inline (``timeout: {after: PT5S}``) or named in ``use.timeouts``.

When a timeout passes, the task (or the workflow) faults with the standard timeout error
(``.../errors/timeout``, status 408); the work it was doing is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.expressions import is_expression


def timeout_seconds(
    document: Mapping[str, Any],
    timeout: Any,
    *,
    field: str,
    error: Callable[[str], WorkflowError],
    evaluate: Callable[[str, str], Any] | None = None,
) -> float | None:
    """The seconds of a ``timeout`` setting, or None when there is none.

    ``error(detail)`` builds the configuration error for a malformed setting; ``evaluate``
    (expression, field) resolves an ``after`` given as a runtime expression.
    """
    if timeout is None:
        return None
    if isinstance(timeout, str):
        use = document.get("use")
        timeouts = use.get("timeouts") if isinstance(use, Mapping) else None
        if not isinstance(timeouts, Mapping) or timeout not in timeouts:
            raise error(f"{field} names {timeout!r}, which is not defined in use.timeouts")
        field, timeout = f"use.timeouts.{timeout}", timeouts[timeout]
    if not isinstance(timeout, Mapping) or "after" not in timeout:
        raise error(f"{field} must be a mapping with 'after' or the name of a use.timeouts entry")
    after = timeout["after"]
    if is_expression(after):
        if evaluate is None:
            raise error(f"{field}.after must be a duration, not a runtime expression")
        after = evaluate(after, f"{field}.after")
    try:
        return duration_seconds(after)
    except ValueError as exc:
        raise error(f"{field}.after: {exc}") from None


def timeout_error(what: str, seconds: float, *, instance: str) -> WorkflowError:
    """The standard timeout error for ``what`` (a task or the workflow)."""
    return WorkflowError.of(
        ErrorType.TIMEOUT, f"{what} timed out after {seconds:g} seconds", instance=instance
    )
