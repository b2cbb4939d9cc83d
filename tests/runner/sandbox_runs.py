"""Run the interpreter in Temporal's workflow sandbox on a real server, with the real HTTP
activity, and replay what it recorded (tests named ``*_in_temporal`` and the HTTP ones)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Replayer, Worker

from stigmer_runner.activities.http_call import HttpCallActivities
from tests.runner.sandbox_workflow import InterpreterWorkflow


async def run_sandboxed(
    client: Client, payload: dict[str, Any], *, name: str, workflow_id: str | None = None
) -> tuple[Any, WorkflowHandle[Any, Any]]:
    """Run ``InterpreterWorkflow`` on ``payload`` on a task queue of its own (``name-<uuid>``,
    also the workflow id unless given); return its result and handle."""
    queue = f"{name}-{uuid.uuid4()}"
    async with httpx.AsyncClient(timeout=5) as http:
        activities = HttpCallActivities(http=http)
        async with Worker(
            client,
            task_queue=queue,
            workflows=[InterpreterWorkflow],
            activities=[activities.call],
            # A sandbox violation fails the run at once instead of retrying the task forever.
            workflow_failure_exception_types=[Exception],
        ):
            handle = await client.start_workflow(
                InterpreterWorkflow.run,
                payload,
                id=workflow_id or queue,
                task_queue=queue,
                execution_timeout=timedelta(seconds=60),
            )
            return await handle.result(), handle


async def replays(handle: WorkflowHandle[Any, Any]) -> None:
    """Replay the run's history against today's code: a nondeterminism fails the test."""
    history = await handle.fetch_history()
    await Replayer(workflows=[InterpreterWorkflow]).replay_workflow(history)
