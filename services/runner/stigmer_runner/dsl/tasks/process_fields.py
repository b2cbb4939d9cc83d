"""Fields ``run: shell``, ``run: script`` and ``run: container`` share: argv, environment,
stdin and the task's timeout, resolved from the task's definition."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.tasks.base import TaskContext
from stigmer_runner.dsl.timeouts import timeout_seconds


def process_arguments(task: TaskContext, value: Any, field: str) -> list[str]:
    """``arguments``: argv after the command, each item as text."""
    resolved = task.evaluate_value(value, field=field)
    if resolved is None:
        return []
    if not isinstance(resolved, list):
        raise task.configuration_error(f"{field} must be a list of strings")
    return [as_text(item) for item in resolved]


def process_environment(task: TaskContext, value: Any, field: str) -> dict[str, str]:
    """``environment``: variable names to text values; a null value leaves one out."""
    resolved = task.evaluate_value(value, field=field)
    if resolved is None:
        return {}
    if not isinstance(resolved, Mapping):
        raise task.configuration_error(f"{field} must be a mapping of variable names to values")
    environment: dict[str, str] = {}
    for name, item in resolved.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise task.configuration_error(f"{field}: {name!r} is not a valid variable name")
        if item is not None:
            environment[name] = as_text(item)
    return environment


def process_stdin(task: TaskContext, value: Any, field: str) -> str | None:
    """``stdin`` as text, or None when there is none."""
    resolved = task.evaluate_value(value, field=field)
    return None if resolved is None else as_text(resolved)


def as_text(value: Any) -> str:
    """Text as is; anything else as JSON (a number, an object...)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def process_timeout(task: TaskContext) -> float | None:
    """The task's own ``timeout`` in seconds: the process or container is
    killed when it passes, too."""
    return timeout_seconds(
        task.document,
        task.definition.get("timeout"),
        field="timeout",
        error=task.configuration_error,
        evaluate=lambda expression, field: task.evaluate(expression, field=field),
    )
