"""The scaling policy as a table: observations in, replicas and reasons out (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stigmer_operator.decision import (
    Limit,
    Observation,
    Policy,
    Reason,
    Recommendation,
    decide,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
POLICY = Policy(
    target_per_replica=10,
    activation_backlog=0,
    min_replicas=0,
    max_replicas=20,
    scale_up_window=timedelta(0),
    scale_up_step=4,
    scale_down_window=timedelta(seconds=300),
    scale_down_step=1,
)
UNLIMITED = Policy(target_per_replica=10, max_replicas=20, scale_up_step=None, scale_down_step=None)


def ago(seconds: int, replicas: int) -> Recommendation:
    return Recommendation(at=NOW - timedelta(seconds=seconds), replicas=replicas)


# Histories that cover the whole scale-down window (the operator has watched for 5 min).
IDLE_FOR_WINDOW = (ago(300, 0), ago(150, 0), ago(10, 0))
BUSY_IN_WINDOW = (ago(290, 3), ago(150, 0), ago(10, 0))


@pytest.mark.parametrize(
    ("case", "backlog", "in_flight", "current", "policy", "history", "desired", "reason", "limits"),
    [
        # Backlog: ceil(backlog / target), capped by the step of 4 per decision.
        ("burst from zero", {"workflow": 200}, 0, 0, POLICY, (), 4, Reason.SCALE_UP, {Limit.STEP}),
        (
            "burst unlimited steps",
            {"workflow": 200},
            0,
            0,
            UNLIMITED,
            (),
            20,
            Reason.SCALE_UP,
            set(),
        ),
        (
            "backlog over types",
            {"workflow": 15, "activity": 20},
            0,
            2,
            POLICY,
            (),
            4,
            Reason.SCALE_UP,
            set(),
        ),
        ("small backlog wakes one", {"workflow": 1}, 0, 0, POLICY, (), 1, Reason.SCALE_UP, set()),
        # max caps, and says so.
        ("max caps", {"workflow": 900}, 0, 20, POLICY, (), 20, Reason.STEADY, {Limit.MAX_REPLICAS}),
        # min keeps replicas on an idle queue, even a freshly observed one.
        (
            "min floor",
            {"workflow": 0},
            0,
            0,
            Policy(target_per_replica=10, min_replicas=2),
            (),
            2,
            Reason.SCALE_UP,
            set(),
        ),
        # Activation: a backlog at or under the threshold does not wake an idle queue.
        (
            "under activation",
            {"workflow": 5},
            0,
            0,
            Policy(target_per_replica=10, activation_backlog=5),
            (),
            0,
            Reason.STEADY,
            set(),
        ),
        (
            "over activation",
            {"workflow": 6},
            0,
            0,
            Policy(target_per_replica=10, activation_backlog=5),
            (),
            1,
            Reason.SCALE_UP,
            set(),
        ),
        # In flight: the queue is empty but 25 executions run: 3 replicas stay.
        (
            "in flight holds",
            {"workflow": 0, "activity": 0},
            25,
            3,
            POLICY,
            IDLE_FOR_WINDOW,
            3,
            Reason.STEADY,
            {Limit.IN_FLIGHT},
        ),
        ("in flight alone wakes", {"workflow": 0}, 1, 0, POLICY, (), 1, Reason.SCALE_UP, set()),
        # Windows: scale down only when the whole window asked for fewer.
        (
            "busy inside window holds",
            {"workflow": 0},
            0,
            3,
            POLICY,
            BUSY_IN_WINDOW,
            3,
            Reason.STEADY,
            {Limit.STABILIZATION},
        ),
        (
            "idle for the window steps down by 1",
            {"workflow": 0},
            0,
            3,
            POLICY,
            IDLE_FOR_WINDOW,
            2,
            Reason.SCALE_DOWN,
            {Limit.STEP},
        ),
        (
            "to zero after the window",
            {"workflow": 0},
            0,
            1,
            POLICY,
            IDLE_FOR_WINDOW,
            0,
            Reason.SCALE_TO_ZERO,
            set(),
        ),
        (
            "fresh operator waits a window",
            {"workflow": 0},
            0,
            1,
            POLICY,
            (),
            1,
            Reason.STEADY,
            {Limit.STABILIZATION},
        ),
        (
            "unlimited down step drops to the target",
            {"workflow": 12},
            0,
            8,
            UNLIMITED,
            (ago(400, 8), ago(200, 2), ago(100, 2)),
            2,
            Reason.SCALE_DOWN,
            set(),
        ),
        # Scale-up window: rise only to the lowest recommendation of the window.
        (
            "up window smooths a spike",
            {"workflow": 80},
            0,
            2,
            Policy(
                target_per_replica=10, scale_up_window=timedelta(seconds=60), scale_up_step=None
            ),
            (ago(30, 3), ago(10, 5)),
            3,
            Reason.SCALE_UP,
            {Limit.STABILIZATION},
        ),
        # Temporal unreachable: hold, never scale down on missing data.
        (
            "unreachable holds",
            None,
            None,
            5,
            POLICY,
            IDLE_FOR_WINDOW,
            5,
            Reason.TEMPORAL_UNREACHABLE,
            set(),
        ),
        ("unreachable at zero", None, None, 0, POLICY, (), 0, Reason.TEMPORAL_UNREACHABLE, set()),
        (
            "unreachable still honours min",
            None,
            None,
            0,
            Policy(target_per_replica=10, min_replicas=1),
            (),
            1,
            Reason.SCALE_UP,
            {Limit.MIN_REPLICAS},
        ),
    ],
)
def test_decision_table(
    case: str,
    backlog: dict[str, int] | None,
    in_flight: int | None,
    current: int,
    policy: Policy,
    history: tuple[Recommendation, ...],
    desired: int,
    reason: Reason,
    limits: set[Limit],
) -> None:
    decision = decide(
        Observation(backlog=backlog, in_flight=in_flight, current_replicas=current),
        policy,
        history=history,
        now=NOW,
    )
    assert (decision.desired_replicas, decision.reason, set(decision.limits)) == (
        desired,
        reason,
        limits,
    ), case


def test_unreachable_keeps_history_untouched() -> None:
    decision = decide(
        Observation(backlog=None, in_flight=None, current_replicas=4),
        POLICY,
        history=BUSY_IN_WINDOW,
        now=NOW,
    )
    assert decision.history == BUSY_IN_WINDOW
    assert decision.recommendation is None


def test_history_drops_what_left_the_windows() -> None:
    decision = decide(
        Observation(backlog={"workflow": 0}, in_flight=0, current_replicas=0),
        POLICY,
        history=(ago(301, 7), ago(5, 0)),
        now=NOW,
    )
    assert [r.replicas for r in decision.history] == [0, 0]


def test_scale_to_zero_walks_down_over_successive_polls() -> None:
    """A 10 s poll over a 300 s window: 3 replicas reach 0 only once the window has passed, one per
    poll, and only once every recommendation in the window was 0."""
    history: tuple[Recommendation, ...] = ()
    replicas = 3
    trace = []
    for second in range(0, 400, 10):
        decision = decide(
            Observation(backlog={"workflow": 0}, in_flight=0, current_replicas=replicas),
            POLICY,
            history=history,
            now=NOW + timedelta(seconds=second),
        )
        history = decision.history
        if decision.desired_replicas != replicas:
            trace.append((second, decision.desired_replicas))
        replicas = decision.desired_replicas
    assert trace == [(310, 2), (320, 1), (330, 0)]
