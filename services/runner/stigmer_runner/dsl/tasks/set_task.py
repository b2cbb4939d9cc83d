"""The ``set`` task: its output is its ``set`` value, with the expressions in it evaluated."""

from __future__ import annotations

from collections.abc import Mapping

from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult


async def run_set(task: TaskContext) -> TaskResult:
    """Output the evaluated ``set`` value; it replaces the data rather than merging into it."""
    value = task.definition.get("set")
    if not isinstance(value, Mapping | str):
        raise task.configuration_error("'set' must be a mapping or a runtime expression")
    return TaskResult(task.evaluate_value(value, field="set"))
