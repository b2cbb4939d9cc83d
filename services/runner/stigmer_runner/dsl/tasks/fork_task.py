"""The ``fork`` task: run its branches concurrently.

Every branch gets the fork's input. Without ``compete`` the fork waits for all branches and
outputs their outputs as an array, in branch order; the first branch to fault cancels the
others and faults the fork. With ``compete: true`` the first branch to complete wins: its
output is the fork's and the others are cancelled (their running tasks report CANCELLED);
a faulted branch is out of the race, and the fork faults only when every branch has, with
the first branch's error.

A branch that ends with ``then: end`` ends the workflow once the fork is done; other
directives of a branch have nothing to act on (a branch is one task) and are ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.racing import cancel_and_wait, first_completed
from stigmer_runner.dsl.tasks.base import Directive, TaskContext, TaskResult

Branch = tuple[str, Any, str]
Outcome = tuple[Any, str]


async def run_fork(task: TaskContext) -> TaskResult:
    """Run ``fork.branches`` concurrently; see the module docstring for the output."""
    spec = task.definition.get("fork")
    if not isinstance(spec, Mapping):
        raise task.configuration_error("'fork' must be a mapping with 'branches'")
    compete = spec.get("compete", False)
    if not isinstance(compete, bool):
        raise task.configuration_error("fork.compete must be true or false")
    branches = _branches(task, spec.get("branches"))
    if not branches:
        return TaskResult([] if not compete else task.input)

    # Created in branch order, so branches start in that order (deterministic under replay).
    running: list[asyncio.Future[Outcome]] = [
        asyncio.ensure_future(
            task.engine.run_task(
                name, definition, pointer, task.input, task.scope, iteration=task.iteration
            )
        )
        for name, definition, pointer in branches
    ]
    try:
        if compete:
            output, then = await _race(running)
            return TaskResult(output, then=Directive.END if then == Directive.END else None)
        outcomes = await _all(running)
    finally:
        await cancel_and_wait([branch for branch in running if not branch.done()])
    ended = any(then == Directive.END for _, then in outcomes)
    return TaskResult([output for output, _ in outcomes], then=Directive.END if ended else None)


async def _all(running: list[asyncio.Future[Outcome]]) -> list[Outcome]:
    pending = list(running)
    while pending:
        done = await first_completed(pending)
        pending.remove(done)
        error = done.exception()
        if error is not None:
            raise error
    return [branch.result() for branch in running]


async def _race(running: list[asyncio.Future[Outcome]]) -> Outcome:
    pending = list(running)
    while pending:
        done = await first_completed(pending)
        pending.remove(done)
        error = done.exception()
        if error is None:
            return done.result()
        if not isinstance(error, WorkflowError):
            raise error  # infrastructure trouble (a failed report) is nobody's race to lose
    # Every branch faulted: report the first branch's error.
    first: Outcome = running[0].result()
    return first


def _branches(task: TaskContext, branches: Any) -> list[Branch]:
    if not isinstance(branches, list):
        raise task.configuration_error("fork.branches must be a list of tasks")
    found: list[Branch] = []
    for index, item in enumerate(branches):
        if not isinstance(item, Mapping) or len(item) != 1:
            raise task.configuration_error(
                f"fork.branches[{index}] must map exactly one task name to its definition"
            )
        ((name, definition),) = item.items()
        segment = str(name).replace("~", "~0").replace("/", "~1")
        found.append((str(name), definition, f"{task.pointer}/fork/branches/{index}/{segment}"))
    return found
