"""Event consumption strategies shared by the runner's listen and the API's schedule.on."""

from __future__ import annotations

import pytest

from stigmer_core.event_strategy import (
    StrategyError,
    filter_matches_literally,
    first_open_slot,
    has_runtime_expression,
    parse_strategy,
)


def event(type_: str, **extra: object) -> dict[str, object]:
    return {"specversion": "1.0", "id": "1", "source": "s", "type": type_, **extra}


def test_literal_filters_match_by_regex_and_superset() -> None:
    strategy = parse_strategy(
        {"one": {"with": {"type": "com\\.example\\..*", "data": {"level": "high"}}}}, "on"
    )
    (only,) = strategy.filters
    assert filter_matches_literally(only, event("com.example.x", data={"level": "high", "n": 1}))
    assert not filter_matches_literally(only, event("com.example.x", data={"level": "low"}))
    assert not filter_matches_literally(only, event("org.other"))
    # An attribute the event lacks never matches.
    assert not filter_matches_literally(only, {"type": "com.example.x"})


def test_all_fills_the_first_open_filter_an_event_matches() -> None:
    strategy = parse_strategy({"all": [{"with": {"type": "a"}}, {"with": {"type": "a|b"}}]}, "on")
    filters = strategy.filters
    assert first_open_slot(filters, [False, False], event("a")) == 0
    assert first_open_slot(filters, [True, False], event("a")) == 1
    assert first_open_slot(filters, [True, True], event("a")) is None
    assert first_open_slot(filters, [False, False], event("c")) is None


def test_runtime_expressions_are_found_anywhere_in_a_value() -> None:
    assert has_runtime_expression("${ .x }")
    assert has_runtime_expression({"data": {"n": ["a", "${ 1 }"]}})
    assert not has_runtime_expression({"type": "a ${ b }"})  # not a strict expression
    assert not has_runtime_expression(3)


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"one": {"with": {}}}, "on.one.with"),
        ({"any": [], "one": {"with": {"type": "a"}}}, "on"),
        ({"all": "x"}, "on.all"),
    ],
)
def test_bad_strategies_name_where(value: object, where: str) -> None:
    with pytest.raises(StrategyError) as caught:
        parse_strategy(value, "on")
    assert caught.value.field == where
