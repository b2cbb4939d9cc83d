"""Event filters and consumption strategies of ``listen`` (and ``until``), without I/O.

A filter's ``with`` maps CloudEvent attributes to what they must be:

* a runtime expression (``${ }``) is evaluated with ``.`` set to the attribute's value; a
  boolean result is the verdict (``data: ${ .temperature > 38 }``), any other result must
  equal the attribute (``subject: ${ $input.orderId }``);
* any other string is a regular expression the whole attribute must match (or, when it is
  not a valid pattern, a string it must equal);
* a mapping matches a mapping that has at least its entries (recursively); anything else
  must be equal.

Parsing lives in stigmer_core.event_strategy (the API parses ``schedule.on`` too).

``correlate`` keys extract a value from the event (``from``, ``.`` is the whole event) that
must equal ``expect`` when given, else the first value extracted for that key in this
listen. A filter whose evaluation fails (an event of unexpected shape) does not match: a
stray event must not fault a waiting workflow.

The API routes events to executions on the literal attributes only (see
:func:`routing_filters`); the precise match happens here, in the workflow.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from stigmer_core.event_matching import literal_matches
from stigmer_core.event_strategy import (
    STRATEGIES,
    Correlation,
    EventFilter,
    Strategy,
    StrategyError,
    has_runtime_expression,
    parse_strategy,
)
from stigmer_runner.dsl.errors import WorkflowError
from stigmer_runner.dsl.expressions import is_expression

Evaluate = Callable[[str, Any, str], Any]
"""``(expression, data, field) -> result``; raises WorkflowError when evaluation fails."""


def routing_filters(strategy: Strategy) -> list[dict[str, Any]]:
    """What the API needs to route events here: the literal attributes of every filter.

    Expression-valued attributes are left out (they match in the workflow), so the API
    delivers a superset of the matching events. An empty ``{}`` matches every event
    (``any: []``).
    """
    filters = [_literal(f.attributes) for f in strategy.filters]
    if strategy.kind == "any" and not strategy.filters:
        filters = [{}]
    if strategy.until is not None:
        filters += routing_filters(strategy.until)
    return filters


def _literal(attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if not has_runtime_expression(v)}


class Matcher:
    """Matches events against filters; holds the listen's correlation values."""

    def __init__(self, evaluate: Evaluate, *, expect_data: Any) -> None:
        self._evaluate = evaluate
        self._expect_data = expect_data
        self.correlations: dict[str, Any] = {}

    def matches(self, event: Mapping[str, Any], event_filter: EventFilter) -> bool:
        """True when ``event`` passes ``event_filter``; a match binds its correlation keys."""
        for name, expected in event_filter.attributes.items():
            where = f"{event_filter.where}.with.{name}"
            if not self._attribute_matches(expected, event.get(name), where):
                return False
        bound: dict[str, Any] = {}
        for key, correlation in event_filter.correlate.items():
            where = f"{event_filter.where}.correlate.{key}"
            value = self._safely(correlation.source, dict(event), f"{where}.from")
            if value is None:
                return False
            if correlation.expect is not None:
                expected = correlation.expect
                if is_expression(expected):
                    expected = self._evaluate(expected, self._expect_data, f"{where}.expect")
                if value != expected and str(value) != expected:
                    return False
            elif key in self.correlations and self.correlations[key] != value:
                return False
            bound[key] = value
        self.correlations.update(bound)
        return True

    def _attribute_matches(self, expected: Any, actual: Any, where: str) -> bool:
        if isinstance(expected, str) and is_expression(expected):
            result = self._safely(expected, actual, where, default=False)
            return result if isinstance(result, bool) else result == actual
        return literal_matches(expected, actual)

    def _safely(self, expression: str, data: Any, where: str, default: Any = None) -> Any:
        try:
            return self._evaluate(expression, data, where)
        except WorkflowError:
            return default


class Consumer:
    """One strategy's progress: which events it consumed, and whether it is satisfied.

    ``all`` takes one event per filter (the first unsatisfied filter an event matches) and
    lists them in filter order; ``any`` and ``one`` list events in arrival order. An ``any``
    is satisfied by its first event unless the listen has an ``until``, which the caller
    checks (:class:`Listener`).
    """

    def __init__(self, strategy: Strategy, matcher: Matcher) -> None:
        self._strategy = strategy
        self._matcher = matcher
        self._slots: list[Mapping[str, Any] | None] = [None] * len(strategy.filters)
        self._arrivals: list[Mapping[str, Any]] = []

    def offer(self, event: Mapping[str, Any]) -> bool:
        """Consume ``event`` if the strategy wants it; True when it did."""
        if self.satisfied and self._strategy.kind != "any":
            return False
        if self._strategy.kind == "all":
            for index, event_filter in enumerate(self._strategy.filters):
                if self._slots[index] is None and self._matcher.matches(event, event_filter):
                    self._slots[index] = event
                    self._arrivals.append(event)
                    return True
            return False
        filters = self._strategy.filters
        if not filters or any(self._matcher.matches(event, f) for f in filters):
            self._arrivals.append(event)
            return True
        return False

    @property
    def satisfied(self) -> bool:
        if self._strategy.kind == "all":
            return all(slot is not None for slot in self._slots)
        return bool(self._arrivals)

    @property
    def events(self) -> list[Mapping[str, Any]]:
        """Consumed events: filter order for ``all``, arrival order otherwise."""
        if self._strategy.kind == "all":
            return [slot for slot in self._slots if slot is not None]
        return list(self._arrivals)


class Listener:
    """A listen task's strategy with its ``until``: feed events, ask whether it is done.

    Events the ``until`` strategy consumes are not the task's: they only end the listen.
    An ``until`` expression is checked by the caller after each consumed event (it needs the
    events as read), through :meth:`until_reached`.
    """

    def __init__(self, strategy: Strategy, matcher: Matcher) -> None:
        self.strategy = strategy
        self._main = Consumer(strategy, matcher)
        self._until = Consumer(strategy.until, matcher) if strategy.until else None
        self._until_reached = False

    def offer(self, event: Mapping[str, Any]) -> bool:
        """Feed one event; True when the task consumed it (it belongs in the output)."""
        if self._until is not None and self._until.offer(event):
            return False
        return self._main.offer(event)

    def until_reached(self) -> None:
        """The ``until`` expression held: stop listening."""
        self._until_reached = True

    @property
    def done(self) -> bool:
        if self._until is not None:
            return self._until.satisfied
        if self.strategy.until_expression is not None:
            return self._until_reached
        return self._main.satisfied

    @property
    def events(self) -> list[Mapping[str, Any]]:
        return self._main.events


def read_event(event: Mapping[str, Any], mode: str) -> Any:
    """An event as ``listen.read`` asks: ``data`` (the payload), ``envelope`` (the whole
    event) or ``raw`` (the payload as it travelled: ``data_base64``, a string, or JSON text)."""
    if mode == "envelope":
        return dict(event)
    if mode == "raw":
        if "data_base64" in event:
            return event["data_base64"]
        data = event.get("data")
        if data is None or isinstance(data, str):
            return data
        return json.dumps(data, separators=(",", ":"), sort_keys=True)
    if "data" not in event and "data_base64" in event:
        return event["data_base64"]
    return event.get("data")


__all__ = [
    "STRATEGIES",
    "Consumer",
    "Correlation",
    "EventFilter",
    "Listener",
    "Matcher",
    "Strategy",
    "StrategyError",
    "literal_matches",
    "parse_strategy",
    "read_event",
    "routing_filters",
]
