"""``foreach`` of a subscription (``listen`` and ``call: asyncapi``): one body run per item.

The schema's ``subscriptionIterator``: ``item`` and ``at`` name the variables holding the
consumed item and its index (``$item`` and ``$index`` by default); ``do`` runs on the item;
``output.as`` turns the body's output into the item's output; ``export.as`` then sets
``$context`` from that output, as a task's ``export.as`` does from the task's output: it sees
the item's output as ``.`` and ``$output``, the context so far as ``$context``, and its result
replaces the context, so the next item's body (and every later task) reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.tasks.base import TaskContext


def parse_iterator(task: TaskContext, foreach: Any, *, field: str) -> Mapping[str, Any] | None:
    """``foreach`` checked for shape (None when absent); errors name ``field``."""
    if foreach is None:
        return None
    if not isinstance(foreach, Mapping):
        raise task.configuration_error(f"{field} must be a mapping")
    for name in ("item", "at"):
        if not isinstance(foreach.get(name, name), str):
            raise task.configuration_error(f"{field}.{name} must be a variable name")
    if "do" in foreach and not isinstance(foreach["do"], list):
        raise task.configuration_error(f"{field}.do must be a list of tasks")
    for name in ("output", "export"):
        if foreach.get(name) is not None and not isinstance(foreach[name], Mapping):
            raise task.configuration_error(f"{field}.{name} must be a mapping")
    return foreach


async def iterate(
    task: TaskContext, foreach: Mapping[str, Any], item: Any, index: int, *, field: str
) -> tuple[Any, bool]:
    """Run ``foreach`` on one item; return the item's output and whether an ``end`` directive
    inside the body ends the workflow. ``field`` is where ``foreach`` sits in the task
    (``foreach``, ``with.subscription.foreach``), dotted."""
    scope = {str(foreach.get("item", "item")): item, str(foreach.get("at", "index")): index}
    result, ended = item, False
    if "do" in foreach:
        path = field.replace(".", "/") + "/do"
        outcome = await task.run_tasks(foreach["do"], path, item, scope, iteration=index)
        result, ended = outcome.output, outcome.ended
    spec = (foreach.get("output") or {}).get("as")
    if spec is not None:
        result = _transform(task, spec, result, scope, field=f"{field}.output.as")
    spec = (foreach.get("export") or {}).get("as")
    if spec is not None:
        extra = {**scope, "output": result}
        task.engine.set_context(_transform(task, spec, result, extra, field=f"{field}.export.as"))
    return result, ended


def _transform(
    task: TaskContext, spec: Any, data: Any, extra: Mapping[str, Any], *, field: str
) -> Any:
    if isinstance(spec, str):
        return task.evaluate(spec, field=field, data=data, extra=extra)
    if isinstance(spec, Mapping):
        return task.evaluate_value(spec, field=field, data=data, extra=extra)
    raise task.configuration_error(f"{field} must be an expression or an object")
