"""Recording executions' lifecycle in the API's metrics, labelled by workflow.

The label is `<namespace>/<name>`: bounded by what users register, readable on a dashboard,
and the same for every version. Executions only hold the workflow's id, so the label of an
id is looked up once and kept (bounded).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from stigmer_api.metrics import EXECUTION_DURATION, EXECUTIONS_CREATED, EXECUTIONS_FINISHED
from stigmer_api.workflows import WorkflowService
from stigmer_core.errors import StigmerError
from stigmer_core.model import ExecutionPhase, Workflow, WorkflowExecution

log = logging.getLogger(__name__)

UNKNOWN_WORKFLOW = "unknown"
_CACHE_SIZE = 4096


def workflow_label(workflow: Workflow) -> str:
    return f"{workflow.spec.namespace}/{workflow.spec.name}"


def finished_now(before: ExecutionPhase, after: WorkflowExecution) -> bool:
    """True for the one update that makes an execution terminal."""
    return not before.terminal and after.status.phase.terminal


def duration_seconds(execution: WorkflowExecution) -> float:
    """Creation to terminal phase (0 if the end time is missing)."""
    ended = execution.status.completed_at
    if ended is None:
        return 0.0
    return max(0.0, (ended - execution.metadata.created_at).total_seconds())


class ExecutionMetrics:
    def __init__(self, *, workflows: WorkflowService) -> None:
        self._workflows = workflows
        self._labels: OrderedDict[str, str] = OrderedDict()

    def created(self, workflow: Workflow) -> None:
        label = self._remember(workflow.metadata.id, workflow_label(workflow))
        EXECUTIONS_CREATED.labels(workflow=label).inc()

    async def finished(self, before: ExecutionPhase, after: WorkflowExecution) -> None:
        """Count ``after`` as finished if this update ended it (exactly one update does:
        the compare-and-swap makes the terminal write unique across replicas)."""
        if not finished_now(before, after):
            return
        label = await self._label(after.spec.workflow_id)
        phase = after.status.phase.value
        EXECUTIONS_FINISHED.labels(workflow=label, phase=phase).inc()
        EXECUTION_DURATION.labels(workflow=label, phase=phase).observe(duration_seconds(after))

    async def _label(self, workflow_id: str) -> str:
        label = self._labels.get(workflow_id)
        if label is not None:
            self._labels.move_to_end(workflow_id)
            return label
        try:
            workflow = await self._workflows.get(workflow_id)
        except StigmerError as exc:  # deleted, or the store hiccups: still count the finish
            log.debug("no workflow label for %s: %s", workflow_id, exc)
            return UNKNOWN_WORKFLOW
        return self._remember(workflow_id, workflow_label(workflow))

    def _remember(self, workflow_id: str, label: str) -> str:
        self._labels[workflow_id] = label
        self._labels.move_to_end(workflow_id)
        while len(self._labels) > _CACHE_SIZE:
            self._labels.popitem(last=False)
        return label
