"""Turn successive execution snapshots into the lines a person follows.

The event stream sends whole snapshots; what people want is what changed. The diff is
a pure function so it is tested without a server: one line for the execution's phase
change, one line per task that appeared or changed phase.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from stigmer_core.model import ExecutionPhase, TaskPhase, TaskStatus, WorkflowExecution

_TASK_MARKS = {
    TaskPhase.RUNNING: "▶",
    TaskPhase.COMPLETED: "✓",
    TaskPhase.FAILED: "✗",
    TaskPhase.SKIPPED: "↷",
    TaskPhase.CANCELLED: "■",
}


def diff_snapshots(previous: WorkflowExecution | None, current: WorkflowExecution) -> list[str]:
    """Lines describing what changed from ``previous`` to ``current`` (``None``: first seen).

    A snapshot older than ``previous`` (lower ``status.sequence``) gives no lines: after a
    reconnect the server may repeat what was already shown.
    """
    if previous is not None and current.status.sequence < previous.status.sequence:
        return []
    lines: list[str] = []
    old_phase = previous.status.phase if previous is not None else None
    if current.status.phase != old_phase:
        lines.append(execution_line(current))
    before = {t.id: t.phase for t in previous.status.tasks} if previous is not None else {}
    for task in current.status.tasks:
        if before.get(task.id) != task.phase:
            lines.append(task_line(task))
    return lines


def execution_line(execution: WorkflowExecution) -> str:
    """``execution wex-… IN_PROGRESS`` plus the status message, if any."""
    status = execution.status
    line = f"execution {execution.metadata.id} {status.phase.value}"
    if status.message and status.phase is not ExecutionPhase.COMPLETED:
        line += f": {status.message}"
    return line


def task_line(task: TaskStatus) -> str:
    """One task's state: mark, pointer, type, phase, and duration or error title."""
    line = f"  {_TASK_MARKS.get(task.phase, '·')} {task.id} ({task.type}) {task.phase.value}"
    took = duration_seconds(task.started_at, task.completed_at)
    if task.phase.terminal and took is not None:
        line += f" in {format_duration(took)}"
    if task.error:
        line += f": {problem_title(task.error)}"
    return line


def duration_seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``; ``None`` unless both are known."""
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def format_duration(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``4m05s``, ``2h03m``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def problem_title(problem: dict[str, Any]) -> str:
    """The shortest useful text of an RFC 7807 problem: title, else detail, else type."""
    for key in ("title", "detail", "type"):
        value = problem.get(key)
        if value:
            return str(value)
    return json.dumps(problem)


def summary_lines(execution: WorkflowExecution) -> list[str]:
    """The end of ``run``/``watch``: final phase and duration, then output or error."""
    status = execution.status
    start = status.started_at or execution.metadata.created_at
    took = duration_seconds(start, status.completed_at)
    head = f"{status.phase.value} {execution.metadata.id}"
    if took is not None:
        head += f" in {format_duration(took)}"
    lines = [head]
    if status.phase is ExecutionPhase.COMPLETED:
        lines.append("output:")
        lines.append(json.dumps(status.output, indent=2, ensure_ascii=False))
    elif status.error:
        lines.extend(problem_lines(status.error))
    elif status.message:
        lines.append(f"message: {status.message}")
    return lines


def problem_lines(problem: dict[str, Any]) -> list[str]:
    """An RFC 7807 problem as ``error: title`` then indented detail, instance, type."""
    lines = [f"error: {problem_title(problem)}"]
    detail = problem.get("detail")
    if detail and detail != problem_title(problem):
        lines.append(f"  detail: {detail}")
    for key in ("instance", "status", "type"):
        if problem.get(key) is not None:
            lines.append(f"  {key}: {problem[key]}")
    return lines
