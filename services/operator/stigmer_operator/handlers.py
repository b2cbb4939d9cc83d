"""kopf handlers: clients at start-up in ``memo``, one polling timer per RunnerAutoscaler.

kopf's timers have one interval per handler, so the timer ticks every second and each
resource polls when its own ``pollingIntervalSeconds`` has passed (the ticks cost nothing
outside the process). Per-resource state (the recommendation history of the stabilization
windows) lives in the resource's own ``memo``, which kopf copies from the operator's.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
from kubernetes_asyncio import client
from pydantic import ValidationError

from stigmer_operator.conditions import Condition, merge_conditions
from stigmer_operator.decision import (
    Decision,
    Observation,
    Policy,
    Reason,
    Recommendation,
    decide,
)
from stigmer_operator.kube import (
    Deployments,
    Scale,
    ScaleTargetError,
    connection_info,
    load_configuration,
)
from stigmer_operator.metrics import Metrics
from stigmer_operator.queue_load import (
    QueueLoad,
    TemporalClients,
    TemporalUnreachableError,
    read_queue_load,
)
from stigmer_operator.settings import OperatorSettings
from stigmer_operator.spec import GROUP, PLURAL, VERSION, AutoscalerSpec

TICK_SECONDS = 1.0
REGISTRY = kopf.OperatorRegistry()
"""The operator's handlers (not kopf's global registry, so tests run it in-process)."""
log = logging.getLogger(__name__)


@dataclass
class ResourceState:
    """What one resource's timer remembers between ticks (in memory only)."""

    next_poll: float = 0.0
    history: tuple[Recommendation, ...] = ()
    rejected_generation: int | None = None
    problem: str | None = None
    """The last problem reported by an Event, so a lasting one is reported once."""
    extra: dict[str, Any] = field(default_factory=dict)


@kopf.on.startup(registry=REGISTRY)
async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Build the clients once; every handler finds them in ``memo``."""
    config: OperatorSettings = memo.settings
    # Our own Events only (kopf.info/warn), not every log line.
    settings.posting.level = logging.INFO
    settings.posting.loggers = False
    # Least privilege: serve the namespaces named in the settings as they are, without
    # listing namespaces or watching CRDs cluster-wide (so no glob patterns).
    settings.scanning.disabled = True
    memo.kube_configuration = await load_configuration(config.kubeconfig)
    memo.kube_api = client.ApiClient(memo.kube_configuration)
    memo.deployments = Deployments(api=memo.kube_api)
    memo.temporal = TemporalClients()


@kopf.on.login(registry=REGISTRY)
async def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """kopf uses the same credentials as our API client."""
    if not hasattr(memo, "kube_configuration"):
        memo.kube_configuration = await load_configuration(memo.settings.kubeconfig)
    return await connection_info(memo.kube_configuration)


@kopf.on.cleanup(registry=REGISTRY)
async def stop(memo: kopf.Memo, **_: Any) -> None:
    if hasattr(memo, "kube_api"):
        await memo.kube_api.close()


def policy_of(spec: AutoscalerSpec) -> Policy:
    return Policy(
        target_per_replica=spec.target_backlog_per_replica,
        activation_backlog=spec.activation_backlog,
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        scale_up_window=timedelta(seconds=spec.scale_up.stabilization_window_seconds),
        scale_up_step=spec.scale_up.max_step_replicas,
        scale_down_window=timedelta(seconds=spec.scale_down.stabilization_window_seconds),
        scale_down_step=spec.scale_down.max_step_replicas,
    )


@kopf.timer(GROUP, VERSION, PLURAL, id="autoscale", interval=TICK_SECONDS, registry=REGISTRY)
async def autoscale(
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    body: kopf.Body,
    name: str,
    namespace: str | None,
    memo: Any,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """Poll Temporal when the resource's interval has passed, decide, scale, report."""
    if not hasattr(memo, "autoscaler"):
        memo.autoscaler = ResourceState()
    state: ResourceState = memo.autoscaler
    assert namespace is not None, "RunnerAutoscaler is a namespaced resource"
    metrics: Metrics = memo.metrics
    now = datetime.now(UTC)
    generation = meta.get("generation")

    try:
        parsed = AutoscalerSpec.model_validate(dict(spec))
    except ValidationError as exc:
        if state.rejected_generation == generation:
            return
        state.rejected_generation = generation
        message = "; ".join(
            f"{'.'.join(['spec', *(str(p) for p in err['loc'])])}: {err['msg']}"
            for err in exc.errors()
        )
        _set_conditions(patch, status, now, [Condition("Ready", False, "InvalidSpec", message)])
        kopf.warn(body, reason="InvalidSpec", message=message)
        # Retrying cannot fix a spec: the timer tries again once the spec changes.
        raise kopf.PermanentError(f"invalid RunnerAutoscaler spec: {message}") from exc
    state.rejected_generation = None

    clock = time.monotonic()
    if clock < state.next_poll:
        return
    state.next_poll = clock + parsed.polling_interval_seconds
    interval = float(parsed.polling_interval_seconds)
    target = parsed.scale_target_ref.name

    try:
        scale = await memo.deployments.get_scale(namespace, target)
    except ScaleTargetError as exc:
        _report_problem(state, body, "TargetNotFound", str(exc))
        _set_conditions(patch, status, now, [Condition("Ready", False, "TargetNotFound", str(exc))])
        raise kopf.TemporaryError(str(exc), delay=interval) from exc

    labels = {"namespace": namespace, "name": name}
    load: QueueLoad | None
    unreachable: str | None
    try:
        load = await read_queue_load(memo.temporal, parsed.temporal)
    except TemporalUnreachableError as exc:
        load = None
        unreachable = str(exc)
        metrics.temporal_calls.labels(**labels).inc(len(parsed.temporal.queue_types) + 1)
    else:
        unreachable = None
        metrics.temporal_calls.labels(**labels).inc(load.calls)

    observation = Observation(
        backlog=load.backlog if load else None,
        in_flight=load.in_flight if load else None,
        current_replicas=scale.spec_replicas,
    )
    decision = decide(observation, policy_of(parsed), history=state.history, now=now)
    state.history = decision.history
    _record_metrics(metrics, labels, decision, scale, load)

    if decision.desired_replicas != scale.spec_replicas:
        try:
            await memo.deployments.set_replicas(namespace, target, decision.desired_replicas)
        except ScaleTargetError as exc:
            _report_problem(state, body, "ScaleFailed", str(exc))
            raise kopf.TemporaryError(str(exc), delay=interval) from exc
        message = _explain(decision, scale, load)
        kopf.info(body, reason=decision.reason.value, message=message)
        log.info("%s/%s: %s", namespace, name, message)
        patch.status["lastScaleTime"] = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        patch.status["lastScaleReason"] = message

    _write_status(patch, status, now, decision, scale, load, unreachable)
    if unreachable is not None:
        _report_problem(state, body, Reason.TEMPORAL_UNREACHABLE.value, unreachable)
        # Data is missing, so replicas were held; kopf retries after one interval.
        raise kopf.TemporaryError(unreachable, delay=interval)
    state.problem = None


def _explain(decision: Decision, scale: Scale, load: QueueLoad | None) -> str:
    parts = [f"{decision.reason.value} {scale.spec_replicas} -> {decision.desired_replicas}"]
    if load is not None:
        backlog = ", ".join(f"{kind}={count}" for kind, count in load.backlog.items())
        parts.append(
            f"backlog {backlog} (oldest {load.backlog_age_seconds:.0f}s), "
            f"in flight {load.in_flight}, recommendation {decision.recommendation}"
        )
    if decision.limits:
        parts.append("limited by " + ", ".join(sorted(limit.value for limit in decision.limits)))
    return "; ".join(parts)


def _report_problem(state: ResourceState, body: kopf.Body, reason: str, message: str) -> None:
    if state.problem != reason:
        state.problem = reason
        kopf.warn(body, reason=reason, message=message)


def _record_metrics(
    metrics: Metrics,
    labels: dict[str, str],
    decision: Decision,
    scale: Scale,
    load: QueueLoad | None,
) -> None:
    metrics.decisions.labels(**labels, reason=decision.reason.value).inc()
    metrics.desired_replicas.labels(**labels).set(decision.desired_replicas)
    metrics.current_replicas.labels(**labels).set(scale.status_replicas)
    if load is not None:
        for kind, count in load.backlog.items():
            metrics.backlog.labels(**labels, queue_type=kind).set(count)
        metrics.backlog_age.labels(**labels).set(load.backlog_age_seconds)
        metrics.in_flight.labels(**labels).set(load.in_flight)


def _set_conditions(
    patch: kopf.Patch, status: kopf.Status, now: datetime, updates: list[Condition]
) -> None:
    patch.status["conditions"] = merge_conditions(status.get("conditions"), updates, now=now)


def _write_status(
    patch: kopf.Patch,
    status: kopf.Status,
    now: datetime,
    decision: Decision,
    scale: Scale,
    load: QueueLoad | None,
    unreachable: str | None,
) -> None:
    if load is not None:
        patch.status["observedBacklog"] = dict(load.backlog)
        patch.status["backlogAgeSeconds"] = round(load.backlog_age_seconds, 3)
        patch.status["inFlight"] = load.in_flight
    patch.status["desiredReplicas"] = decision.desired_replicas
    patch.status["currentReplicas"] = scale.status_replicas
    limits = sorted(limit.value for limit in decision.limits)
    updates = [
        Condition(
            "TemporalUnreachable",
            unreachable is not None,
            "TemporalUnreachable" if unreachable else "TemporalReachable",
            unreachable or "",
        ),
        Condition(
            "Ready",
            unreachable is None,
            "TemporalUnreachable" if unreachable else "Polling",
            unreachable or "queue load read and replicas decided",
        ),
        Condition(
            "ScalingLimited",
            bool(limits),
            limits[0] if limits else "WithinLimits",
            ", ".join(limits),
        ),
    ]
    if unreachable is None:
        # Without data the queue's activity is unknown: Active keeps its last value.
        updates.append(
            Condition(
                "Active",
                decision.active,
                "BacklogOrWorkInFlight" if decision.active else "Idle",
                "",
            )
        )
    _set_conditions(patch, status, now, updates)
