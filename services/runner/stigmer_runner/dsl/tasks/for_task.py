"""The ``for`` task: run ``do`` once per item of ``for.in``, while ``while`` holds.

Each iteration's input is the previous one's output (the first gets the task's input), so
a loop body accumulates; the task's output is the last iteration's. The item and its index
are variables of the body (``$item`` and ``$index`` unless ``for.each``/``for.at`` rename
them), and the body's tasks report the iteration index with their status.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from stigmer_runner.dsl.expressions import truthy
from stigmer_runner.dsl.tasks.base import Directive, TaskContext, TaskResult

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


async def run_for(task: TaskContext) -> TaskResult:
    """Iterate; ``exit`` in the body ends that iteration, ``end`` ends the workflow.

    ``while`` is checked before each iteration, with that iteration's item and index bound,
    against the data the iteration would get; a false condition stops the loop.
    """
    spec = task.definition.get("for")
    if not isinstance(spec, Mapping):
        raise task.configuration_error("'for' must be a mapping with 'in'")
    each = _variable(task, spec, "each", "item")
    at = _variable(task, spec, "at", "index")
    if each == at:
        raise task.configuration_error(f"for.each and for.at must differ, both are {each!r}")
    source = spec.get("in")
    if not isinstance(source, str) or not source.strip():
        raise task.configuration_error("for.in must be a runtime expression")
    condition = task.definition.get("while")
    if condition is not None and not isinstance(condition, str):
        raise task.configuration_error("'while' must be a runtime expression")
    body = task.definition.get("do")
    if not isinstance(body, list):
        raise task.configuration_error("'do' must be a list of tasks (the loop body)")

    resume = task.resume
    if resume is not None and resume.items is not None:
        # A continued run: the items left when the loop was cut, as for.in gave them then.
        first, items = resume.iteration or 0, resume.items
    else:
        collection = task.evaluate(source, field="for.in")
        if collection is None:
            collection = []
        if not isinstance(collection, list):
            raise task.configuration_error(
                f"for.in must evaluate to an array, got {type(collection).__name__}"
            )
        first = (resume.iteration or 0) if resume is not None else 0
        items = collection[first:]
    # Re-entered between two iterations: ``data`` is the next one's input. Re-entered within
    # an iteration (a loop further in was cut): that iteration's tasks carry on from the cut.
    within = resume is not None and task.resume_within
    data = resume.data if resume is not None and not within else task.input
    for offset, item in enumerate(items):
        index = first + offset
        if offset > 0:
            # Between two iterations the run may continue as new, keeping history bounded.
            task.engine.checkpoint(
                task, partial(task.frame, iteration=index, data=data, items=items, skip=offset)
            )
        scope: dict[str, Any] = {each: item, at: index}
        resuming_iteration = within and offset == 0
        if (
            not resuming_iteration  # its ``while`` held when it started, in an earlier run
            and condition is not None
            and not truthy(task.evaluate(condition, field="while", data=data, extra=scope))
        ):
            break
        outcome = await task.run_tasks(
            body,
            "do",
            data,
            scope,
            iteration=index,
            frame=partial(task.frame, iteration=index, items=items, skip=offset),
        )
        data = outcome.output
        if outcome.ended:
            return TaskResult(data, then=Directive.END)
    return TaskResult(data)


def _variable(task: TaskContext, spec: Mapping[str, Any], key: str, default: str) -> str:
    name = spec.get(key, default)
    if not isinstance(name, str) or not _NAME.match(name):
        raise task.configuration_error(f"for.{key} must be a variable name such as {default!r}")
    return name
