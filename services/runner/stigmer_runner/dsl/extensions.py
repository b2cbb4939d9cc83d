"""``use.extensions``: task lists that run before and after every matching task.

An extension names the task type it extends (``extend``: a type, ``composite`` for ``do``
and ``fork``, or ``all``), an optional ``when`` condition and ``before``/``after`` task
lists. Around each task it applies to, the interpreter runs (see ``Interpreter._extended``):

1. ``when``, evaluated like the task's own expressions: on its transformed input, with
   ``$task`` describing it. The specification's examples read ``$task.call`` and
   ``$task.with.endpoint``, so the task's definition fields are in ``$task`` too (the
   descriptor's own keys win: ``$task.input`` is the task's raw input, not its ``input``).
2. every applying extension's ``before`` list, in declaration order, on the task's
   transformed input. Its output is dropped, unless the list ends with ``then: exit``: then
   the extended task does not run and that output stands for its raw output (the
   specification's mocking example), and later ``before`` lists are skipped.
3. the task itself (unless bypassed);
4. every applying extension's ``after`` list, in declaration order, on the task's raw
   output; again the output is dropped unless the list exits, in which case it replaces the
   raw output the next ``after`` list and the task's ``output.as`` see.

Inside an extension's tasks ``$task`` keeps describing the extended task (its raw ``output``
too, in ``after``), as the specification's logging example reads ``$task.reference``. An
``end`` in an extension's list ends the workflow. Extension tasks report their status under
``/use/extensions/<index>/<name>/before/<index>/<task>``, are never extended themselves (no
recursion) and share the extended task's timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stigmer_runner.dsl.errors import ErrorType, WorkflowError

EXTENSIONS_POINTER = "/use/extensions"

# The schema's ``extend`` values other than ``all``, mapped to task types. ``composite`` is
# the specification's name for the tasks that hold others (``do``; ``fork`` has no name of
# its own in the enum).
_TARGETS: Mapping[str, frozenset[str]] = {
    "call": frozenset({"call"}),
    "composite": frozenset({"do", "fork"}),
    "emit": frozenset({"emit"}),
    "for": frozenset({"for"}),
    "listen": frozenset({"listen"}),
    "raise": frozenset({"raise"}),
    "run": frozenset({"run"}),
    "set": frozenset({"set"}),
    "switch": frozenset({"switch"}),
    "try": frozenset({"try"}),
    "wait": frozenset({"wait"}),
}


@dataclass(frozen=True)
class Extension:
    """One entry of ``use.extensions``; ``pointer`` is ``/use/extensions/<index>/<name>``."""

    name: str
    pointer: str
    extend: str
    when: str | None
    before: list[Any] | None
    after: list[Any] | None

    def extends(self, task_type: str) -> bool:
        return self.extend == "all" or task_type in _TARGETS.get(self.extend, ())


def is_extension_task(pointer: str) -> bool:
    """Whether the task at ``pointer`` belongs to an extension (and so is never extended)."""
    return pointer.startswith(EXTENSIONS_POINTER + "/")


def parse_extensions(document: Mapping[str, Any]) -> tuple[Extension, ...]:
    """The document's extensions, checked; a malformed one is a configuration error."""
    use = document.get("use")
    entries = use.get("extensions") if isinstance(use, Mapping) else None
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise _error("use.extensions must be a list of named extensions", EXTENSIONS_POINTER)
    extensions = []
    for index, entry in enumerate(entries):
        here = f"{EXTENSIONS_POINTER}/{index}"
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise _error(f"{here} must map one extension name to its definition", here)
        ((name, definition),) = entry.items()
        pointer = f"{here}/{_escape(str(name))}"
        label = f"extension {name!r}"
        if not isinstance(definition, Mapping):
            raise _error(f"{label} must be a mapping", pointer)
        extend = definition.get("extend")
        if extend != "all" and extend not in _TARGETS:
            allowed = ", ".join([*_TARGETS, "all"])
            raise _error(f"{label}: extend must be one of {allowed}, got {extend!r}", pointer)
        when = definition.get("when")
        if when is not None and not isinstance(when, str):
            raise _error(f"{label}: when must be a runtime expression", pointer)
        lists: dict[str, list[Any] | None] = {}
        for key in ("before", "after"):
            tasks = definition.get(key)
            if tasks is not None and not isinstance(tasks, list):
                raise _error(f"{label}: {key} must be a list of tasks", f"{pointer}/{key}")
            lists[key] = tasks or None
        extensions.append(
            Extension(str(name), pointer, str(extend), when, lists["before"], lists["after"])
        )
    return tuple(extensions)


def _error(detail: str, pointer: str) -> WorkflowError:
    return WorkflowError.of(ErrorType.CONFIGURATION, detail, instance=pointer)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
