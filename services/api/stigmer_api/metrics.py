"""The API's metrics (prometheus-client, default registry), recorded where each event happens.

Labels stay bounded: a workflow is `<namespace>/<name>` (never an execution id), a route is its
template (`/v1/executions/{execution_id}`), an operation one of the port's methods.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EXECUTIONS_CREATED = Counter(
    "stigmer_executions_created_total",
    "Executions created (persisted as PENDING), by workflow.",
    ["workflow"],
)

EXECUTIONS_FINISHED = Counter(
    "stigmer_executions_finished_total",
    "Executions that reached a terminal phase, by workflow and phase.",
    ["workflow", "phase"],
)

EXECUTION_DURATION = Histogram(
    "stigmer_execution_duration_seconds",
    "Time from an execution's creation to its terminal phase, by workflow and phase.",
    ["workflow", "phase"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600),
)

STATUS_UPDATES = Counter(
    "stigmer_status_updates_total",
    "Status updates, by outcome: applied (stored) or rejected (terminal phase is sticky, a "
    "phase went back, or the compare-and-swap kept losing).",
    ["outcome"],
)

SSE_SUBSCRIBERS = Gauge(
    "stigmer_sse_subscribers",
    "Open server-sent event streams (GET /v1/executions/{id}/events) on this replica.",
)

HTTP_REQUEST_DURATION = Histogram(
    "stigmer_http_request_duration_seconds",
    "Time until the response starts (for event streams: until the stream opens), by route "
    "template, method and status code.",
    ["route", "method", "status"],
)

STORE_ERRORS = Counter(
    "stigmer_store_errors_total",
    "Store calls that failed (unreachable or refused), by operation.",
    ["operation"],
)

BUS_ERRORS = Counter(
    "stigmer_bus_errors_total",
    "Bus calls that failed (publish, subscribe, receive, ping), by operation.",
    ["operation"],
)

EXECUTIONS_PENDING = Gauge(
    "stigmer_executions_pending",
    "PENDING executions not yet handed to Temporal, sampled by the reconciler (the same "
    "number on every replica: aggregate with max).",
)

TASK_QUEUE_BACKLOG = Gauge(
    "stigmer_task_queue_backlog",
    "Approximate tasks waiting in a task queue (Temporal's DescribeTaskQueue statistics).",
    ["task_queue", "queue_type"],
)

TASK_QUEUE_BACKLOG_AGE = Gauge(
    "stigmer_task_queue_backlog_age_seconds",
    "Age of the oldest task waiting in a task queue (Temporal's DescribeTaskQueue statistics).",
    ["task_queue", "queue_type"],
)


# Series of every known label value exist from the start at 0, so `rate()` and alerts see a
# first increase instead of a series appearing out of nothing.
for _outcome in ("applied", "rejected"):
    STATUS_UPDATES.labels(outcome=_outcome)
for _operation in ("insert", "get", "find_one", "list", "count", "replace", "delete", "ping"):
    STORE_ERRORS.labels(operation=_operation)
for _operation in ("publish", "subscribe", "receive", "ping"):
    BUS_ERRORS.labels(operation=_operation)
