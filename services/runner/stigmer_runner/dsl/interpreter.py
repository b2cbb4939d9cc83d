"""Run a Serverless Workflow DSL 1.0 document: data flow, flow directives and task reports.

The interpreter is deterministic so it can run inside a Temporal workflow: it does no I/O,
reads no clock and draws no random numbers; side effects and time come from the
:class:`~stigmer_runner.dsl.runtime.TaskRuntime` it is given. It imports only the standard
library, ``jq``, ``jsonschema`` (pure validation), ``stigmer_core`` and this package.

Data flow follows the specification (dsl.md, "Data Flow"): workflow ``input.schema`` and
``input.from``, then for each task ``if`` (on the raw input), ``input.schema`` (on the raw
input), ``input.from``, the task itself, ``output.as``, ``output.schema``, ``export.as``
(into ``$context``), and finally the workflow's ``output.as`` and ``output.schema``. What a task
type does is up to its handler (``stigmer_runner.dsl.tasks``); this module holds what all
tasks share, including ``use.extensions`` (see ``extensions.py``), which run around the
task itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from stigmer_core.model import TaskPhase
from stigmer_runner.dsl.catalogs import FunctionCatalogs, is_catalog_reference
from stigmer_runner.dsl.checkpoint import Checkpoint, Resume
from stigmer_runner.dsl.contracts import TaskEvent
from stigmer_runner.dsl.errors import ErrorType, WorkflowError, runtime_problem
from stigmer_runner.dsl.expressions import ExpressionError, evaluate, evaluate_value, truthy
from stigmer_runner.dsl.extensions import Extension, is_extension_task, parse_extensions
from stigmer_runner.dsl.racing import within
from stigmer_runner.dsl.runtime import TaskRuntime
from stigmer_runner.dsl.schemas import SchemaValidator
from stigmer_runner.dsl.tasks import (
    DEFAULT_HANDLERS,
    TASK_TYPES,
    Directive,
    ListOutcome,
    TaskContext,
    TaskHandler,
    TaskResult,
    task_type,
)
from stigmer_runner.dsl.timeouts import timeout_error, timeout_seconds

RUNTIME_NAME = "stigmer"


class _ReportFailedError(Exception):
    """A status report failed: infrastructure trouble, never the task's fault.

    Carried up untouched through the tasks that enclose the reporting one (which would
    otherwise turn it into their own runtime error) and unwrapped by ``run``.
    """

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


class Interpreter:
    """Runs one workflow document; create one per execution.

    ``handlers`` maps task types to handlers (defaults to every supported type);
    ``execution_id`` is ``$workflow.id``; ``secrets`` is ``$secrets``, also used by
    secret-based authentication policies; ``runtime_version`` goes into ``$runtime``;
    ``default_catalog`` is the root URL of the catalog ``name:version@default`` calls use.
    """

    def __init__(
        self,
        document: dict[str, Any],
        *,
        runtime: TaskRuntime,
        handlers: Mapping[str, TaskHandler] | None = None,
        execution_id: str = "",
        secrets: Mapping[str, Any] | None = None,
        runtime_version: str = "dev",
        resume: Resume | None = None,
        default_catalog: str | None = None,
    ) -> None:
        self._document: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
        self._valid_document = isinstance(document, Mapping)
        self._runtime = runtime
        self._handlers = DEFAULT_HANDLERS if handlers is None else handlers
        self._execution_id = execution_id
        self._secrets: Mapping[str, Any] = secrets or {}
        self._runtime_descriptor = {
            "name": RUNTIME_NAME,
            "version": runtime_version,
            "metadata": {},
        }
        self._context: Any = {}
        self._workflow: dict[str, Any] = {}
        # Set when this run continues an earlier one; consumed by the resumed ``for`` task.
        self._resume = resume
        self._schemas = SchemaValidator(runtime=runtime)
        self._catalogs = FunctionCatalogs(default_catalog=default_catalog)
        self._extensions: tuple[Extension, ...] = ()

    # --- the Engine protocol (what task handlers use) ------------------------------------

    @property
    def runtime(self) -> TaskRuntime:
        return self._runtime

    @property
    def document(self) -> Mapping[str, Any]:
        return self._document

    @property
    def secrets(self) -> Mapping[str, Any]:
        return self._secrets

    def now_epoch(self) -> float:
        return self._runtime.now().timestamp()

    def variables(self, task: TaskContext) -> dict[str, Any]:
        """Runtime expression arguments (dsl.md, "Runtime expression arguments").

        Inside an extension's tasks the scope carries ``task``: the extended task's.
        """
        return {
            **task.scope,
            "context": self._context,
            "input": task.input,
            "secrets": self._secrets,
            "task": task.scope["task"] if "task" in task.scope else _task_descriptor(task),
            "workflow": self._workflow,
            "runtime": self._runtime_descriptor,
            "authorization": task.authorization,
        }

    async def catalog_function(self, task: TaskContext, function: str) -> Mapping[str, Any] | None:
        if not is_catalog_reference(function):
            return None
        return await self._catalogs.definition(task, function)

    def set_context(self, context: Any) -> None:
        self._context = context

    # --- running ---------------------------------------------------------------------------

    async def run(self, input: Any) -> Any:
        """Run the workflow on ``input``; return its output or raise :class:`WorkflowError`."""
        if not self._valid_document:
            raise WorkflowError.of(
                ErrorType.CONFIGURATION, "the workflow document must be a mapping", instance=""
            )
        resume = self._resume
        started = self._runtime.now()
        if resume is not None:
            input = resume.workflow_input
            started = datetime.fromisoformat(resume.started_at)
        self._context = {} if resume is None else resume.context
        self._extensions = parse_extensions(self._document)
        self._workflow = {
            "id": self._execution_id,
            "definition": self._document,
            "input": input,
            "startedAt": _datetime_descriptor(started),
        }
        try:
            seconds = timeout_seconds(
                self._document,
                self._document.get("timeout"),
                field="timeout",
                error=lambda detail: WorkflowError.of(
                    ErrorType.CONFIGURATION, detail, instance="/timeout"
                ),
            )
            if seconds is not None and resume is not None:
                # The workflow's timeout spans all its runs, not each one.
                seconds -= (self._runtime.now() - started).total_seconds()
            if seconds is None:
                return await self._run_workflow(input)
            return await within(
                self._runtime,
                self._run_workflow(input),
                seconds,
                lambda: timeout_error("the workflow", seconds, instance=""),
            )
        except _ReportFailedError as exc:
            raise exc.original from None

    async def _run_workflow(self, input: Any) -> Any:
        if self._resume is None:
            await self._workflow_schema("input", input)
            data = self._workflow_filter(input, "input", "from", context=False)
            start = 0
        else:
            data, start = self._resume.task_input, self._resume.task_index
        outcome = await self.run_tasks(self._document.get("do"), "/do", data, {}, start=start)
        output = self._workflow_filter(outcome.output, "output", "as", context=True)
        await self._workflow_schema("output", output)
        return output

    async def _workflow_schema(self, key: str, data: Any) -> None:
        """Validate the workflow's raw input or final output against its schema, if any."""
        settings = self._document.get(key)
        await self._schemas.validate(
            settings.get("schema") if isinstance(settings, Mapping) else None,
            data,
            field=f"{key}.schema",
            label="the workflow",
            instance=f"/{key}/schema",
        )

    async def run_tasks(
        self,
        tasks: Any,
        pointer: str,
        data: Any,
        scope: Mapping[str, Any],
        *,
        iteration: int | None = None,
        start: int = 0,
    ) -> ListOutcome:
        """Run the task list at ``pointer`` on ``data``, following ``then`` directives.

        ``iteration`` is the innermost enclosing ``for`` iteration, reported with each task.
        """
        if not isinstance(tasks, list):
            raise WorkflowError.of(
                ErrorType.CONFIGURATION, f"{pointer} must be a list of tasks", instance=pointer
            )
        entries: list[tuple[str, Any, str]] = []
        positions: dict[str, int] = {}
        for index, item in enumerate(tasks):
            if not isinstance(item, Mapping) or len(item) != 1:
                raise WorkflowError.of(
                    ErrorType.CONFIGURATION,
                    f"{pointer}/{index} must map exactly one task name to its definition",
                    instance=f"{pointer}/{index}",
                )
            ((name, definition),) = item.items()
            entries.append((str(name), definition, f"{pointer}/{index}/{_escape(str(name))}"))
            positions.setdefault(str(name), index)
        index = start
        while index < len(entries):
            name, definition, task_pointer = entries[index]
            data, then = await self._run_task(
                name, definition, task_pointer, data, scope, iteration
            )
            if then == Directive.END:
                return ListOutcome(data, ended=True)
            if then == Directive.EXIT:
                return ListOutcome(data, exited=True)
            if then == Directive.CONTINUE:
                index += 1
                continue
            if then not in positions:
                raise WorkflowError.of(
                    ErrorType.CONFIGURATION,
                    f"task {name!r}: then names {then!r}, which is not a task of this list",
                    instance=task_pointer,
                )
            index = positions[then]
        return ListOutcome(data)

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
        """Run the single task at ``pointer`` (a fork branch); return its output and ``then``."""
        return await self._run_task(name, definition, pointer, data, scope, iteration)

    async def _run_task(
        self,
        name: str,
        definition: Any,
        pointer: str,
        raw_input: Any,
        scope: Mapping[str, Any],
        iteration: int | None = None,
    ) -> tuple[Any, str]:
        """Run one task; return its transformed output and the directive to follow."""
        kind = task_type(definition) if isinstance(definition, Mapping) else None
        task = TaskContext(
            name=name,
            pointer=pointer,
            type=kind or "unknown",
            definition=definition if isinstance(definition, Mapping) else {},
            raw_input=raw_input,
            input=raw_input,
            started_at=self._runtime.now(),
            engine=self,
            scope=scope,
            iteration=iteration,
        )
        resumed = self._resume is not None and pointer == self._resume_pointer()
        try:
            handler = self._handler(task, definition, kind)
            if resumed and self._resume is not None:
                # A continued run re-enters its loop as it was: no `if`, input already shaped.
                task.input = self._resume.task_input
                seconds = self._task_timeout(task)
            elif not self._should_run(task):
                await self._report(task, TaskPhase.SKIPPED, output=raw_input)
                return raw_input, Directive.CONTINUE
            else:
                # Data flow: the raw input is validated before input.from transforms it.
                await self._task_schema(task, "input", raw_input)
                task.input = self._filter(task, "input", "from", raw_input)
                seconds = self._task_timeout(task)
        except (asyncio.CancelledError, _ReportFailedError):
            raise
        except Exception as exc:
            await self._fail(task, exc)

        await self._report(task, TaskPhase.RUNNING)
        try:
            if seconds is None:
                result = await self._work(task, handler, resumed=resumed)
            else:
                result = await within(
                    self._runtime,
                    self._work(task, handler, resumed=resumed),
                    seconds,
                    lambda: timeout_error(f"task {task.name!r}", seconds, instance=task.pointer),
                )
            task.raw_output, task.authorization = result.output, result.authorization
            output = self._filter(task, "output", "as", result.output)
            # ...and the output after output.as, before export.as reads it.
            await self._task_schema(task, "output", output)
            export = _setting(task, "export", "as")
            if export is not None:
                self._context = self._transform(
                    task, export, output, "export.as", extra={"output": output}
                )
            then = result.then or task.definition.get("then") or Directive.CONTINUE
            if not isinstance(then, str):
                raise task.configuration_error("'then' must be continue, exit, end or a task name")
        except asyncio.CancelledError:
            await self._report(task, TaskPhase.CANCELLED)
            raise
        except _ReportFailedError:
            raise
        except Exception as exc:
            await self._fail(task, exc)
        await self._report(task, TaskPhase.COMPLETED, output=output)
        return output, then

    # --- use.extensions (see extensions.py) -------------------------------------------------

    async def _work(self, task: TaskContext, handler: TaskHandler, *, resumed: bool) -> TaskResult:
        """The task itself, with the extensions that apply to it around it."""
        if not self._extensions or is_extension_task(task.pointer):
            return await handler(task)
        applying = [e for e in self._extensions if e.extends(task.type) and self._when(e, task)]
        result: TaskResult | None = None
        # A continued run re-enters its loop mid-way: the `before` lists ran in the first run.
        for extension in [] if resumed else applying:
            if extension.before is None:
                continue
            outcome = await self._extension_tasks(extension, "before", task, task.input)
            if outcome.ended:
                return TaskResult(outcome.output, then=Directive.END)
            if outcome.exited:
                result = TaskResult(outcome.output)
                break
        if result is None:
            result = await handler(task)
        for extension in applying:
            if extension.after is None:
                continue
            task.raw_output = result.output
            outcome = await self._extension_tasks(extension, "after", task, result.output)
            if outcome.ended:
                return TaskResult(outcome.output, then=Directive.END)
            if outcome.exited:
                result = dataclasses.replace(result, output=outcome.output)
        return result

    def _when(self, extension: Extension, task: TaskContext) -> bool:
        if extension.when is None:
            return True
        return truthy(
            task.evaluate(
                extension.when,
                field=f"use.extensions.{extension.name}.when",
                extra={"task": _extended_descriptor(task)},
            )
        )

    async def _extension_tasks(
        self, extension: Extension, key: str, task: TaskContext, data: Any
    ) -> ListOutcome:
        tasks = extension.before if key == "before" else extension.after
        scope = {**task.scope, "task": _extended_descriptor(task)}
        return await self.run_tasks(
            tasks, f"{extension.pointer}/{key}", data, scope, iteration=task.iteration
        )

    # --- continue-as-new (see checkpoint.py) ------------------------------------------------

    def _resume_pointer(self) -> str | None:
        if self._resume is None:
            return None
        tasks = self._document.get("do")
        if not isinstance(tasks, list) or not 0 <= self._resume.task_index < len(tasks):
            return None
        ((name, _),) = tasks[self._resume.task_index].items()
        return f"/do/{self._resume.task_index}/{_escape(str(name))}"

    def take_resume(self, task: TaskContext) -> tuple[int, Any] | None:
        """For the ``for`` task a continued run re-enters: (first iteration, its data), once."""
        resume = self._resume
        if resume is None or task.pointer != self._resume_pointer():
            return None
        self._resume = None
        return resume.iteration, resume.data

    def checkpoint(self, task: TaskContext, iteration: int, data: Any) -> None:
        """At an iteration boundary of a top-level ``for``: raise :class:`Checkpoint` when the
        runtime says the run should continue as new; otherwise do nothing."""
        parts = task.pointer.split("/")
        if len(parts) != 4 or parts[1] != "do" or not self._runtime.should_continue_as_new():
            return
        raise Checkpoint(
            Resume(
                task_index=int(parts[2]),
                task_input=task.input,
                iteration=iteration,
                data=data,
                context=self._context,
                workflow_input=self._workflow.get("input"),
                started_at=_iso(self._workflow_started()),
            )
        )

    def _workflow_started(self) -> datetime:
        started = self._workflow.get("startedAt")
        if isinstance(started, Mapping) and isinstance(started.get("iso8601"), str):
            return datetime.fromisoformat(started["iso8601"].replace("Z", "+00:00"))
        return self._runtime.now()

    def _handler(self, task: TaskContext, definition: Any, kind: str | None) -> TaskHandler:
        if not isinstance(definition, Mapping):
            raise task.configuration_error("a task definition must be a mapping")
        if kind is None:
            raise task.configuration_error(
                f"the definition has no task type; expected one of {', '.join(TASK_TYPES)}"
            )
        handler = self._handlers.get(kind)
        if handler is None:
            raise task.configuration_error(f"{kind} tasks are not supported yet")
        return handler

    async def _task_schema(self, task: TaskContext, key: str, data: Any) -> None:
        await self._schemas.validate(
            _setting(task, key, "schema"),
            data,
            field=f"{key}.schema",
            label=f"task {task.name!r}",
            instance=task.pointer,
        )

    def _task_timeout(self, task: TaskContext) -> float | None:
        return timeout_seconds(
            self._document,
            task.definition.get("timeout"),
            field="timeout",
            error=task.configuration_error,
            evaluate=lambda expression, field: task.evaluate(expression, field=field),
        )

    def _should_run(self, task: TaskContext) -> bool:
        condition = task.definition.get("if")
        if condition is None:
            return True
        if not isinstance(condition, str):
            raise task.configuration_error("'if' must be a runtime expression")
        # Evaluated on the raw input, before any other expression of the task (dsl-reference).
        return truthy(task.evaluate(condition, field="if"))

    def _filter(self, task: TaskContext, key: str, sub: str, data: Any) -> Any:
        spec = _setting(task, key, sub)
        return data if spec is None else self._transform(task, spec, data, f"{key}.{sub}")

    def _transform(
        self,
        task: TaskContext,
        spec: Any,
        data: Any,
        field: str,
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        """``input.from``, ``output.as``, ``export.as``: bare jq, ``${ }`` or an object."""
        if isinstance(spec, str):
            return task.evaluate(spec, field=field, data=data, extra=extra)
        if isinstance(spec, Mapping):
            return task.evaluate_value(spec, field=field, data=data, extra=extra)
        raise task.configuration_error(f"{field} must be a runtime expression or an object")

    def _workflow_filter(self, data: Any, key: str, sub: str, *, context: bool) -> Any:
        """The workflow's own ``input.from`` (no ``$context`` yet) or ``output.as``."""
        settings = self._document.get(key)
        spec = settings.get(sub) if isinstance(settings, Mapping) else None
        if spec is None:
            return data
        pointer = f"/{key}/{sub}"
        variables: dict[str, Any] = {
            "secrets": self._secrets,
            "workflow": self._workflow,
            "runtime": self._runtime_descriptor,
        }
        if context:
            variables["context"] = self._context
        try:
            if isinstance(spec, str):
                return evaluate(spec, data, variables, now=self.now_epoch())
            if isinstance(spec, Mapping):
                return evaluate_value(spec, data, variables, now=self.now_epoch())
        except ExpressionError as exc:
            raise WorkflowError.of(
                ErrorType.EXPRESSION, f"{pointer}: {exc}", instance=pointer
            ) from None
        raise WorkflowError.of(
            ErrorType.CONFIGURATION,
            f"{pointer} must be a runtime expression or an object",
            instance=pointer,
        )

    async def _fail(self, task: TaskContext, exc: Exception) -> NoReturn:
        """Report ``task`` FAILED and raise the WorkflowError that stands for ``exc``."""
        if isinstance(exc, WorkflowError):
            await self._report(task, TaskPhase.FAILED, error=exc.located(task.pointer).problem)
            raise exc
        # A bug or an infrastructure failure. The original stays the cause, so the host can
        # tell them apart (and retry the latter rather than fail the run).
        error = WorkflowError(runtime_problem(exc, instance=task.pointer))
        await self._report(task, TaskPhase.FAILED, error=error.problem)
        raise error from exc

    async def _report(
        self,
        task: TaskContext,
        phase: TaskPhase,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        event = TaskEvent(
            task_id=task.pointer,
            name=task.name,
            type=task.type,
            phase=phase.value,
            at=_iso(self._runtime.now()),
            input=task.input,
            output=output,
            error=error,
            iteration=task.iteration,
            started_at=None if phase is TaskPhase.RUNNING else _iso(task.started_at),
        )
        try:
            await self._runtime.report(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _ReportFailedError(exc) from exc


def _task_descriptor(task: TaskContext) -> dict[str, Any]:
    """``$task`` (dsl.md, "Task Descriptor")."""
    return {
        "name": task.name,
        "reference": task.pointer,
        "definition": task.definition,
        "input": task.raw_input,
        "output": task.raw_output,
        "startedAt": _datetime_descriptor(task.started_at),
    }


def _extended_descriptor(task: TaskContext) -> dict[str, Any]:
    """``$task`` for an extension: the descriptor plus the definition's own fields
    (``$task.call``, ``$task.with``), as the specification's extension examples read it."""
    return {**task.definition, **_task_descriptor(task)}


def _setting(task: TaskContext, key: str, sub: str) -> Any:
    settings = task.definition.get(key)
    if settings is None:
        return None
    if not isinstance(settings, Mapping):
        raise task.configuration_error(f"'{key}' must be a mapping")
    return settings.get(sub)


def _escape(name: str) -> str:
    """A task name as a JSON pointer segment (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _datetime_descriptor(moment: datetime) -> dict[str, Any]:
    """The spec's dateTimeDescriptor: ISO 8601 and epoch seconds and milliseconds."""
    millis = int(moment.timestamp() * 1000)
    return {"iso8601": _iso(moment), "epoch": {"seconds": millis // 1000, "milliseconds": millis}}
