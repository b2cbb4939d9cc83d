"""``call: <name>``: run a function of ``use.functions``, of a catalog, or given by URI.

A function is a task definition (``call: http``, ``run``, ``set``, a ``do`` list...) kept
under a name. Calling it runs that task with the call's evaluated ``with`` mapping as its
input: the specification binds arguments as the function's input, not as variables (its
function examples validate the arguments with the function's ``input.schema`` and read them
as ``.petId`` or ``${ .emailAddress }``). ``with`` is evaluated against the calling task's
transformed input; the function sees only its arguments plus the workflow-wide variables
(``$context``, ``$secrets``, ``$workflow``, ``$runtime``), not the caller's ``$item`` or
``$error``, since one definition serves every caller. The function task's own ``input``,
``output``, ``export``, ``if`` and ``timeout`` apply as for any task; its ``then`` is ignored
(it has no task list of its own to direct), and its output, after its ``output.as``, is the
calling task's raw output.

The function runs as a nested task at ``<calling task>/call``, so it has its own status entry
(named after the function) and errors raised inside it carry that pointer as ``instance``,
or a deeper one for a task inside a ``do``-bodied function: the innermost task wins, as for
every nested task. The specification makes ``instance`` a JSON pointer to the component that
raised the error; ``/use/functions/<name>`` is shared by all callers and would not say which
call failed, whereas ``<calling task>/call`` resolves in the document to that call site's
``call: <name>``. Errors raised before the function starts (``with`` cannot be evaluated, no
such function) carry the calling task's pointer.

A name that ``use.functions`` does not define may name a cataloged function
(``name:version@catalog``) or the URI of a function definition: the engine fetches its
definition once per run (``stigmer_runner.dsl.catalogs``) and it then runs exactly like an
inline function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stigmer_runner.dsl.tasks.base import TaskContext, TaskResult

# Functions calling functions nest; past this depth it is taken for unbounded recursion.
MAX_NESTING = 32


async def call_function(task: TaskContext, function: str) -> TaskResult:
    """Run the function ``function`` of ``use.functions`` with the task's ``with`` as input."""
    definition = await _definition(task, function)
    arguments = task.definition.get("with", {})
    if not isinstance(arguments, Mapping):
        raise task.configuration_error(f"'with' (the arguments of {function!r}) must be a mapping")
    if task.pointer.split("/").count("call") >= MAX_NESTING:
        raise task.configuration_error(
            f"function {function!r} is nested more than {MAX_NESTING} calls deep;"
            " does it call itself?"
        )
    data = task.evaluate_value(dict(arguments), field="with")
    output, _then = await task.engine.run_task(
        function, definition, f"{task.pointer}/call", data, {}, iteration=task.iteration
    )
    return TaskResult(output)


async def _definition(task: TaskContext, function: str) -> Mapping[str, Any]:
    use = task.document.get("use")
    use = use if isinstance(use, Mapping) else {}
    functions = use.get("functions")
    if functions is not None and not isinstance(functions, Mapping):
        raise task.configuration_error("use.functions must map function names to tasks")
    if functions and function in functions:
        definition = functions[function]
        if not isinstance(definition, Mapping):
            raise task.configuration_error(f"use.functions.{function} must be a task definition")
        return definition
    cataloged = await task.engine.catalog_function(task, function)
    if cataloged is not None:
        return cataloged
    hint = ""
    if use.get("catalogs"):
        hint = " (a function of use.catalogs is called as name:version@catalog)"
    raise task.configuration_error(
        f"call: {function!r} is neither a built-in function nor defined in use.functions{hint}"
    )
