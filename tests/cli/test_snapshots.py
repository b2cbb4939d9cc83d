"""Snapshot diffs become one line per phase change and per task state change."""

from __future__ import annotations

from datetime import timedelta

from stigmer_cli.snapshots import diff_snapshots, format_duration, summary_lines
from stigmer_core.model import ExecutionPhase, TaskPhase
from tests.cli.builders import EXECUTION_ID, T0, snapshot, task


def test_first_snapshot_shows_phase_and_every_task() -> None:
    current = snapshot(
        ExecutionPhase.IN_PROGRESS,
        sequence=3,
        tasks=[task("/do/0/greet", TaskPhase.COMPLETED, seconds=0.5)],
    )
    assert diff_snapshots(None, current) == [
        f"execution {EXECUTION_ID} IN_PROGRESS",
        "  ✓ /do/0/greet (set) COMPLETED in 0.50s",
    ]


def test_only_changes_are_reported() -> None:
    before = snapshot(
        ExecutionPhase.IN_PROGRESS,
        sequence=2,
        tasks=[
            task("/do/0/a", TaskPhase.COMPLETED, seconds=1),
            task("/do/1/b", TaskPhase.RUNNING),
        ],
    )
    after = snapshot(
        ExecutionPhase.IN_PROGRESS,
        sequence=4,
        tasks=[
            task("/do/0/a", TaskPhase.COMPLETED, seconds=1, output={"x": 1}),
            task("/do/1/b", TaskPhase.FAILED, error={"title": "Boom", "status": 500}),
            task("/do/2/c", TaskPhase.RUNNING),
        ],
    )
    assert diff_snapshots(before, after) == [
        "  ✗ /do/1/b (set) FAILED: Boom",
        "  ▶ /do/2/c (set) RUNNING",
    ]


def test_phase_change_without_task_change_is_one_line() -> None:
    before = snapshot(ExecutionPhase.PENDING, sequence=1)
    after = snapshot(ExecutionPhase.CANCELLED, sequence=2, message="cancelled on request")
    assert diff_snapshots(before, after) == [
        f"execution {EXECUTION_ID} CANCELLED: cancelled on request"
    ]


def test_repeated_or_older_snapshot_gives_no_lines() -> None:
    latest = snapshot(
        ExecutionPhase.IN_PROGRESS, sequence=5, tasks=[task("/do/0/a", TaskPhase.RUNNING)]
    )
    older = snapshot(ExecutionPhase.PENDING, sequence=1)
    assert diff_snapshots(latest, latest) == []
    assert diff_snapshots(latest, older) == []


def test_summary_of_completed_run_has_duration_and_pretty_output() -> None:
    final = snapshot(
        ExecutionPhase.COMPLETED,
        sequence=9,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=2.5),
        output={"greeting": "Hello Ada"},
    )
    assert summary_lines(final) == [
        f"COMPLETED {EXECUTION_ID} in 2.50s",
        "output:",
        '{\n  "greeting": "Hello Ada"\n}',
    ]


def test_summary_of_failed_run_shows_the_problem() -> None:
    problem = {
        "type": "https://serverlessworkflow.io/spec/1.0.0/errors/communication",
        "status": 503,
        "title": "Service unavailable",
        "detail": "GET http://example.test answered 503",
        "instance": "/do/1/fetch",
    }
    final = snapshot(
        ExecutionPhase.FAILED,
        sequence=9,
        started_at=T0,
        completed_at=T0 + timedelta(minutes=2, seconds=5),
        error=problem,
    )
    assert summary_lines(final) == [
        f"FAILED {EXECUTION_ID} in 2m05s",
        "error: Service unavailable",
        "  detail: GET http://example.test answered 503",
        "  instance: /do/1/fetch",
        "  status: 503",
        "  type: https://serverlessworkflow.io/spec/1.0.0/errors/communication",
    ]


def test_durations_read_well_at_every_scale() -> None:
    assert [format_duration(s) for s in (0.123, 12.34, 125, 7380)] == [
        "0.12s",
        "12.3s",
        "2m05s",
        "2h03m",
    ]
