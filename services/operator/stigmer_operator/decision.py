"""The scaling policy: a pure function from observations to a replica count.

No clock, no I/O: the caller passes ``now`` and the recommendation history, so every case
is a table test (tests/operator/test_decision.py). The rules, in order:

1. **Missing data holds.** When Temporal could not be read (``backlog`` or ``in_flight``
   is ``None``) the decision keeps the current replicas (raised to ``min_replicas`` only):
   an outage of Temporal never removes runners.
2. **Recommendation.** ``load = sum(backlog) + in_flight``. The queue is *active* when the
   backlog exceeds ``activation_backlog`` or work is in flight; an idle queue recommends 0,
   an active one ``ceil(load / target_per_replica)`` and at least 1. Work in flight is
   part of the load, so the recommendation is never below ``ceil(in_flight / target)``:
   runners busy with long executions are not removed because their queue looks empty
   (KEDA's premature scale-in). The result is clamped to ``[min_replicas, max_replicas]``.
3. **Stabilization** (as the HPA's behavior): the recommendation joins the history; a
   scale-up goes to the *lowest* recommendation of the scale-up window, a scale-down to
   the *highest* of the scale-down window. So replicas fall only when every observation of
   the whole window asked for fewer, and reach 0 only after a full window of idleness.
   An empty history is seeded with the current replicas, so a restarted operator waits a
   full window before it scales down.
4. **Steps.** One decision adds at most ``scale_up.max_step`` and removes at most
   ``scale_down.max_step`` replicas.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Reason(StrEnum):
    """Why a decision came out as it did (the Event reason and the metrics label)."""

    SCALE_UP = "ScaleUp"
    SCALE_DOWN = "ScaleDown"
    SCALE_TO_ZERO = "ScaleToZero"
    STEADY = "Steady"
    TEMPORAL_UNREACHABLE = "TemporalUnreachable"


class Limit(StrEnum):
    """What held the decision back from the raw recommendation (condition ScalingLimited)."""

    MIN_REPLICAS = "MinReplicas"
    MAX_REPLICAS = "MaxReplicas"
    IN_FLIGHT = "InFlight"
    STABILIZATION = "StabilizationWindow"
    STEP = "StepLimit"


@dataclass(frozen=True)
class Policy:
    """The spec's scaling knobs, in plain numbers."""

    target_per_replica: int
    activation_backlog: int = 0
    min_replicas: int = 0
    max_replicas: int = 20
    scale_up_window: timedelta = timedelta(0)
    scale_up_step: int | None = 4
    scale_down_window: timedelta = timedelta(seconds=300)
    scale_down_step: int | None = 1


@dataclass(frozen=True)
class Recommendation:
    """What one observation asked for, kept for the stabilization windows."""

    at: datetime
    replicas: int
    seed: bool = False
    """The current replicas standing in for the observations a fresh operator has not
    made: it counts for the scale-down window only."""


@dataclass(frozen=True)
class Observation:
    """What the operator read: backlog per queue type and executions in flight, or
    ``None`` for what it could not read."""

    backlog: Mapping[str, int] | None
    in_flight: int | None
    current_replicas: int


@dataclass(frozen=True)
class Decision:
    desired_replicas: int
    reason: Reason
    recommendation: int | None
    """The raw, unstabilized recommendation; ``None`` when Temporal could not be read."""
    active: bool
    limits: frozenset[Limit] = frozenset()
    history: tuple[Recommendation, ...] = field(default=())
    """The history to pass to the next decision."""

    @property
    def changes(self) -> bool:
        return self.reason in (Reason.SCALE_UP, Reason.SCALE_DOWN, Reason.SCALE_TO_ZERO)


def decide(
    observation: Observation,
    policy: Policy,
    *,
    history: Sequence[Recommendation],
    now: datetime,
) -> Decision:
    """The replicas the target should have now (see the module docstring for the rules)."""
    current = observation.current_replicas
    if observation.backlog is None or observation.in_flight is None:
        held = max(current, policy.min_replicas)
        return Decision(
            desired_replicas=held,
            reason=Reason.SCALE_UP if held > current else Reason.TEMPORAL_UNREACHABLE,
            recommendation=None,
            active=current > 0,
            limits=frozenset({Limit.MIN_REPLICAS}) if held > current else frozenset(),
            history=tuple(history),
        )

    backlog = sum(observation.backlog.values())
    in_flight = observation.in_flight
    active = backlog > policy.activation_backlog or in_flight > 0
    limits: set[Limit] = set()
    raw = max(1, math.ceil((backlog + in_flight) / policy.target_per_replica)) if active else 0
    recommendation = min(max(raw, policy.min_replicas), policy.max_replicas)
    if raw > policy.max_replicas:
        limits.add(Limit.MAX_REPLICAS)

    kept = _recent(history, now=now, policy=policy, seed=current)
    kept.append(Recommendation(at=now, replicas=recommendation))
    up_floor = min(r.replicas for r in kept if not r.seed and now - r.at <= policy.scale_up_window)
    down_ceiling = max(r.replicas for r in kept if now - r.at <= policy.scale_down_window)
    stabilized = min(max(current, up_floor), down_ceiling)
    if stabilized != recommendation:
        limits.add(Limit.STABILIZATION)

    desired = stabilized
    if policy.scale_up_step is not None and desired > current + policy.scale_up_step:
        desired = current + policy.scale_up_step
        limits.add(Limit.STEP)
    if policy.scale_down_step is not None and desired < current - policy.scale_down_step:
        desired = current - policy.scale_down_step
        limits.add(Limit.STEP)
    # The bounds are hard: a Deployment resized by hand beyond them comes back at once.
    desired = min(max(desired, policy.min_replicas), policy.max_replicas)
    backlog_only = (
        max(1, math.ceil(backlog / policy.target_per_replica))
        if backlog > policy.activation_backlog
        else 0
    )
    if in_flight > 0 and desired <= current and backlog_only < desired:
        limits.add(Limit.IN_FLIGHT)

    if desired > current:
        reason = Reason.SCALE_UP
    elif desired < current:
        reason = Reason.SCALE_TO_ZERO if desired == 0 else Reason.SCALE_DOWN
    else:
        reason = Reason.STEADY
    return Decision(
        desired_replicas=desired,
        reason=reason,
        recommendation=recommendation,
        active=active,
        limits=frozenset(limits),
        history=tuple(kept),
    )


def _recent(
    history: Sequence[Recommendation], *, now: datetime, policy: Policy, seed: int
) -> list[Recommendation]:
    """The recommendations still inside a window; the current replicas when there are none
    (a fresh operator has not watched the queue for a window yet)."""
    horizon = max(policy.scale_up_window, policy.scale_down_window)
    if not history:
        return [Recommendation(at=now, replicas=seed, seed=True)]
    return [r for r in history if now - r.at <= horizon]
