"""The metric names a dashboard or an alert may use, with their Prometheus types.

Stigmer's own names are the ones agreed for issue 4 (prometheus-client, ``stigmer_`` prefix).
The Temporal SDK's are the names a live worker exported with the runtime Stigmer builds
(``PrometheusConfig(counters_total_suffix=True, unit_suffix=True, durations_as_seconds=True)``,
temporalio 1.35 against the Temporal dev server 1.32): recorded by
``scripts/probe_sdk_metrics.py``, which also makes the rare ones appear (failed workflow tasks,
failed activities, cache evictions, empty polls). Re-run it after upgrading temporalio.
"""

from __future__ import annotations

from typing import Literal

MetricType = Literal["counter", "gauge", "histogram"]

STIGMER: dict[str, MetricType] = {
    "stigmer_build_info": "gauge",
    "stigmer_executions_created_total": "counter",
    "stigmer_executions_finished_total": "counter",
    "stigmer_execution_duration_seconds": "histogram",
    "stigmer_status_updates_total": "counter",
    "stigmer_sse_subscribers": "gauge",
    "stigmer_http_request_duration_seconds": "histogram",
    "stigmer_store_errors_total": "counter",
    "stigmer_bus_errors_total": "counter",
    "stigmer_executions_pending": "gauge",
    "stigmer_task_queue_backlog": "gauge",
    "stigmer_task_queue_backlog_age_seconds": "gauge",
    "stigmer_task_duration_seconds": "histogram",
    "stigmer_task_reports_total": "counter",
}

TEMPORAL_SDK: dict[str, MetricType] = {
    "temporal_worker_task_slots_available": "gauge",
    "temporal_worker_task_slots_used": "gauge",
    "temporal_num_pollers": "gauge",
    "temporal_worker_start_total": "counter",
    "temporal_workflow_task_queue_poll_succeed_total": "counter",
    "temporal_workflow_task_queue_poll_empty_total": "counter",
    "temporal_workflow_task_schedule_to_start_latency_seconds": "histogram",
    "temporal_workflow_task_execution_latency_seconds": "histogram",
    "temporal_workflow_task_replay_latency_seconds": "histogram",
    "temporal_workflow_task_execution_failed_total": "counter",
    "temporal_workflow_completed_total": "counter",
    "temporal_workflow_failed_total": "counter",
    "temporal_workflow_canceled_total": "counter",
    "temporal_workflow_endtoend_latency_seconds": "histogram",
    "temporal_activity_task_received_total": "counter",
    "temporal_activity_poll_no_task_total": "counter",
    "temporal_activity_schedule_to_start_latency_seconds": "histogram",
    "temporal_activity_execution_latency_seconds": "histogram",
    "temporal_activity_succeed_endtoend_latency_seconds": "histogram",
    "temporal_activity_execution_failed_total": "counter",
    "temporal_sticky_cache_size": "gauge",
    "temporal_sticky_cache_hit_total": "counter",
    "temporal_sticky_cache_miss_total": "counter",
    "temporal_sticky_cache_total_forced_eviction_total": "counter",
    "temporal_request_total": "counter",
    "temporal_request_latency_seconds": "histogram",
    "temporal_long_request_total": "counter",
    "temporal_long_request_latency_seconds": "histogram",
}

# Series Prometheus makes itself for every scrape target: no process exposes them.
SCRAPE_GENERATED: frozenset[str] = frozenset({"up", "scrape_duration_seconds"})

# SDK series that exist only once their event has happened (a counter never incremented is
# not exported); the live dashboard test makes the ones a fleet can produce happen.
SDK_EVENT_ONLY: frozenset[str] = frozenset(
    {
        "temporal_workflow_task_queue_poll_empty_total",
        "temporal_activity_poll_no_task_total",
        "temporal_workflow_task_execution_failed_total",
        "temporal_workflow_failed_total",
        "temporal_workflow_canceled_total",
        "temporal_activity_execution_failed_total",
        "temporal_sticky_cache_miss_total",
        "temporal_sticky_cache_total_forced_eviction_total",
    }
)


def series_names(name: str, kind: MetricType) -> frozenset[str]:
    """The sample names a metric family puts in the exposition (a histogram's three)."""
    if kind == "histogram":
        return frozenset({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return frozenset({name})


def known_series() -> dict[str, str]:
    """Every sample name a query may select, mapped to the family that exposes it."""
    series: dict[str, str] = {name: name for name in SCRAPE_GENERATED}
    for family, kind in {**STIGMER, **TEMPORAL_SDK}.items():
        for name in series_names(family, kind):
            series[name] = family
    return series
