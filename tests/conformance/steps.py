"""The kit's step vocabulary: each scenario compiles into a plan (definition, input, checks).

Every step wording of the kit's README (``ctk/README.md`` upstream, "Steps") is known here;
any other wording is a :class:`StepError` at collection time, so a new kit version cannot
silently skip a check. Checks run on the terminal :class:`Outcome` of an execution and
compare the way the README describes them:

- ``should complete with output`` / ``should have a 'p' property with value``: JSON
  equality (objects by keys, arrays in order, a boolean never equals a number);
- ``should fault with error``: every field the scenario names must be equal; fields it
  leaves out (``detail``, say) are not checked;
- ``should have properties 'a', 'b.c'``: dotted paths into the output, each key present;
- ``X should run first / last / before Y / after Y``: the order in which tasks started,
  skipped tasks left out (the execution status lists tasks in the order they first ran).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stigmer_core.dsl_document import load_yaml
from stigmer_core.model import ExecutionPhase, TaskPhase, TaskStatus
from tests.conformance.gherkin import Scenario, Step


class StepError(ValueError):
    """A step this vocabulary does not know, or steps in an impossible order."""


@dataclass(frozen=True)
class Outcome:
    """How an execution ended: what every check looks at."""

    phase: ExecutionPhase
    output: Any
    error: dict[str, Any] | None
    tasks: list[TaskStatus]

    def describe(self) -> str:
        started = [f"{t.name}:{t.phase.value}" for t in self.tasks]
        return (
            f"phase={self.phase.value} output={self.output!r} error={self.error!r} tasks={started}"
        )


Check = Callable[[Outcome], None]


@dataclass
class Plan:
    """A scenario ready to run: the definition text, the input and the checks, in order."""

    definition: str = ""
    input: Any = None
    executed: bool = False
    checks: list[tuple[str, Check]] = field(default_factory=list)


def compile_scenario(scenario: Scenario, *, where: str) -> Plan:
    """Turn a scenario's steps into a plan; raise StepError naming ``where`` and the line."""
    plan = Plan()
    keyword, phase = "", ""
    for step in scenario.steps:
        if step.keyword in ("And", "But"):
            if not keyword:
                raise StepError(f"{where}:{step.line}: a scenario cannot start with {step.keyword}")
        else:
            keyword = step.keyword
        kind = _apply(plan, step, where)
        if keyword != _KEYWORDS[kind]:
            raise StepError(
                f"{where}:{step.line}: {step.text!r} is a {_KEYWORDS[kind]} step, not {keyword}"
            )
        if phase and _ORDER.index(kind) < _ORDER.index(phase):
            raise StepError(f"{where}:{step.line}: {step.text!r} comes after a {phase} step")
        phase = kind
    if not plan.definition:
        raise StepError(f"{where}: no 'Given a workflow with definition:' step")
    if not plan.executed:
        raise StepError(f"{where}: no 'When the workflow is executed' step")
    if not plan.checks:
        raise StepError(f"{where}: no Then step, so nothing would be checked")
    return plan


_ORDER = ("arrange", "act", "assert")
_KEYWORDS = {"arrange": "Given", "act": "When", "assert": "Then"}


def _apply(plan: Plan, step: Step, where: str) -> str:
    """Record ``step`` in ``plan``; return its phase (arrange, act or assert)."""
    at = f"{where}:{step.line}"
    text = step.text
    for pattern, takes_docstring, build in _VOCABULARY:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if takes_docstring != (step.docstring is not None):
            needs = "needs" if takes_docstring else "takes no"
            raise StepError(f"{at}: step {text!r} {needs} a doc string")
        return build(plan, match, step.docstring or "", at)
    raise StepError(f"{at}: unknown step {step.keyword} {text!r}")


# --- step builders ------------------------------------------------------------------------


def _definition(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    if plan.definition:
        raise StepError(f"{at}: a second workflow definition")
    plan.definition = doc
    return "arrange"


def _input(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    plan.input = load_yaml(doc)
    return "arrange"


def _execute(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    if plan.executed:
        raise StepError(f"{at}: the workflow is executed twice")
    plan.executed = True
    return "act"


def _check(plan: Plan, label: str, check: Check) -> str:
    plan.checks.append((label, check))
    return "assert"


def _workflow_ends(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    phase = {
        "complete": ExecutionPhase.COMPLETED,
        "fault": ExecutionPhase.FAILED,
        "cancel": ExecutionPhase.CANCELLED,
    }[match["verb"]]
    expected = load_yaml(doc) if doc else None

    def check(outcome: Outcome) -> None:
        assert outcome.phase is phase, f"expected {phase.value}; {outcome.describe()}"
        if not doc:
            return
        if phase is ExecutionPhase.COMPLETED:
            assert json_equal(outcome.output, expected), (
                f"output {outcome.output!r} != expected {expected!r}"
            )
        else:
            assert_problem(outcome.error, expected)

    return _check(plan, match.group(0), check)


def _has_properties(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    paths = re.findall(r"'([^']+)'", match["paths"])
    if not paths or re.sub(r"'[^']+'|[,\s]", "", match["paths"]):
        raise StepError(f"{at}: properties must be single-quoted and comma-separated")

    def check(outcome: Outcome) -> None:
        _completed(outcome)
        missing = [p for p in paths if not has_path(outcome.output, p)]
        assert not missing, f"output lacks {missing}: {outcome.output!r}"

    return _check(plan, match.group(0), check)


def _property_value(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    path, expected = match["path"], load_yaml(doc)

    def check(outcome: Outcome) -> None:
        _completed(outcome)
        actual = get_path(outcome.output, path)
        assert json_equal(actual, expected), f"{path} is {actual!r}, expected {expected!r}"

    return _check(plan, match.group(0), check)


def _property_count(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    path, count = match["path"], int(match["count"])

    def check(outcome: Outcome) -> None:
        _completed(outcome)
        actual = get_path(outcome.output, path)
        assert isinstance(actual, list), f"{path} is {actual!r}, not an array"
        assert len(actual) == count, f"{path} has {len(actual)} items, expected {count}"

    return _check(plan, match.group(0), check)


def _runs(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    task, where, other = match["task"], match["where"], match["other"]

    def check(outcome: Outcome) -> None:
        order = run_order(outcome)
        position = _position(order, task)
        if where == "first":
            assert position == 0, f"{task} ran at position {position} of {order}"
        elif where == "last":
            assert position == len(order) - 1, f"{task} ran at position {position} of {order}"
        else:
            before = position < _position(order, other)
            assert before == (where == "before"), f"{task} should run {where} {other}: {order}"

    return _check(plan, match.group(0), check)


def _task_ends(plan: Plan, match: re.Match[str], doc: str, at: str) -> str:
    task, verb = match["task"], match["verb"]
    phase = {"complete": TaskPhase.COMPLETED, "fault": TaskPhase.FAILED}.get(
        verb, TaskPhase.CANCELLED
    )
    expected = load_yaml(doc) if doc else None

    def check(outcome: Outcome) -> None:
        entries = [t for t in outcome.tasks if t.name == task]
        assert len(entries) == 1, f"expected one task named {task}; {outcome.describe()}"
        (entry,) = entries
        assert entry.phase is phase, f"{task} is {entry.phase.value}, expected {phase.value}"
        if doc and phase is TaskPhase.COMPLETED:
            assert json_equal(entry.output, expected), f"{task} output {entry.output!r}"
        elif doc:
            assert_problem(entry.error, expected)

    return _check(plan, match.group(0), check)


_TASK = r"(?P<task>[A-Za-z0-9_-]+)"
_VOCABULARY: list[tuple[re.Pattern[str], bool, Callable[[Plan, re.Match[str], str, str], str]]]
_VOCABULARY = [
    (re.compile(r"a workflow with definition:"), True, _definition),
    (re.compile(r"(?:given )?the workflow input is:"), True, _input),
    (re.compile(r"the workflow is executed"), False, _execute),
    (re.compile(r"the workflow should (?P<verb>complete|fault|cancel)"), False, _workflow_ends),
    (re.compile(r"the workflow should (?P<verb>complete) with output:"), True, _workflow_ends),
    (re.compile(r"the workflow should (?P<verb>fault) with error:"), True, _workflow_ends),
    (re.compile(r"the workflow output should have properties (?P<paths>.+)"), False,
     _has_properties),
    (re.compile(r"the workflow output should have a '(?P<path>[^']+)' property with value:"),
     True, _property_value),
    (re.compile(r"the workflow output should have a '(?P<path>[^']+)' property containing "
                r"(?P<count>\d+) items"), False, _property_count),
    (re.compile(_TASK + r" should run (?P<where>first|last)(?P<other>)"), False, _runs),
    (re.compile(_TASK + r" should run (?P<where>before|after) (?P<other>[A-Za-z0-9_-]+)"), False,
     _runs),
    (re.compile(_TASK + r" should (?P<verb>complete|fault|cancel)"), False, _task_ends),
    (re.compile(_TASK + r" should (?P<verb>complete) with output:"), True, _task_ends),
    (re.compile(_TASK + r" should (?P<verb>fault) with error:"), True, _task_ends),
]  # fmt: skip


# --- comparisons ----------------------------------------------------------------------------


def json_equal(actual: Any, expected: Any) -> bool:
    """Equality of JSON values: 1 == 1.0, but True != 1 and key order does not matter."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return actual == expected
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return actual.keys() == expected.keys() and all(
            json_equal(actual[k], expected[k]) for k in expected
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(
            json_equal(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return type(actual) is type(expected) and bool(actual == expected)


def assert_problem(actual: dict[str, Any] | None, expected: Any) -> None:
    """Every field of the expected error equals the actual error's field."""
    assert isinstance(expected, Mapping), f"the expected error must be a mapping: {expected!r}"
    assert actual is not None, "the execution has no error"
    wrong = {k: actual.get(k) for k in expected if not json_equal(actual.get(k), expected[k])}
    assert not wrong, f"error fields {wrong} differ from {dict(expected)} (error: {actual})"


_MISSING = object()


def _lookup(value: Any, path: str) -> Any:
    for segment in path.split("."):
        if isinstance(value, Mapping) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
    return value


def has_path(value: Any, path: str) -> bool:
    """Whether the dotted ``path`` names a property (or array item) of ``value``."""
    return _lookup(value, path) is not _MISSING


def get_path(value: Any, path: str) -> Any:
    """The value at the dotted ``path``; AssertionError when it is absent."""
    found = _lookup(value, path)
    assert found is not _MISSING, f"the output has no {path!r} property: {value!r}"
    return found


def run_order(outcome: Outcome) -> list[str]:
    """Names of the tasks that ran, in the order they started."""
    return [t.name for t in outcome.tasks if t.phase is not TaskPhase.SKIPPED]


def _position(order: list[str], task: str) -> int:
    positions = [i for i, name in enumerate(order) if name == task]
    assert len(positions) == 1, f"expected {task} to run exactly once; ran: {order}"
    return positions[0]


def _completed(outcome: Outcome) -> None:
    assert outcome.phase is ExecutionPhase.COMPLETED, f"expected COMPLETED; {outcome.describe()}"
