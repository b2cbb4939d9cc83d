"""Task handlers, one module per task type, and the registry the interpreter uses.

To support a new task type, write ``async def run_x(task: TaskContext) -> TaskResult`` and
add it to :data:`DEFAULT_HANDLERS`; the interpreter's loop does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from stigmer_runner.dsl.tasks.base import (
    Directive,
    FrameOf,
    ListOutcome,
    TaskContext,
    TaskHandler,
    TaskResult,
)
from stigmer_runner.dsl.tasks.call_task import run_call
from stigmer_runner.dsl.tasks.do_task import run_do
from stigmer_runner.dsl.tasks.emit_task import run_emit
from stigmer_runner.dsl.tasks.for_task import run_for
from stigmer_runner.dsl.tasks.fork_task import run_fork
from stigmer_runner.dsl.tasks.listen_task import run_listen
from stigmer_runner.dsl.tasks.raise_task import run_raise
from stigmer_runner.dsl.tasks.run_task import run_run
from stigmer_runner.dsl.tasks.set_task import run_set
from stigmer_runner.dsl.tasks.switch_task import run_switch
from stigmer_runner.dsl.tasks.try_task import run_try
from stigmer_runner.dsl.tasks.wait_task import run_wait

__all__ = [
    "DEFAULT_HANDLERS",
    "TASK_TYPES",
    "Directive",
    "FrameOf",
    "ListOutcome",
    "TaskContext",
    "TaskHandler",
    "TaskResult",
    "task_type",
]

# Every task type of DSL 1.0, in the order used to recognise one: ``do`` last, because
# ``for`` tasks also have a ``do`` (their body).
TASK_TYPES = (
    "call",
    "emit",
    "for",
    "fork",
    "listen",
    "raise",
    "run",
    "set",
    "switch",
    "try",
    "wait",
    "do",
)

DEFAULT_HANDLERS: Mapping[str, TaskHandler] = MappingProxyType(
    {
        "call": run_call,
        "do": run_do,
        "emit": run_emit,
        "for": run_for,
        "fork": run_fork,
        "listen": run_listen,
        "raise": run_raise,
        "run": run_run,
        "set": run_set,
        "switch": run_switch,
        "try": run_try,
        "wait": run_wait,
    }
)
"""The task types this interpreter runs, by type."""


def task_type(definition: Mapping[str, Any]) -> str | None:
    """The DSL task type of a task definition, or None when it has none."""
    return next((t for t in TASK_TYPES if t in definition), None)
