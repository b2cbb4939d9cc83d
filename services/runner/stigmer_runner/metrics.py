"""The runner's metrics, recorded by the report activity from the task events it sends.

Never from workflow code: a replay re-runs workflow code, and would count every task again.
A local activity's result is recorded in the history, so a replay does not run it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from prometheus_client import Counter, Histogram

from stigmer_core.model import TaskPhase, TaskStatus

TASK_DURATION = Histogram(
    "stigmer_task_duration_seconds",
    "Run time of finished DSL tasks, by task type and outcome (workflow clock: start of the "
    "workflow task that started it to the one that ended it).",
    ["task_type", "outcome"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
)

TASK_REPORTS = Counter(
    "stigmer_task_reports_total",
    "Status reports the runner sent to the API, by outcome: applied, rejected (the execution "
    "had already ended) or failed (the API could not be reached; Temporal retries it).",
    ["outcome"],
)


class ReportOutcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"
    FAILED = "failed"


for _outcome in ReportOutcome:  # every series from the start, at 0
    TASK_REPORTS.labels(outcome=_outcome.value)


@dataclass(frozen=True)
class TaskDuration:
    task_type: str
    outcome: str
    seconds: float


def finished_tasks(tasks: Iterable[TaskStatus]) -> list[TaskDuration]:
    """The durations of the task events that end a task (RUNNING events start one)."""
    found = []
    for task in tasks:
        if task.phase is TaskPhase.RUNNING:
            continue
        seconds = _seconds(task.started_at, task.completed_at)
        found.append(
            TaskDuration(task_type=task.type, outcome=task.phase.value.lower(), seconds=seconds)
        )
    return found


def record_report(tasks: Iterable[TaskStatus], outcome: ReportOutcome) -> None:
    """Count one report; a delivered one also records the durations of the tasks it ends."""
    TASK_REPORTS.labels(outcome=outcome.value).inc()
    if outcome is ReportOutcome.FAILED:
        return  # it is retried, and counted then
    for task in finished_tasks(tasks):
        TASK_DURATION.labels(task_type=task.task_type, outcome=task.outcome).observe(task.seconds)


def _seconds(started: datetime | None, ended: datetime | None) -> float:
    if started is None or ended is None:
        return 0.0  # a task skipped (or ended) without a start report took no time of its own
    return max(0.0, (ended - started).total_seconds())
