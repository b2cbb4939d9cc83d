"""Runtime expressions: jq programs evaluated deterministically.

The DSL's default expression language is jq, in ``strict`` mode: in a value, only a string
that is entirely ``${ ... }`` is an expression. Fields that *are* expressions by definition
(``if``, ``input.from``, ``output.as``, ``export.as``, ``switch.when``, ``for.in``) also take
bare jq, as the conformance kit writes them (``from: .user.claims.subject``).

Programs run inside a Temporal workflow, so they must not see the host: ``now`` returns the
time the caller passes in (the workflow clock), ``env`` and ``$ENV`` are empty, ``input``,
``debug`` and ``stderr`` do no I/O, local time is UTC, and modules cannot be imported (the
prelude precedes the program, where jq forbids ``import``).

Variables (``$context``, ``$input``, ...) are bound through the program's input instead of
jq's compile-time arguments, so a compiled program is reused for any values: programs are
compiled once per text and variable names and cached for the process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jq

_STRICT = re.compile(r"^\s*\$\{(?P<body>.+)\}\s*$", re.DOTALL)
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_MODULE_DIRECTIVE = re.compile(r"^\s*(?:import|include)\b")
_JQ_LOCATION = re.compile(r"\s+at <top-level>, line \d+(?:, column \d+)?:?$")

# Redefinitions that keep programs away from the host; see the module docstring.
_PRELUDE = """\
def now: $__stigmer_now;
def env: {};
def input: error("input is not available in workflow expressions");
def inputs: empty;
def input_filename: null;
def localtime: gmtime;
def strflocaltime(f): strftime(f);
def debug: .;
def debug(msg): .;
def stderr: .;
def halt_error: error(.);
def halt_error(code): error(.);
{} as $ENV |
"""


_NO_MODULES = "jq modules (import, include) are not available in workflow expressions"


class ExpressionError(Exception):
    """A runtime expression failed to compile or to evaluate."""

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(f"{message} (in expression {expression!r})")
        self.expression = expression
        self.message = message


def is_expression(value: Any) -> bool:
    """Tell whether ``value`` is a strict runtime expression: a string that is all ``${ }``."""
    return isinstance(value, str) and _STRICT.match(value) is not None


def unwrap(expression: str) -> str:
    """The jq program of an expression written ``${ ... }`` or bare."""
    match = _STRICT.match(expression)
    return match.group("body").strip() if match else expression.strip()


def evaluate(expression: str, data: Any, variables: Mapping[str, Any], *, now: float) -> Any:
    """Evaluate a jq expression (``${ }``-wrapped or bare) against ``data``.

    ``variables`` maps names to values (``{"context": {...}}`` binds ``$context``); only
    those the program mentions are passed to jq. ``now`` is the value of jq's ``now``, in
    seconds since the epoch. The first result is returned; a program with no result
    (``empty``) evaluates to None.
    """
    program = unwrap(expression)
    if not program:
        raise ExpressionError(expression, "the expression is empty")
    names = tuple(sorted(set(_VARIABLE.findall(program)) & set(variables)))
    compiled = _compiled(program, names)
    if compiled is None:
        raise ExpressionError(expression, _compile_error(program, names))
    bound = [now, data, *(variables[name] for name in names)]
    try:
        return _first(compiled, bound)
    except ValueError as exc:
        raise ExpressionError(expression, str(exc)) from None
    except TypeError as exc:
        # Only reachable when ``data`` or a variable is not JSON (a caller's bug, but one
        # that should name the expression rather than crash the workflow).
        raise ExpressionError(expression, f"the data is not JSON: {exc}") from None


def evaluate_value(value: Any, data: Any, variables: Mapping[str, Any], *, now: float) -> Any:
    """Return ``value`` with every strict expression in it replaced by its result.

    Mappings and lists are walked recursively (keys are literal); strings that are not
    entirely ``${ }`` are left as they are. The input is never modified.
    """
    if isinstance(value, str):
        return evaluate(value, data, variables, now=now) if is_expression(value) else value
    if isinstance(value, Mapping):
        return {k: evaluate_value(v, data, variables, now=now) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_value(v, data, variables, now=now) for v in value]
    return value


def truthy(value: Any) -> bool:
    """jq's notion of truth: everything but ``false`` and ``null``."""
    return value is not None and value is not False


def _first(compiled: Any, bound: list[Any]) -> Any:
    """The program's first result, or None when it has none."""
    results = iter(compiled.input_value(bound))
    try:
        return next(results, None)
    finally:
        # jq's result iterator must be freed by reference counting. Kept alive by a traceback
        # cycle (an error raised here), the cyclic collector would free it instead, and its
        # __dealloc__ then dereferences an attribute the collector has already cleared:
        # a segmentation fault (jq 1.13).
        del results


@lru_cache(maxsize=1024)
def _compiled(program: str, names: tuple[str, ...]) -> Any:
    """Compile ``program`` with its prelude; None when it does not compile.

    Cached: the same text with the same variable names always compiles to the same program,
    so sharing compiled programs across workflow runs is deterministic.
    """
    binding = ", ".join(["$__stigmer_now", "$__stigmer_data", *(f"${n}" for n in names)])
    # The program goes on its own lines so a trailing ``# comment`` cannot swallow the ``)``.
    source = f". as [{binding}] |\n{_PRELUDE}$__stigmer_data | (\n{program}\n)"
    try:
        return jq.compile(source)
    except ValueError:
        return None


def _compile_error(program: str, names: tuple[str, ...]) -> str:
    """jq's message for a program that does not compile, without our prelude in it."""
    if _MODULE_DIRECTIVE.match(program):
        # Compiling it alone would make jq search the file system for the module.
        return _NO_MODULES
    try:
        jq.compile(program, args=dict.fromkeys(names))
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "compile error"
        first = _JQ_LOCATION.sub("", first)
        return first.removeprefix("jq: error: ")
    # The bare program compiles, so the prelude or wrapping is what broke it (a top-level
    # ``import``/``include``, say): modules are not available to workflow expressions.
    return _NO_MODULES
