"""The ``wait`` task: pause for a duration on a durable timer; the output is the input."""

from __future__ import annotations

from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.expressions import is_expression
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult


async def run_wait(task: TaskContext) -> TaskResult:
    """Sleep ``wait`` (ISO 8601, ``{seconds: 30}`` or an expression giving either)."""
    duration = task.definition.get("wait")
    if isinstance(duration, str) and is_expression(duration):
        duration = task.evaluate(duration, field="wait")
    try:
        seconds = duration_seconds(duration)
    except ValueError as exc:
        raise task.configuration_error(f"wait: {exc}") from None
    await task.runtime.sleep(seconds)
    return TaskResult(task.input)
