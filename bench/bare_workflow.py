"""The bare Temporal path: one workflow whose only step is one activity on another queue.

It is the smallest Temporal program shaped like a Stigmer execution (a workflow on one
queue handing work to a worker on another), so the difference between the two paths is
what Stigmer adds on top of Temporal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

BARE_WORKFLOW = "bench/bare"
BARE_ACTIVITY = "bench/echo"


@dataclass
class BareInput:
    activity_queue: str
    value: int


@activity.defn(name=BARE_ACTIVITY)
async def echo(value: int) -> dict[str, Any]:
    """Return a small dict, like a one-task `set` workflow's output."""
    return {"done": True, "value": value}


@workflow.defn(name=BARE_WORKFLOW)
class BareWorkflow:
    @workflow.run
    async def run(self, request: BareInput) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            BARE_ACTIVITY,
            request.value,
            task_queue=request.activity_queue,
            result_type=dict,
            start_to_close_timeout=timedelta(seconds=30),
        )
        return result
