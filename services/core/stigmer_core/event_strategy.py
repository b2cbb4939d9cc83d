"""Event consumption strategies (``listen.to``, ``schedule.on``): parsing and literal matching.

Pure and shared: the runner's ``listen`` parses strategies here and adds runtime expressions
and correlation on top (stigmer_runner.dsl.event_filters); the API parses ``schedule.on``
here and matches events on literal attributes only (:func:`filter_matches_literally`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stigmer_core.event_matching import literal_matches

_RUNTIME_EXPRESSION = re.compile(r"^\s*\$\{.+\}\s*$", re.DOTALL)


STRATEGIES = ("all", "any", "one")


class StrategyError(ValueError):
    """A consumption strategy or filter that cannot run as written; ``field`` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Correlation:
    source: str
    expect: str | None = None


@dataclass(frozen=True)
class EventFilter:
    attributes: Mapping[str, Any]
    correlate: Mapping[str, Correlation] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class Strategy:
    kind: str
    filters: tuple[EventFilter, ...]
    until_expression: str | None = None
    until: Strategy | None = None


def parse_strategy(value: Any, where: str) -> Strategy:
    """Parse an ``eventConsumptionStrategy`` found at ``where`` (e.g. ``listen.to``)."""
    if not isinstance(value, Mapping):
        raise StrategyError(where, "must be a mapping with one of all, any or one")
    kinds = [k for k in STRATEGIES if k in value]
    if len(kinds) != 1:
        raise StrategyError(where, "must set exactly one of all, any or one")
    unknown = set(value) - {*STRATEGIES, "until"}
    if unknown:
        raise StrategyError(where, f"unknown properties {sorted(unknown)}")
    (kind,) = kinds
    raw = value[kind]
    if kind == "one":
        filters: tuple[EventFilter, ...] = (_parse_filter(raw, f"{where}.one"),)
    else:
        if not isinstance(raw, list):
            raise StrategyError(f"{where}.{kind}", "must be a list of event filters")
        filters = tuple(_parse_filter(f, f"{where}.{kind}[{i}]") for i, f in enumerate(raw))
        if kind == "all" and not filters:
            raise StrategyError(f"{where}.all", "must list at least one event filter")
    until = value.get("until")
    # The specification applies ``until`` to ``any`` only and ignores it elsewhere.
    if until is None or kind != "any":
        return Strategy(kind, filters)
    if isinstance(until, str):
        return Strategy(kind, filters, until_expression=until)
    if isinstance(until, Mapping):
        nested = parse_strategy(until, f"{where}.until")
        if nested.until is not None or nested.until_expression is not None:
            raise StrategyError(f"{where}.until", "an until strategy cannot have its own until")
        return Strategy(kind, filters, until=nested)
    raise StrategyError(f"{where}.until", "must be a runtime expression or a strategy")


def _parse_filter(value: Any, where: str) -> EventFilter:
    if not isinstance(value, Mapping):
        raise StrategyError(where, "an event filter must be a mapping with 'with'")
    unknown = set(value) - {"with", "correlate"}
    if unknown:
        raise StrategyError(where, f"unknown properties {sorted(unknown)}")
    attributes = value.get("with")
    if not isinstance(attributes, Mapping) or not attributes:
        raise StrategyError(f"{where}.with", "must map at least one event attribute")
    correlate: dict[str, Correlation] = {}
    raw = value.get("correlate") or {}
    if not isinstance(raw, Mapping):
        raise StrategyError(f"{where}.correlate", "must map correlation keys to {from, expect}")
    for key, spec in raw.items():
        here = f"{where}.correlate.{key}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("from"), str):
            raise StrategyError(here, "needs 'from', a runtime expression")
        expect = spec.get("expect")
        if expect is not None and not isinstance(expect, str):
            raise StrategyError(f"{here}.expect", "must be a string or a runtime expression")
        correlate[str(key)] = Correlation(spec["from"], expect)
    return EventFilter(dict(attributes), correlate, where)


def has_runtime_expression(value: Any) -> bool:
    """Whether ``value`` is, or contains, a strict runtime expression (a string all ``${ }``)."""
    if isinstance(value, str):
        return _RUNTIME_EXPRESSION.match(value) is not None
    if isinstance(value, Mapping):
        return any(has_runtime_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(has_runtime_expression(v) for v in value)
    return False


def filter_matches_literally(event_filter: EventFilter, event: Mapping[str, Any]) -> bool:
    """Whether every attribute of a literal filter (no expressions) matches ``event``."""
    return all(
        name in event and literal_matches(expected, event[name])
        for name, expected in event_filter.attributes.items()
    )


def first_open_slot(
    filters: Sequence[EventFilter], filled: Sequence[bool], event: Mapping[str, Any]
) -> int | None:
    """The ``all`` rule: the first unfilled filter that ``event`` matches, or None."""
    for index, event_filter in enumerate(filters):
        if not filled[index] and filter_matches_literally(event_filter, event):
            return index
    return None
