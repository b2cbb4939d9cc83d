"""The operator's Prometheus metrics (served on the observability port)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    """Metrics labelled by the RunnerAutoscaler (``namespace``, ``name``)."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        labels = ("namespace", "name")
        self.desired_replicas = Gauge(
            "stigmer_autoscaler_desired_replicas",
            "Replicas the last decision asked for.",
            labels,
            registry=self.registry,
        )
        self.current_replicas = Gauge(
            "stigmer_autoscaler_current_replicas",
            "Replicas of the target when last read.",
            labels,
            registry=self.registry,
        )
        self.backlog = Gauge(
            "stigmer_autoscaler_backlog",
            "Approximate tasks waiting on the runner queue.",
            (*labels, "queue_type"),
            registry=self.registry,
        )
        self.backlog_age = Gauge(
            "stigmer_autoscaler_backlog_age_seconds",
            "Age of the oldest waiting task.",
            labels,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "stigmer_autoscaler_in_flight",
            "Running executions on the runner queue.",
            labels,
            registry=self.registry,
        )
        self.decisions = Counter(
            "stigmer_autoscaler_decisions",
            "Scaling decisions, by reason.",
            (*labels, "reason"),
            registry=self.registry,
        )
        self.temporal_calls = Counter(
            "stigmer_autoscaler_temporal_calls",
            "Temporal API calls made to read the queue load.",
            labels,
            registry=self.registry,
        )
