"""How resources look on a terminal and in pipes: JSON, YAML, text and tables."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from stigmer_cli.snapshots import (
    duration_seconds,
    format_duration,
    problem_lines,
    task_line,
)
from stigmer_core.model import Workflow, WorkflowExecution, WorkflowInstance


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    YAML = "yaml"


class FollowFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def say(console: Console, text: str) -> None:
    """Print ``text`` as is: no markup, no highlighting, no hard wraps (pipes stay parseable)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def dump(data: Any, fmt: OutputFormat | FollowFormat) -> str:
    """``data`` (JSON-able) as JSON or YAML text."""
    if fmt == OutputFormat.YAML:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
    return json.dumps(data, indent=2, ensure_ascii=False)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def workflow_text(workflow: Workflow) -> list[str]:
    """A workflow for people: identity, version, size, creation time."""
    spec = workflow.spec
    return [
        f"workflow   {workflow.metadata.id}",
        f"name       {spec.namespace}/{spec.name}",
        f"version    {spec.version}",
        f"tasks      {workflow.status.task_count}",
        f"created    {_when(workflow.metadata.created_at)}",
    ]


def instance_text(instance: WorkflowInstance) -> list[str]:
    """An instance for people; env values are not shown, only their names."""
    spec = instance.spec
    return [
        f"instance   {instance.metadata.id}",
        f"name       {instance.metadata.name}",
        f"workflow   {spec.workflow_id}",
        f"default    {'yes' if spec.default else 'no'}",
        f"env        {', '.join(sorted(spec.env)) or '-'}",
        f"created    {_when(instance.metadata.created_at)}",
    ]


def execution_text(execution: WorkflowExecution) -> list[str]:
    """An execution for people: phase, timing, every task's state, then output or error."""
    status = execution.status
    took = duration_seconds(status.started_at, status.completed_at)
    lines = [
        f"execution  {execution.metadata.id}",
        f"workflow   {execution.metadata.name} ({execution.spec.workflow_id})",
        f"instance   {execution.spec.instance_id}",
        f"phase      {status.phase.value}" + (f": {status.message}" if status.message else ""),
        f"created    {_when(execution.metadata.created_at)}",
        f"started    {_when(status.started_at)}",
        f"completed  {_when(status.completed_at)}"
        + (f" (took {format_duration(took)})" if took is not None else ""),
    ]
    if status.trace_id:
        # What to search for in the tracing backend (and in the services' logs).
        lines.append(f"trace      {status.trace_id}")
    if status.tasks:
        lines.append("tasks:")
        lines.extend(task_line(task) for task in status.tasks)
    if status.output is not None:
        lines.append("output:")
        lines.append(json.dumps(status.output, indent=2, ensure_ascii=False))
    if status.error:
        lines.extend(problem_lines(status.error))
    return lines


def workflows_table(items: list[dict[str, Any]]) -> Table:
    """A page of workflows as a table."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "NAMESPACE", "NAME", "VERSION", "TASKS", "CREATED"):
        table.add_column(column, no_wrap=True)
    for item in items:
        workflow = Workflow.model_validate(item)
        spec = workflow.spec
        table.add_row(
            workflow.metadata.id,
            spec.namespace,
            spec.name,
            spec.version,
            str(workflow.status.task_count),
            _when(workflow.metadata.created_at),
        )
    return table


def executions_table(items: list[dict[str, Any]]) -> Table:
    """A page of executions as a table."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "WORKFLOW", "PHASE", "CREATED", "DURATION"):
        table.add_column(column, no_wrap=True)
    for item in items:
        execution = WorkflowExecution.model_validate(item)
        status = execution.status
        took = duration_seconds(status.started_at, status.completed_at)
        table.add_row(
            execution.metadata.id,
            execution.metadata.name,
            status.phase.value,
            _when(execution.metadata.created_at),
            format_duration(took) if took is not None else "-",
        )
    return table
