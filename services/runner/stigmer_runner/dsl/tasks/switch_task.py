"""The ``switch`` task: the first case whose ``when`` holds decides what runs next.

A case without ``when`` is the default and always matches. The switch's output is its
input; the matched case's ``then`` is the flow directive. When no case matches, the task's
own ``then`` (by default ``continue``) applies.
"""

from __future__ import annotations

from collections.abc import Mapping

from stigmer_runner.dsl.expressions import truthy
from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult


async def run_switch(task: TaskContext) -> TaskResult:
    """Evaluate the cases in order against the task's input."""
    cases = task.definition.get("switch")
    if not isinstance(cases, list) or not cases:
        raise task.configuration_error("'switch' must be a non-empty list of cases")
    for index, item in enumerate(cases):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise task.configuration_error(f"switch[{index}] must map one case name to its case")
        ((name, case),) = item.items()
        field = f"switch[{index}].{name}"
        if not isinstance(case, Mapping):
            raise task.configuration_error(f"{field} must be a mapping with 'then'")
        then = case.get("then")
        if not isinstance(then, str) or not then:
            raise task.configuration_error(
                f"{field}.then must be continue, exit, end or a task name"
            )
        when = case.get("when")
        if when is None:
            return TaskResult(task.input, then=then)
        if not isinstance(when, str):
            raise task.configuration_error(f"{field}.when must be a runtime expression")
        if truthy(task.evaluate(when, field=f"{field}.when")):
            return TaskResult(task.input, then=then)
    return TaskResult(task.input)
