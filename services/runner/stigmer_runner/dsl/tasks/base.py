"""What a task handler is given and what it returns.

A handler is an async function ``(TaskContext) -> TaskResult`` registered under a task type
(``set``, ``do``, ``call``...). The interpreter does everything common to all tasks (``if``,
``input.from``, ``output.as``, ``export.as``, ``then``, status reports) around it, so a
handler only turns its transformed input into its raw output.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from stigmer_runner.dsl.checkpoint import Frame, iso
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.expressions import ExpressionError, evaluate, evaluate_value
from stigmer_runner.dsl.runtime import TaskRuntime

FrameOf = Callable[[], Frame]
"""Builds the :class:`Frame` of a task on the way to a cut, when (and only if) one happens."""


class Directive(StrEnum):
    """The reserved flow directives; any other ``then`` value names a task."""

    CONTINUE = "continue"
    EXIT = "exit"
    END = "end"


@dataclass(frozen=True)
class TaskResult:
    """A handler's raw output, and what the interpreter should do next."""

    output: Any
    then: str | None = None
    """Overrides the task's own ``then``: a switch picks a branch, a nested ``end`` ends all."""
    authorization: dict[str, Any] | None = None
    """``$authorization`` (scheme, parameter) for the task's ``output.as`` and ``export.as``."""


@dataclass(frozen=True)
class ListOutcome:
    """How a list of tasks finished: its last output, and whether an ``end`` (or an
    ``exit``) stopped it."""

    output: Any
    ended: bool = False
    exited: bool = False


class Engine(Protocol):
    """The interpreter, as task handlers use it."""

    @property
    def runtime(self) -> TaskRuntime: ...

    @property
    def document(self) -> Mapping[str, Any]: ...

    @property
    def secrets(self) -> Mapping[str, Any]:
        """The workflow's secrets by name (``$secrets``)."""
        ...

    def now_epoch(self) -> float:
        """The runtime's clock in epoch seconds: jq's ``now``."""
        ...

    def variables(self, task: TaskContext) -> dict[str, Any]:
        """The runtime expression arguments for ``task`` ($context, $input, $task...)."""
        ...

    def set_context(self, context: Any) -> None:
        """Replace ``$context``, as an ``export.as`` does (a subscription's ``foreach``)."""
        ...

    async def run_tasks(
        self,
        tasks: Any,
        pointer: str,
        data: Any,
        scope: Mapping[str, Any],
        *,
        iteration: int | None = None,
        frames: tuple[FrameOf, ...] | None = None,
    ) -> ListOutcome:
        """Run a task list (a ``do``, a branch, a loop body) found at ``pointer``.

        ``frames`` (one per enclosing ``do``/``for`` task) makes the list's loops places
        where the run may be cut and continued as new; None: it cannot be cut there.
        """
        ...

    async def run_task(
        self,
        name: str,
        definition: Any,
        pointer: str,
        data: Any,
        scope: Mapping[str, Any],
        *,
        iteration: int | None = None,
    ) -> tuple[Any, str]:
        """Run one task found at ``pointer`` (a fork branch); return its output and ``then``."""
        ...

    async def catalog_function(self, task: TaskContext, function: str) -> Mapping[str, Any] | None:
        """The definition of a cataloged (``name:version@catalog``) or by-URI function,
        fetched once per run; None when ``function`` is neither."""
        ...

    def checkpoint(self, task: TaskContext, frame: FrameOf) -> None:
        """At an iteration boundary of the ``for`` task ``task``, whose state is ``frame()``:
        raise :class:`~stigmer_runner.dsl.checkpoint.Checkpoint` when the run should continue
        as new and ``task`` sits where a run can be cut (see ``checkpoint.py``)."""
        ...


_UNSET: Any = object()


@dataclass
class TaskContext:
    """One run of one task. ``input`` is the transformed input (raw until ``input.from``)."""

    name: str
    pointer: str
    type: str
    definition: Mapping[str, Any]
    raw_input: Any
    input: Any
    started_at: datetime
    engine: Engine
    scope: Mapping[str, Any] = field(default_factory=dict)
    """Variables from enclosing tasks, such as a loop's ``$item`` or a catch's ``$error``."""
    raw_output: Any = None
    authorization: dict[str, Any] | None = None
    iteration: int | None = None
    """The index of the innermost enclosing ``for`` iteration, reported with the task."""
    index: int = 0
    """The task's position in its list."""
    frames: tuple[FrameOf, ...] | None = None
    """The frames of the enclosing ``do``/``for`` tasks, outermost first, when the run can be
    cut inside this task (continue-as-new); None inside a fork, a try, an extension..."""
    resume: Frame | None = None
    """Set when a continued run re-enters this task: its state at the cut."""
    resume_within: bool = False
    """With ``resume``: the cut was further in (a ``for`` re-enters its current iteration)."""

    @property
    def runtime(self) -> TaskRuntime:
        return self.engine.runtime

    @property
    def document(self) -> Mapping[str, Any]:
        return self.engine.document

    def variables(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        variables = self.engine.variables(self)
        if extra:
            variables.update(extra)
        return variables

    def evaluate(
        self,
        expression: str,
        *,
        field: str,
        data: Any = _UNSET,
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Evaluate an expression field (bare jq or ``${ }``) against the input or ``data``."""
        target = self.input if data is _UNSET else data
        try:
            return evaluate(expression, target, self.variables(extra), now=self.engine.now_epoch())
        except ExpressionError as exc:
            raise self.expression_error(field, exc) from None

    def evaluate_value(
        self,
        value: Any,
        *,
        field: str,
        data: Any = _UNSET,
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """Replace the ``${ }`` expressions anywhere in ``value`` (see expressions)."""
        target = self.input if data is _UNSET else data
        try:
            return evaluate_value(value, target, self.variables(extra), now=self.engine.now_epoch())
        except ExpressionError as exc:
            raise self.expression_error(field, exc) from None

    async def run_tasks(
        self,
        tasks: Any,
        path: str,
        data: Any,
        scope: Mapping[str, Any] | None = None,
        *,
        iteration: int | None = None,
        frame: FrameOf | None = None,
    ) -> ListOutcome:
        """Run the task list at ``path`` below this task (``"do"``, ``"try"``...).

        ``iteration`` marks a loop body's tasks; by default they inherit this task's.
        ``frame`` (a ``do`` or ``for`` task's state) lets the run be cut inside the list,
        where it can be cut at this task.
        """
        merged = {**self.scope, **(scope or {})}
        return await self.engine.run_tasks(
            tasks,
            f"{self.pointer}/{path}",
            data,
            merged,
            iteration=self.iteration if iteration is None else iteration,
            frames=None if frame is None or self.frames is None else (*self.frames, frame),
        )

    def frame(
        self,
        *,
        iteration: int | None = None,
        data: Any = None,
        items: list[Any] | None = None,
        skip: int = 0,
    ) -> Frame:
        """This task's :class:`Frame` on the way to a cut (see ``checkpoint.py``); a loop
        passes its ``items`` and ``skip``, how many of them are done."""
        return Frame(
            task_index=self.index,
            task_input=self.input,
            iteration=iteration,
            data=data,
            items=None if items is None else items[skip:],
            started_at=iso(self.started_at),
        )

    def configuration_error(self, detail: str) -> WorkflowError:
        """The error for a task definition that cannot run as written."""
        return WorkflowError.of(
            ErrorType.CONFIGURATION, f"task {self.name!r}: {detail}", instance=self.pointer
        )

    def expression_error(self, field: str, exc: ExpressionError) -> WorkflowError:
        return WorkflowError.of(
            ErrorType.EXPRESSION,
            f"task {self.name!r}, {field}: {exc.message} (in expression {exc.expression!r})",
            instance=self.pointer,
        )


TaskHandler = Callable[[TaskContext], Awaitable[TaskResult]]
"""An async function that runs one task type."""
