"""``schedule.on`` matching and the ``all`` progress, without a server (pure logic)."""

from __future__ import annotations

from typing import Any

from stigmer_api.scheduling.event_triggers import (
    SEEN_LIMIT,
    AllState,
    event_key,
    one_request_id,
    starts_one,
    state_from_doc,
    state_to_doc,
)
from stigmer_core.event_strategy import parse_strategy


def event(id_: str, type_: str, source: str = "shop") -> dict[str, Any]:
    return {"specversion": "1.0", "id": id_, "source": source, "type": type_}


def test_one_and_any_start_on_a_match_and_any_empty_takes_all() -> None:
    one = parse_strategy({"one": {"with": {"type": "paid"}}}, "on")
    assert starts_one(one, event("1", "paid"))
    assert not starts_one(one, event("1", "refunded"))
    any_ = parse_strategy({"any": [{"with": {"type": "a"}}, {"with": {"type": "b"}}]}, "on")
    assert starts_one(any_, event("1", "b"))
    assert starts_one(parse_strategy({"any": []}, "on"), event("1", "whatever"))


def test_the_request_id_is_the_event_identity_per_name() -> None:
    assert one_request_id("ns", "wf", event("1", "a")) == one_request_id(
        "ns", "wf", event("1", "b")
    )
    assert one_request_id("ns", "wf", event("1", "a")) != one_request_id(
        "ns", "wf", event("1", "a", source="other")
    )
    assert one_request_id("ns", "wf", event("1", "a")) != one_request_id("ns", "v", event("1", "a"))


def test_all_collects_one_event_per_filter_then_fires_in_filter_order() -> None:
    strategy = parse_strategy({"all": [{"with": {"type": "a"}}, {"with": {"type": "b"}}]}, "on")
    state = AllState.empty("wfl-1", 2)
    b, a = event("2", "b"), event("1", "a")
    after_b = state.offer(strategy.filters, b, event_key(b), "ns", "wf")
    assert after_b is not None
    assert after_b.firing is None
    assert after_b.slots == [None, b]
    # The same event again (a retried post) changes nothing; an unmatched one neither.
    assert after_b.offer(strategy.filters, b, event_key(b), "ns", "wf") is None
    other = event("3", "c")
    assert after_b.offer(strategy.filters, other, event_key(other), "ns", "wf") is None
    done = after_b.offer(strategy.filters, a, event_key(a), "ns", "wf")
    assert done is not None
    assert done.firing is not None
    assert done.firing.events == [a, b]
    assert done.firing.workflow_id == "wfl-1"
    assert done.slots == [None, None]  # the next set starts empty
    # Both events stay known: posting either again starts no second set.
    assert done.offer(strategy.filters, a, event_key(a), "ns", "wf") is None


def test_the_state_round_trips_and_another_version_starts_over() -> None:
    strategy = parse_strategy({"all": [{"with": {"type": "a"}}, {"with": {"type": "b"}}]}, "on")
    a = event("1", "a")
    state = AllState.empty("wfl-1", 2).offer(strategy.filters, a, event_key(a), "ns", "wf")
    assert state is not None
    doc = state_to_doc("etr-x", 3, "ns", "wf", state)
    assert doc["spec"]["firing_pending"] is False
    assert state_from_doc(doc, "wfl-1", 2) == state
    fresh = state_from_doc(doc, "wfl-2", 2)
    assert fresh.slots == [None, None]
    assert fresh.seen == state.seen


def test_seen_keys_are_bounded() -> None:
    strategy = parse_strategy({"all": [{"with": {"type": "a"}}, {"with": {"type": "b"}}]}, "on")
    state = AllState.empty("wfl-1", 2)
    for n in range(SEEN_LIMIT + 5):
        e = event(str(n), "a" if n % 2 == 0 else "b")
        nxt = state.offer(strategy.filters, e, event_key(e), "ns", "wf")
        assert nxt is not None
        state = nxt
    assert len(state.seen) == SEEN_LIMIT
