"""The ``try`` task: run ``try``; catch the errors its tasks raise, at any depth.

An error is caught when it passes ``catch.errors.with`` (every given property equal:
``type``, ``status``, ``instance``, ``title``, ``details``), ``catch.when`` holds and
``catch.exceptWhen`` does not; both see the error as ``$error`` (or the ``catch.as`` name).
The spec's standard error types match under either of their published spellings
(``https://serverlessworkflow.io/spec/1.0.0/errors/communication`` and
``https://serverlessworkflow.io/dsl/errors/types/communication``).

A caught error is retried while ``catch.retry`` allows (see retry_policy); then ``catch.do``
runs with the error as a variable and its output is the task's. Without ``catch.do``, a
caught error is swallowed (the output is the task's input) unless a retry policy ran out,
in which case the last error faults the task: retrying was the only handling asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.expressions import truthy
from stigmer_runner.dsl.racing import within
from stigmer_runner.dsl.tasks.base import Directive, ListOutcome, TaskContext, TaskResult
from stigmer_runner.dsl.tasks.retry_policy import RetryPolicy, resolve_retry
from stigmer_runner.dsl.timeouts import timeout_error

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STANDARD_TYPE = re.compile(
    r"^https://serverlessworkflow\.io/(?:spec/[^/]+/errors|dsl/errors/types)/(?P<name>[a-z]+)$"
)
# Filter property -> RFC 7807 member.
_FILTER_KEYS = {
    "type": "type",
    "status": "status",
    "instance": "instance",
    "title": "title",
    "details": "detail",
}


async def run_try(task: TaskContext) -> TaskResult:
    """Run ``try``, catching, retrying and handling errors as ``catch`` says."""
    body = task.definition.get("try")
    if not isinstance(body, list):
        raise task.configuration_error("'try' must be a list of tasks")
    catch = task.definition.get("catch")
    if not isinstance(catch, Mapping):
        raise task.configuration_error("'catch' must be a mapping")
    name = catch.get("as", "error")
    if not isinstance(name, str) or not _NAME.match(name):
        raise task.configuration_error("catch.as must be a variable name such as 'error'")
    error_filter = _filter(task, catch.get("errors"))
    handler = catch.get("do")
    if handler is not None and not isinstance(handler, list):
        raise task.configuration_error("catch.do must be a list of tasks")
    policy = resolve_retry(task, catch.get("retry"))

    started = task.runtime.now()
    retries = 0
    while True:
        try:
            return _result(await _attempt(task, body, policy))
        except WorkflowError as exc:
            error = exc.problem
            scope = {name: error}
            if not _caught(task, catch, error_filter, error, scope):
                raise
            if policy is not None:
                delay = _next_delay(task, policy, retries, started, scope)
                if delay is not None:
                    retries += 1
                    await task.runtime.sleep(delay)
                    continue
                if handler is None:
                    raise
        if handler is None:
            return TaskResult(task.input)
        outcome = await task.run_tasks(handler, "catch/do", task.input, scope)
        return _result(outcome)


async def _attempt(task: TaskContext, body: list[Any], policy: RetryPolicy | None) -> ListOutcome:
    attempt = task.run_tasks(body, "try", task.input)
    if policy is None or policy.attempt_seconds is None:
        return await attempt
    seconds = policy.attempt_seconds
    return await within(
        task.runtime,
        attempt,
        seconds,
        lambda: timeout_error(f"an attempt of task {task.name!r}", seconds, instance=task.pointer),
    )


def _result(outcome: ListOutcome) -> TaskResult:
    return TaskResult(outcome.output, then=Directive.END if outcome.ended else None)


def _next_delay(
    task: TaskContext,
    policy: RetryPolicy,
    retries: int,
    started: Any,
    scope: Mapping[str, Any],
) -> float | None:
    """Seconds to wait before retrying, or None when the policy allows no more retries."""
    if policy.max_retries is not None and retries >= policy.max_retries:
        return None
    if not policy.wants(task, scope):
        return None
    jitter = task.runtime.random() if policy.jitter is not None else 0.0
    delay = policy.delay_before(retries + 1, jitter)
    if policy.total_seconds is not None:
        elapsed = (task.runtime.now() - started).total_seconds()
        if elapsed + delay > policy.total_seconds:
            return None
    return delay


def _filter(task: TaskContext, errors: Any) -> Mapping[str, Any]:
    if errors is None:
        return {}
    if not isinstance(errors, Mapping):
        raise task.configuration_error("catch.errors must be a mapping with 'with'")
    with_ = errors.get("with", {})
    if not isinstance(with_, Mapping):
        raise task.configuration_error("catch.errors.with must be a mapping")
    unknown = set(with_) - set(_FILTER_KEYS)
    if unknown:
        raise task.configuration_error(
            f"catch.errors.with filters only on {', '.join(_FILTER_KEYS)}; got {sorted(unknown)}"
        )
    return with_


def _caught(
    task: TaskContext,
    catch: Mapping[str, Any],
    error_filter: Mapping[str, Any],
    error: Mapping[str, Any],
    scope: Mapping[str, Any],
) -> bool:
    for key, expected in error_filter.items():
        actual = error.get(_FILTER_KEYS[key])
        if key == "type":
            if _type_key(expected) != _type_key(actual):
                return False
        elif expected != actual:
            return False
    when = catch.get("when")
    if when is not None:
        if not isinstance(when, str):
            raise task.configuration_error("catch.when must be a runtime expression")
        if not truthy(task.evaluate(when, field="catch.when", extra=scope)):
            return False
    except_when = catch.get("exceptWhen")
    if except_when is not None:
        if not isinstance(except_when, str):
            raise task.configuration_error("catch.exceptWhen must be a runtime expression")
        if truthy(task.evaluate(except_when, field="catch.exceptWhen", extra=scope)):
            return False
    return True


def _type_key(value: Any) -> Any:
    """Standard error types compare by their short name, whichever spelling is used."""
    if isinstance(value, str) and (match := _STANDARD_TYPE.match(value)):
        return ("standard", match.group("name"))
    return value
