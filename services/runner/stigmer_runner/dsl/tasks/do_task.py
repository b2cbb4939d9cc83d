"""The ``do`` task: run its subtasks in sequence; the last one's output is the task's."""

from __future__ import annotations

from stigmer_runner.dsl.tasks.base import Directive, TaskContext, TaskResult


async def run_do(task: TaskContext) -> TaskResult:
    """Run ``do`` as a list below this task; an ``end`` inside ends the whole workflow."""
    outcome = await task.run_tasks(
        task.definition.get("do"), "do", task.input, frame=lambda: task.frame()
    )
    return TaskResult(outcome.output, then=Directive.END if outcome.ended else None)
