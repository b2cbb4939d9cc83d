"""The status merge rules: sticky terminal phases, task upserts, sequence numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stigmer_core.errors import ConflictError, TerminalPhaseError
from stigmer_core.model import ExecutionPhase, ExecutionStatus, TaskPhase, TaskStatus
from stigmer_core.status import StatusUpdate, apply_update, merge_task

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task(task_id: str, phase: TaskPhase, **kw: object) -> TaskStatus:
    return TaskStatus(id=task_id, name=task_id.rsplit("/", 1)[-1], type="set", phase=phase, **kw)  # type: ignore[arg-type]


def test_in_progress_sets_started_at_and_bumps_sequence() -> None:
    status = apply_update(ExecutionStatus(), StatusUpdate(phase=ExecutionPhase.IN_PROGRESS), T0)
    assert status.phase is ExecutionPhase.IN_PROGRESS
    assert status.started_at == T0
    assert status.sequence == 1


@pytest.mark.parametrize(
    "terminal", [ExecutionPhase.COMPLETED, ExecutionPhase.FAILED, ExecutionPhase.CANCELLED]
)
@pytest.mark.parametrize(
    "update",
    [
        StatusUpdate(phase=ExecutionPhase.IN_PROGRESS),
        StatusUpdate(phase=ExecutionPhase.COMPLETED),
        StatusUpdate(
            tasks=[TaskStatus(id="/do/0/a", name="a", type="set", phase=TaskPhase.RUNNING)]
        ),
        StatusUpdate(output={"x": 1}),
    ],
)
def test_terminal_phases_are_sticky(terminal: ExecutionPhase, update: StatusUpdate) -> None:
    status = apply_update(ExecutionStatus(), StatusUpdate(phase=terminal), T0)
    assert status.completed_at == T0
    with pytest.raises(TerminalPhaseError):
        apply_update(status, update, T0)


def test_phase_cannot_go_back_to_pending() -> None:
    status = apply_update(ExecutionStatus(), StatusUpdate(phase=ExecutionPhase.IN_PROGRESS), T0)
    with pytest.raises(ConflictError):
        apply_update(status, StatusUpdate(phase=ExecutionPhase.PENDING), T0)


def test_tasks_are_upserted_by_id_and_never_dropped() -> None:
    status = ExecutionStatus()
    status = apply_update(
        status, StatusUpdate(tasks=[task("/do/0/a", TaskPhase.RUNNING, started_at=T0)]), T0
    )
    status = apply_update(status, StatusUpdate(tasks=[task("/do/1/b", TaskPhase.RUNNING)]), T0)
    status = apply_update(
        status, StatusUpdate(tasks=[task("/do/0/a", TaskPhase.COMPLETED, output={"v": 1})]), T0
    )
    assert [t.id for t in status.tasks] == ["/do/0/a", "/do/1/b"]
    first = status.task("/do/0/a")
    assert first is not None
    assert first.phase is TaskPhase.COMPLETED
    assert first.output == {"v": 1}
    assert first.started_at == T0  # kept from the RUNNING report
    assert status.sequence == 3


def test_late_running_report_does_not_undo_the_end() -> None:
    done = task("/do/0/a", TaskPhase.COMPLETED, output=1, completed_at=T0 + timedelta(seconds=1))
    late = task("/do/0/a", TaskPhase.RUNNING, input={"i": 1}, started_at=T0)
    merged = merge_task(done, late)
    assert merged.phase is TaskPhase.COMPLETED
    assert merged.output == 1
    assert merged.input == {"i": 1}
    assert merged.started_at == T0


def test_output_given_as_null_is_applied_but_absent_is_not() -> None:
    status = apply_update(ExecutionStatus(), StatusUpdate(output={"a": 1}), T0)
    assert apply_update(status, StatusUpdate(message="m"), T0).output == {"a": 1}
    assert apply_update(status, StatusUpdate.model_validate({"output": None}), T0).output is None


def test_dispatched_at_is_set_once() -> None:
    status = apply_update(ExecutionStatus(), StatusUpdate(dispatched_at=T0), T0)
    later = apply_update(status, StatusUpdate(dispatched_at=T0 + timedelta(hours=1)), T0)
    assert later.dispatched_at == T0


def test_a_later_iteration_replaces_the_entry_and_an_earlier_one_is_ignored() -> None:
    done = task("/do/0/loop/do/0/step", TaskPhase.COMPLETED, output=1, iteration=3)
    nxt = task("/do/0/loop/do/0/step", TaskPhase.RUNNING, input=2, iteration=4)
    merged = merge_task(done, nxt)
    assert merged.iteration == 4
    assert merged.phase is TaskPhase.RUNNING
    assert merged.output is None
    assert merge_task(merged, done) == merged
