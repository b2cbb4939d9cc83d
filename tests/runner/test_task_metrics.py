"""Task durations and report outcomes, as the report activity records them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stigmer_core.model import TaskPhase, TaskStatus
from stigmer_core.observability import stigmer_metrics
from stigmer_runner.metrics import ReportOutcome, TaskDuration, finished_tasks, record_report
from tests.metrics_scrape import parse

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def task(
    phase: TaskPhase, *, kind: str = "call", started: float | None = 0, ended: float | None = 1.5
) -> TaskStatus:
    return TaskStatus(
        id="/do/0/t",
        name="t",
        type=kind,
        phase=phase,
        started_at=None if started is None else T0 + timedelta(seconds=started),
        completed_at=None if ended is None else T0 + timedelta(seconds=ended),
    )


def test_only_events_that_end_a_task_have_a_duration() -> None:
    events = [
        task(TaskPhase.RUNNING, ended=None),
        task(TaskPhase.COMPLETED),
        task(TaskPhase.FAILED, kind="raise", started=2, ended=2.25),
        task(TaskPhase.SKIPPED, kind="set", started=None),
        task(TaskPhase.CANCELLED, started=3, ended=1),  # clocks never make it negative
    ]
    assert finished_tasks(events) == [
        TaskDuration("call", "completed", 1.5),
        TaskDuration("raise", "failed", 0.25),
        TaskDuration("set", "skipped", 0.0),
        TaskDuration("call", "cancelled", 0.0),
    ]


def test_a_failed_report_counts_no_duration_its_retry_will() -> None:
    before = parse(stigmer_metrics().decode())
    record_report([task(TaskPhase.COMPLETED, kind="wait")], ReportOutcome.FAILED)
    record_report([task(TaskPhase.COMPLETED, kind="wait")], ReportOutcome.APPLIED)
    after = parse(stigmer_metrics().decode())

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert delta("stigmer_task_reports_total", outcome="failed") == 1
    assert delta("stigmer_task_reports_total", outcome="applied") == 1
    count = "stigmer_task_duration_seconds_count"
    assert delta(count, task_type="wait", outcome="completed") == 1
    assert delta("stigmer_task_duration_seconds_sum", task_type="wait", outcome="completed") == 1.5
