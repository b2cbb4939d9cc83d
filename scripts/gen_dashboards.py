"""Write the Grafana dashboards under deploy/grafana/ from the definitions below.

    python scripts/gen_dashboards.py          # rewrites deploy/grafana/*.json

The JSON files are what users import; this script is their source, so that a panel is a
few readable lines and ids and grid positions cannot collide. Edit here and regenerate: a test
(tests/deploy/test_dashboards.py) fails when the files and this script disagree.

Every query filters on ``namespace`` and ``job`` (the scrape target's labels: the Kubernetes
namespace and the deployment's job) through template variables whose "All" is ``.*``, so the
dashboards also work where neither label exists.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "deploy" / "grafana"

SCHEMA_VERSION = 41  # Grafana 12's classic dashboard model; older versions are migrated up
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'namespace=~"$namespace", job=~"$job"'
RATE = "$__rate_interval"


def m(metric: str, extra: str = "", selector: str = SEL) -> str:
    """``metric{<selector>, <extra>}``."""
    return f"{metric}{{{selector}, {extra}}}" if extra else f"{metric}{{{selector}}}"


# --- building blocks ----------------------------------------------------------------------


@dataclass
class Target:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass
class Panel:
    kind: str  # timeseries, stat, table, bargauge
    title: str
    description: str
    targets: list[Target]
    unit: str = "short"
    width: int = 12
    height: int = 8
    stack: bool = False
    thresholds: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, "green")])
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class Row:
    title: str
    panels: list[Panel]


def ts(title: str, description: str, *targets: Target, **kw: Any) -> Panel:
    return Panel("timeseries", title, description, list(targets), **kw)


def stat(title: str, description: str, *targets: Target, **kw: Any) -> Panel:
    kw.setdefault("width", 6)
    kw.setdefault("height", 4)
    return Panel("stat", title, description, list(targets), **kw)


def table(title: str, description: str, *targets: Target, **kw: Any) -> Panel:
    return Panel("table", title, description, list(targets), **kw)


def quantiles(metric: str, by: str, selector: str = SEL, legend_prefix: str = "") -> list[Target]:
    """p50, p95 and p99 of a histogram, grouped by ``by`` (may be empty)."""
    group = f"le, {by}" if by else "le"
    prefix = legend_prefix or (" ".join(f"{{{{{label.strip()}}}}}" for label in by.split(",")))
    return [
        Target(
            f"histogram_quantile({q}, sum by ({group}) "
            f"(rate({metric}_bucket{{{selector}}}[{RATE}])))",
            f"{prefix} p{round(q * 100)}".strip(),
        )
        for q in (0.5, 0.95, 0.99)
    ]


def _thresholds(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "thresholds": _thresholds(panel.thresholds)}
    if panel.minimum is not None:
        defaults["min"] = panel.minimum
    if panel.maximum is not None:
        defaults["max"] = panel.maximum
    options: dict[str, Any]
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
        defaults["custom"] = {
            "drawStyle": "line",
            "fillOpacity": 10 if panel.stack else 0,
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"mode": "normal" if panel.stack else "none", "group": "A"},
        }
        options = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif panel.kind == "stat":
        defaults["color"] = {"mode": "thresholds"}
        options = {
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        }
    else:
        options = {"showHeader": True, "cellHeight": "sm"}
    targets = []
    for index, target in enumerate(panel.targets):
        entry: dict[str, Any] = {
            "datasource": DATASOURCE,
            "editorMode": "code",
            "expr": target.expr,
            "legendFormat": target.legend or "__auto",
            "refId": chr(ord("A") + index),
        }
        if target.instant or panel.kind == "table":
            entry.update({"instant": True, "range": False, "format": "table"})
        else:
            entry["range"] = True
        targets.append(entry)
    result: dict[str, Any] = {
        "datasource": DATASOURCE,
        "description": panel.description,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "id": panel_id,
        "options": options,
        "targets": targets,
        "title": panel.title,
        "type": panel.kind,
    }
    if panel.kind == "table":
        result["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ]
    return result


def _layout(rows: list[Row]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = []
    panel_id = 1
    y = 0
    for row in rows:
        panels.append(
            {
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "id": panel_id,
                "panels": [],
                "title": row.title,
                "type": "row",
            }
        )
        panel_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                y += line_height
                x = 0
                line_height = 0
            panels.append(_panel_json(panel, panel_id, x, y))
            panel_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return panels


def _datasource_variable() -> dict[str, Any]:
    return {
        "current": {},
        "hide": 0,
        "includeAll": False,
        "label": "Data source",
        "multi": False,
        "name": "datasource",
        "options": [],
        "query": "prometheus",
        "refresh": 1,
        "regex": "",
        "type": "datasource",
    }


def query_variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A multi-value Prometheus label variable whose "All" matches any value, or none."""
    return {
        "allValue": ".*",
        "current": {},
        "datasource": DATASOURCE,
        "definition": query,
        "hide": 0,
        "includeAll": True,
        "label": label,
        "multi": True,
        "name": name,
        "options": [],
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }


NAMESPACE = query_variable("namespace", "Namespace", "label_values(stigmer_build_info, namespace)")


def job_variable(service_regex: str) -> dict[str, Any]:
    return query_variable(
        "job",
        "Deployment (job)",
        f'label_values(stigmer_build_info{{namespace=~"$namespace", '
        f'component=~"{service_regex}"}}, job)',
    )


def dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], rows: list[Row]
) -> dict[str, Any]:
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "tags": ["stigmer"],
                "targetBlank": False,
                "title": "Stigmer",
                "type": "dashboards",
            }
        ],
        "panels": _layout(rows),
        "preload": False,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["stigmer"],
        "templating": {"list": [_datasource_variable(), *variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


# --- the dashboards -------------------------------------------------------------------------


def fleet_overview() -> dict[str, Any]:
    finished = m("stigmer_executions_finished_total")
    failed = m("stigmer_executions_finished_total", 'phase="FAILED"')
    completed = m("stigmer_executions_finished_total", 'phase="COMPLETED"')
    created = f"stigmer_executions_created_total{{{SEL}}}"
    # Every API replica samples the same global numbers: max, not sum, across replicas.
    backlog = f"max by (task_queue, queue_type) (stigmer_task_queue_backlog{{{SEL}}})"
    backlog_age = (
        f"max by (task_queue, queue_type) (stigmer_task_queue_backlog_age_seconds{{{SEL}}})"
    )
    rows = [
        Row(
            "Executions",
            [
                stat(
                    "Created",
                    "Executions created in the selected time range.",
                    Target(f"sum(increase({created}[$__range]))", instant=True),
                    unit="none",
                ),
                stat(
                    "Completed",
                    "Executions that reached COMPLETED in the selected time range.",
                    Target(f"sum(increase({completed}[$__range]))", instant=True),
                    unit="none",
                ),
                stat(
                    "Failed",
                    "Executions that reached FAILED in the selected time range.",
                    Target(f"sum(increase({failed}[$__range]))", instant=True),
                    unit="none",
                    thresholds=[(None, "green"), (1, "red")],
                ),
                stat(
                    "Awaiting dispatch",
                    "Executions still PENDING because they have not been started on Temporal "
                    "(the API's reconciler samples this). Stays above zero while Temporal is "
                    "unreachable.",
                    Target(f"max(stigmer_executions_pending{{{SEL}}})"),
                    unit="none",
                    thresholds=[(None, "green"), (1, "orange"), (50, "red")],
                ),
                ts(
                    "Executions finished by phase",
                    "Rate of executions reaching a terminal phase, by phase.",
                    Target(f"sum by (phase) (rate({finished}[{RATE}]))", "{{phase}}"),
                    unit="ops",
                    stack=True,
                ),
                ts(
                    "Throughput",
                    "Executions created and finished per second. A gap that persists means "
                    "executions are accumulating (see the backlog row).",
                    Target(f"sum(rate({created}[{RATE}]))", "created"),
                    Target(f"sum(rate({finished}[{RATE}]))", "finished"),
                    unit="ops",
                ),
                ts(
                    "Failure ratio",
                    "Share of finished executions that FAILED.",
                    Target(
                        f"sum(rate({failed}[{RATE}])) / sum(rate({finished}[{RATE}]))",
                        "failed / finished",
                    ),
                    unit="percentunit",
                    minimum=0,
                    maximum=1,
                ),
                ts(
                    "Execution duration (created → terminal)",
                    "Percentiles of the time from creation to a terminal phase, from the "
                    "stigmer_execution_duration_seconds histogram.",
                    *quantiles("stigmer_execution_duration_seconds", "", legend_prefix="all"),
                    unit="s",
                ),
                ts(
                    "Execution duration p95 by workflow",
                    "95th percentile of execution duration for each workflow.",
                    Target(
                        "histogram_quantile(0.95, sum by (le, workflow) "
                        f"(rate(stigmer_execution_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
                        "{{workflow}}",
                    ),
                    unit="s",
                ),
                table(
                    "Busiest workflows",
                    "Executions finished in the selected time range, by workflow and phase.",
                    Target(
                        f"topk(20, sum by (workflow, phase) (increase({finished}[$__range])))",
                        instant=True,
                    ),
                ),
            ],
        ),
        Row(
            "Tasks",
            [
                ts(
                    "Tasks by outcome",
                    "Rate of DSL tasks ending, by outcome (recorded by the runner).",
                    Target(
                        "sum by (outcome) "
                        f"(rate(stigmer_task_duration_seconds_count{{{SEL}}}[{RATE}]))",
                        "{{outcome}}",
                    ),
                    unit="ops",
                    stack=True,
                ),
                ts(
                    "Task duration p95 by task type",
                    "95th percentile of DSL task duration for each task type.",
                    Target(
                        "histogram_quantile(0.95, sum by (le, task_type) "
                        f"(rate(stigmer_task_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
                        "{{task_type}}",
                    ),
                    unit="s",
                ),
            ],
        ),
        Row(
            "Backlog",
            [
                ts(
                    "Task queue backlog",
                    "Approximate number of tasks waiting on each Temporal task queue "
                    "(describe-task-queue, sampled by the API).",
                    Target(backlog, "{{task_queue}} {{queue_type}}"),
                    unit="none",
                ),
                ts(
                    "Task queue backlog age",
                    "Age of the oldest task waiting on each queue: how long the next task "
                    "has waited for a worker.",
                    Target(backlog_age, "{{task_queue}} {{queue_type}}"),
                    unit="s",
                ),
                ts(
                    "Executions awaiting dispatch",
                    "PENDING executions not yet started on Temporal.",
                    Target(f"max(stigmer_executions_pending{{{SEL}}})", "pending"),
                    unit="none",
                ),
            ],
        ),
        Row(
            "Replicas",
            [
                ts(
                    "Targets up by deployment",
                    "Scrape targets answering, per job: the replicas Prometheus can reach.",
                    Target(f"sum by (job) (up{{{SEL}}})", "{{job}}"),
                    unit="none",
                    width=8,
                    minimum=0,
                ),
                ts(
                    "Workers polling by deployment",
                    "Worker processes with at least one Temporal poller, per job.",
                    Target(
                        "count by (job) (sum by (job, instance) "
                        f"(temporal_num_pollers{{{SEL}}}) > 0)",
                        "{{job}}",
                    ),
                    unit="none",
                    width=8,
                    minimum=0,
                ),
                table(
                    "Running versions",
                    "Processes per component and version (stigmer_build_info).",
                    Target(
                        f"count by (job, component, version) (stigmer_build_info{{{SEL}}})",
                        instant=True,
                    ),
                    width=8,
                ),
            ],
        ),
    ]
    return dashboard(
        "stigmer-fleet-overview",
        "Stigmer / Fleet overview",
        "Executions by phase, throughput, durations, task-queue backlog and replicas.",
        [NAMESPACE, job_variable(".*")],
        rows,
    )


def worker_health() -> dict[str, Any]:
    sel = f'{SEL}, task_queue=~"$task_queue"'

    hits = f"sum by (job) (rate(temporal_sticky_cache_hit_total{{{sel}}}[{RATE}]))"
    misses = f"sum by (job) (rate(temporal_sticky_cache_miss_total{{{sel}}}[{RATE}]))"

    def by_worker(metric: str) -> str:
        return f"sum by (job, worker_type) ({metric}{{{sel}}})"

    rows = [
        Row(
            "Slots",
            [
                ts(
                    "Slots available",
                    "Free task slots per deployment and worker type (workflow, activity, "
                    "local activity). Zero means the worker stops polling that kind of task.",
                    Target(
                        by_worker("temporal_worker_task_slots_available"), "{{job}} {{worker_type}}"
                    ),
                    unit="none",
                    width=8,
                ),
                ts(
                    "Slots used",
                    "Task slots in use per deployment and worker type.",
                    Target(by_worker("temporal_worker_task_slots_used"), "{{job}} {{worker_type}}"),
                    unit="none",
                    width=8,
                ),
                ts(
                    "Slot utilisation",
                    "Used / (used + available): near 100 % the deployment needs more replicas "
                    "or more slots.",
                    Target(
                        f"{by_worker('temporal_worker_task_slots_used')} / "
                        f"({by_worker('temporal_worker_task_slots_used')} + "
                        f"{by_worker('temporal_worker_task_slots_available')})",
                        "{{job}} {{worker_type}}",
                    ),
                    unit="percentunit",
                    width=8,
                    minimum=0,
                    maximum=1,
                ),
            ],
        ),
        Row(
            "Polling",
            [
                ts(
                    "Pollers",
                    "Long polls in flight per deployment and poller type. Zero with free "
                    "slots means the worker has stopped polling.",
                    Target(
                        f"sum by (job, poller_type) (temporal_num_pollers{{{sel}}})",
                        "{{job}} {{poller_type}}",
                    ),
                    unit="none",
                    width=8,
                ),
                ts(
                    "Workflow task polls: success vs empty",
                    "Workflow-task polls that returned a task and long polls that expired "
                    "empty. Mostly empty polls mean spare capacity.",
                    Target(
                        "sum by (job) "
                        f"(rate(temporal_workflow_task_queue_poll_succeed_total{{{sel}}}[{RATE}]))",
                        "{{job}} succeeded",
                    ),
                    Target(
                        "sum by (job) "
                        f"(rate(temporal_workflow_task_queue_poll_empty_total{{{sel}}}[{RATE}]))",
                        "{{job}} empty",
                    ),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Activity task polls: received vs empty",
                    "Activity tasks received (by poll or eagerly) and activity polls that "
                    "expired empty.",
                    Target(
                        "sum by (job) "
                        f"(rate(temporal_activity_task_received_total{{{sel}}}[{RATE}]))",
                        "{{job}} received",
                    ),
                    Target(
                        "sum by (job) "
                        f"(rate(temporal_activity_poll_no_task_total{{{sel}}}[{RATE}]))",
                        "{{job}} empty",
                    ),
                    unit="ops",
                    width=8,
                ),
            ],
        ),
        Row(
            "Latency",
            [
                ts(
                    "Workflow task schedule-to-start",
                    "Time a workflow task waited on the queue before a worker picked it up. "
                    "Growing values mean too few workflow pollers or slots.",
                    *quantiles(
                        "temporal_workflow_task_schedule_to_start_latency_seconds", "job", sel
                    ),
                    unit="s",
                ),
                ts(
                    "Activity schedule-to-start",
                    "Time an activity task waited on the queue before a worker picked it up.",
                    *quantiles("temporal_activity_schedule_to_start_latency_seconds", "job", sel),
                    unit="s",
                ),
                ts(
                    "Workflow task execution p95",
                    "95th percentile of the time a workflow task took to run (workflow code, "
                    "including replay).",
                    Target(
                        "histogram_quantile(0.95, sum by (le, job, workflow_type) "
                        "(rate(temporal_workflow_task_execution_latency_seconds_bucket"
                        f"{{{sel}}}[{RATE}])))",
                        "{{job}} {{workflow_type}}",
                    ),
                    unit="s",
                ),
                ts(
                    "Activity execution p95",
                    "95th percentile of activity run time, by activity type.",
                    Target(
                        "histogram_quantile(0.95, sum by (le, job, activity_type) "
                        "(rate(temporal_activity_execution_latency_seconds_bucket"
                        f"{{{sel}}}[{RATE}])))",
                        "{{job}} {{activity_type}}",
                    ),
                    unit="s",
                ),
            ],
        ),
        Row(
            "Failures",
            [
                ts(
                    "Workflow task failures",
                    "Workflow tasks that failed (non-determinism, a bug in workflow code). "
                    "The workflow is stuck retrying the task until the cause is fixed.",
                    Target(
                        "sum by (job, failure_reason) "
                        f"(rate(temporal_workflow_task_execution_failed_total{{{sel}}}[{RATE}]))",
                        "{{job}} {{failure_reason}}",
                    ),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Activity failures",
                    "Activity attempts that failed, by activity type.",
                    Target(
                        "sum by (job, activity_type) "
                        f"(rate(temporal_activity_execution_failed_total{{{sel}}}[{RATE}]))",
                        "{{job}} {{activity_type}}",
                    ),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Workflows completed / failed / cancelled",
                    "Temporal workflow outcomes as the workers saw them.",
                    Target(
                        f"sum by (job) (rate(temporal_workflow_completed_total{{{sel}}}[{RATE}]))",
                        "{{job}} completed",
                    ),
                    Target(
                        f"sum by (job) (rate(temporal_workflow_failed_total{{{sel}}}[{RATE}]))",
                        "{{job}} failed",
                    ),
                    Target(
                        f"sum by (job) (rate(temporal_workflow_canceled_total{{{sel}}}[{RATE}]))",
                        "{{job}} cancelled",
                    ),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Task reports by outcome",
                    "Task status reports the runner sent to the API, by outcome.",
                    Target(
                        "sum by (job, outcome) "
                        f"(rate(stigmer_task_reports_total{{{SEL}}}[{RATE}]))",
                        "{{job}} {{outcome}}",
                    ),
                    unit="ops",
                    width=24,
                ),
            ],
        ),
        Row(
            "Sticky cache",
            [
                ts(
                    "Sticky cache size",
                    "Workflows held in each worker's cache.",
                    Target(
                        f"sum by (job, instance) (temporal_sticky_cache_size{{{sel}}})",
                        "{{job}} {{instance}}",
                    ),
                    unit="none",
                    width=8,
                ),
                ts(
                    "Sticky cache hit ratio",
                    "Workflow tasks served from the cache; a low ratio means full-history "
                    "replays (raise max_cached_workflows or add memory).",
                    Target(
                        f"{hits} / ({hits} + {misses})",
                        "{{job}}",
                    ),
                    unit="percentunit",
                    width=8,
                    minimum=0,
                    maximum=1,
                ),
                ts(
                    "Forced evictions",
                    "Workflows evicted from a full cache.",
                    Target(
                        "sum by (job) (rate(temporal_sticky_cache_total_forced_eviction_total"
                        f"{{{sel}}}[{RATE}]))",
                        "{{job}}",
                    ),
                    unit="ops",
                    width=8,
                ),
            ],
        ),
    ]
    return dashboard(
        "stigmer-worker-health",
        "Stigmer / Worker health",
        "Temporal worker health of the orchestrator and runner deployments: slots, pollers, "
        "schedule-to-start latency, failures and the sticky cache.",
        [
            NAMESPACE,
            query_variable(
                "job",
                "Deployment (job)",
                'label_values(temporal_worker_task_slots_available{namespace=~"$namespace"}, job)',
            ),
            query_variable(
                "task_queue",
                "Task queue",
                "label_values(temporal_worker_task_slots_available"
                '{namespace=~"$namespace", job=~"$job"}, task_queue)',
            ),
        ],
        rows,
    )


def api() -> dict[str, Any]:
    requests = f"stigmer_http_request_duration_seconds_count{{{SEL}}}"
    errors = f'stigmer_http_request_duration_seconds_count{{{SEL}, status=~"5.."}}'
    updates = f"stigmer_status_updates_total{{{SEL}}}"
    rows = [
        Row(
            "Requests",
            [
                stat(
                    "Request rate",
                    "Requests per second across API replicas.",
                    Target(f"sum(rate({requests}[{RATE}]))"),
                    unit="reqps",
                ),
                stat(
                    "5xx ratio",
                    "Share of requests answered with a 5xx status.",
                    Target(f"sum(rate({errors}[{RATE}])) / sum(rate({requests}[{RATE}]))"),
                    unit="percentunit",
                    thresholds=[(None, "green"), (0.01, "orange"), (0.05, "red")],
                ),
                stat(
                    "p95 latency",
                    "95th percentile of request latency across routes.",
                    Target(
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(stigmer_http_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))"
                    ),
                    unit="s",
                    thresholds=[(None, "green"), (0.5, "orange"), (2, "red")],
                ),
                stat(
                    "SSE subscribers",
                    "Open server-sent-event streams across API replicas.",
                    Target(f"sum(stigmer_sse_subscribers{{{SEL}}})"),
                    unit="none",
                ),
                ts(
                    "Requests by route",
                    "Requests per second per route template and method.",
                    Target(
                        f"sum by (method, route) (rate({requests}[{RATE}]))", "{{method}} {{route}}"
                    ),
                    unit="reqps",
                ),
                ts(
                    "Requests by status",
                    "Requests per second per HTTP status.",
                    Target(f"sum by (status) (rate({requests}[{RATE}]))", "{{status}}"),
                    unit="reqps",
                    stack=True,
                ),
                ts(
                    "Error ratio by route",
                    "Share of each route's requests answered with a 5xx (solid) and with a 4xx.",
                    Target(
                        f"sum by (route) (rate({errors}[{RATE}])) / "
                        f"sum by (route) (rate({requests}[{RATE}]))",
                        "{{route}} 5xx",
                    ),
                    Target(
                        "sum by (route) (rate(stigmer_http_request_duration_seconds_count"
                        f'{{{SEL}, status=~"4.."}}[{RATE}])) / '
                        f"sum by (route) (rate({requests}[{RATE}]))",
                        "{{route}} 4xx",
                    ),
                    unit="percentunit",
                    minimum=0,
                ),
                ts(
                    "Latency p95 by route",
                    "95th percentile of request latency per route template. SSE streams are "
                    "long by design: read their route separately.",
                    Target(
                        "histogram_quantile(0.95, sum by (le, route) "
                        f"(rate(stigmer_http_request_duration_seconds_bucket{{{SEL}}}[{RATE}])))",
                        "{{route}}",
                    ),
                    unit="s",
                ),
                ts(
                    "Latency percentiles",
                    "p50, p95 and p99 of request latency across routes.",
                    *quantiles("stigmer_http_request_duration_seconds", "", legend_prefix="all"),
                    unit="s",
                ),
                ts(
                    "SSE subscribers by replica",
                    "Open event streams per API process.",
                    Target(f"sum by (instance) (stigmer_sse_subscribers{{{SEL}}})", "{{instance}}"),
                    unit="none",
                ),
            ],
        ),
        Row(
            "Status updates and dependencies",
            [
                ts(
                    "Status updates applied / rejected",
                    "Status updates from the runner that the API applied, and those it "
                    "rejected (stale sequence, already terminal, invalid).",
                    Target(f"sum by (outcome) (rate({updates}[{RATE}]))", "{{outcome}}"),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Store errors",
                    "MongoDB (or embedded store) operations that failed, by operation.",
                    Target(
                        f"sum by (operation) (rate(stigmer_store_errors_total{{{SEL}}}[{RATE}]))",
                        "{{operation}}",
                    ),
                    unit="ops",
                    width=8,
                ),
                ts(
                    "Bus errors",
                    "Redis pub/sub operations that failed, by operation.",
                    Target(
                        f"sum by (operation) (rate(stigmer_bus_errors_total{{{SEL}}}[{RATE}]))",
                        "{{operation}}",
                    ),
                    unit="ops",
                    width=8,
                ),
            ],
        ),
    ]
    return dashboard(
        "stigmer-api",
        "Stigmer / API",
        "The HTTP API: request rate, errors and latency by route, SSE subscribers, status "
        "updates and store/bus errors.",
        [NAMESPACE, job_variable("api")],
        rows,
    )


DASHBOARDS = {
    "fleet-overview.json": fleet_overview,
    "worker-health.json": worker_health,
    "api.json": api,
}


def render(name: str) -> str:
    """The file content of one dashboard."""
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (OUT / name).write_text(render(name))
        print(f"wrote {(OUT / name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
