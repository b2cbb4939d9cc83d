"""Payloads between the runner's activities and its DSL workflow (same process family)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Re-exported: the signal that delivers a CloudEvent to a listening run.
from stigmer_core.temporal_contracts import EVENT_SIGNAL as EVENT_SIGNAL
from stigmer_runner.dsl.checkpoint import Resume

# Signal through which ExecuteWorkflow hands the DSL workflow its async-completion token.
COMPLETION_TOKEN_SIGNAL = "stigmer.runner.completion-token"
REPORT_ACTIVITY = "stigmer.runner.report"
COMPLETE_ACTIVITY = "stigmer.runner.complete-execute"


@dataclass
class RunOptions:
    """Runner settings the (I/O-free) DSL workflow needs, captured when it starts."""

    task_timeout_seconds: float = 300.0
    task_heartbeat_seconds: float = 30.0
    http_timeout_seconds: float = 60.0
    iterations_per_run: int = 0
    """Continue as new after this many loop iterations (of loops where a run can be cut, see
    ``dsl/checkpoint.py``); 0: when Temporal suggests."""
    default_catalog_url: str | None = None
    """Root URL of the catalog that ``name:version@default`` calls use; None: no default."""


@dataclass
class DslRunInput:
    execution_id: str
    workflow_id: str
    document: dict[str, Any]
    input: Any = None
    env: dict[str, str] = field(default_factory=dict)
    options: RunOptions = field(default_factory=RunOptions)
    child: bool = False
    """A child run (``run: workflow``): its parent reports status and is completed, not it."""
    resume: Resume | None = None
    """Set when this run continues an earlier one (continue-as-new)."""
    completion_token: str | None = None
    """ExecuteWorkflow's completion token, carried across continue-as-new."""
    pending_events: list[dict[str, Any]] = field(default_factory=list)
    """Events received but not consumed yet, carried across continue-as-new."""
    continued: bool = False


@dataclass
class ExecutionReport:
    """A status update for the API, as plain JSON (a StatusUpdate dumped in JSON mode)."""

    execution_id: str
    update: dict[str, Any]
    trace_context: dict[str, str] | None = None
    """The DSL workflow's W3C trace context (``traceparent``...), when the run is traced:
    the report activity makes its tasks' spans children of it."""


@dataclass
class CompleteExecute:
    """Complete the ExecuteWorkflow activity identified by ``task_token`` (base64)."""

    task_token: str
    outcome: dict[str, Any]
