"""A workflow and an activity that make the Temporal SDK's rare metrics appear.

Their own module, importing only temporalio: the workflow sandbox re-imports the module that
defines a workflow, and a test module's imports (pytest, subprocess, httpx) do not belong there.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn(name="sdk-metrics-echo")
async def echo(mode: str) -> str:
    if mode == "activity-fails":
        raise ApplicationError("the activity fails on purpose", non_retryable=True)
    return mode


@workflow.defn(name="sdk-metrics-modes")
class Modes:
    """``mode`` picks the outcome: completes, fails, fails its workflow task, or its activity."""

    @workflow.run
    async def run(self, mode: str) -> str:
        # A timer first: concurrent runs then share the worker's one-slot cache and evict
        # each other, which the sticky-cache metrics count.
        await workflow.sleep(timedelta(milliseconds=300))
        if mode == "workflow-fails":
            raise ApplicationError("the workflow fails on purpose")
        if mode == "task-fails":
            # Not an ApplicationError: the workflow task fails and is retried, as a bug would.
            raise RuntimeError("the workflow task fails on purpose")
        if mode == "waits":
            await workflow.sleep(timedelta(minutes=5))
        return await workflow.execute_activity(
            echo,
            mode,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
