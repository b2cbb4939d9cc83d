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
    ListOutcome,
    TaskContext,
    TaskHandler,
    TaskResult,
)
from stigmer_runner.dsl.tasks.call_task import run_call
from stigmer_runner.dsl.tasks.do_task import run_do
from stigmer_runner.dsl.tasks.raise_task import run_raise
from stigmer_runner.dsl.tasks.set_task import run_set

__all__ = [
    "DEFAULT_HANDLERS",
    "TASK_TYPES",
    "Directive",
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
    {"call": run_call, "do": run_do, "raise": run_raise, "set": run_set}
)
"""The task types this interpreter runs, by type."""


def task_type(definition: Mapping[str, Any]) -> str | None:
    """The DSL task type of a task definition, or None when it has none."""
    return next((t for t in TASK_TYPES if t in definition), None)
