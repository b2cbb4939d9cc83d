"""The ``raise`` task: fault with an error defined inline or in ``use.errors``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult


async def run_raise(task: TaskContext) -> TaskResult:
    """Raise the evaluated error; ``instance`` defaults to this task's pointer."""
    spec = task.definition.get("raise")
    if not isinstance(spec, Mapping) or "error" not in spec:
        raise task.configuration_error("'raise' must be a mapping with an 'error'")
    error: Any = spec["error"]
    field = "raise.error"
    if isinstance(error, str):
        errors = (task.document.get("use") or {}).get("errors") or {}
        if not isinstance(errors, Mapping) or error not in errors:
            raise task.configuration_error(
                f"raise.error names {error!r}, which is not defined in use.errors"
            )
        field = f"use.errors.{error}"
        error = errors[error]
    if not isinstance(error, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    resolved = task.evaluate_value(dict(error), field=field)
    raise WorkflowError(_problem(task, resolved, field))


def _problem(task: TaskContext, error: Mapping[str, Any], field: str) -> dict[str, Any]:
    error_type, status = error.get("type"), error.get("status")
    if not isinstance(error_type, str) or not error_type:
        raise task.configuration_error(f"{field}.type must be a non-empty string")
    if not isinstance(status, int) or isinstance(status, bool):
        raise task.configuration_error(f"{field}.status must be an integer")
    problem: dict[str, Any] = {"type": error_type, "status": status}
    for key in ("title", "detail"):
        value = error.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise task.configuration_error(f"{field}.{key} must be a string")
        problem[key] = value
    instance = error.get("instance")
    problem["instance"] = instance if isinstance(instance, str) and instance else task.pointer
    return problem
