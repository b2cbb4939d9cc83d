"""Reading a runner queue's load from Temporal: backlog per queue type, and work in flight.

Per poll it makes ``len(queueTypes) + 1`` calls: one DescribeTaskQueue with stats per queue
type (the approximate backlog count and age), and one CountWorkflowExecutions.

**Work in flight** comes from the number of *running* workflow executions whose task queue
is the runner queue (a visibility count). In Stigmer every execution in progress is one DSL
workflow on that queue, and every task activity it runs is on that queue too, so the count
covers all work a runner may be holding. An execution whose next task waits in the queue is
already counted by the backlog (a queued execution is "running" to Temporal before any
worker has seen it), so in flight is ``max(0, running - backlog)`` and the load
``backlog + in_flight`` counts each execution once. It over-counts executions that are waiting on a
timer or an event (they hold no slot); that errs on the side of keeping a runner, which is
the property that matters: never scale below the work in flight. Worker slot usage read
from the pollers would be tighter, but DescribeTaskQueue reports pollers without their
slots, and scraping every runner pod needs pod access and misses pods that just died.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from stigmer_operator.spec import TemporalQueue

_QUEUE_TYPES: dict[str, TaskQueueType.ValueType] = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


class TemporalUnreachableError(Exception):
    """Temporal did not answer (or refused): the load is unknown, not zero."""


@dataclass(frozen=True)
class QueueLoad:
    backlog: dict[str, int]
    """Approximate number of tasks waiting, per queue type."""
    backlog_age_seconds: float
    """Age of the oldest waiting task over the queue types (0 with no backlog)."""
    running: int
    """Running workflow executions on the queue (visibility count)."""
    in_flight: int
    """Running executions not accounted for by the backlog: ``max(0, running - backlog)``."""
    calls: int
    """Temporal API calls this reading made."""


Connect = Callable[[str, str], Awaitable[Client]]


class TemporalClients:
    """One Temporal client per (address, namespace), opened on first use and kept: every
    resource naming the same frontend shares a connection."""

    def __init__(self, *, connect: Connect | None = None) -> None:
        self._connect = connect or _connect
        self._clients: dict[tuple[str, str], Client] = {}

    async def get(self, address: str, namespace: str) -> Client:
        key = (address, namespace)
        if key not in self._clients:
            self._clients[key] = await self._connect(address, namespace)
        return self._clients[key]

    def forget(self, address: str, namespace: str) -> None:
        """Drop a client whose connection failed, so the next poll dials again."""
        self._clients.pop((address, namespace), None)


async def _connect(address: str, namespace: str) -> Client:
    return await Client.connect(address, namespace=namespace)


def in_flight_query(task_queue: str) -> str:
    """The visibility query of the running executions on ``task_queue``."""
    quoted = task_queue.replace("\\", "\\\\").replace("'", "\\'")
    return f"TaskQueue = '{quoted}' AND ExecutionStatus = 'Running'"


async def read_queue_load(clients: TemporalClients, queue: TemporalQueue) -> QueueLoad:
    """Backlog per queue type and work in flight on ``queue``; raises
    `TemporalUnreachableError` when any part cannot be read (partial data is no data)."""
    try:
        client = await clients.get(queue.address, queue.namespace)
    except (RuntimeError, RPCError, OSError) as exc:
        raise TemporalUnreachableError(f"cannot connect to {queue.address}: {exc}") from exc
    backlog: dict[str, int] = {}
    age = 0.0
    calls = 0
    try:
        for queue_type in queue.queue_types:
            calls += 1
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=queue.namespace,
                    task_queue=TaskQueue(
                        name=queue.task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL
                    ),
                    task_queue_type=_QUEUE_TYPES[queue_type],
                    report_stats=True,
                )
            )
            backlog[queue_type] = int(response.stats.approximate_backlog_count)
            age = max(age, response.stats.approximate_backlog_age.ToTimedelta().total_seconds())
        calls += 1
        counted = await client.count_workflows(in_flight_query(queue.task_queue))
    except RPCError as exc:
        clients.forget(queue.address, queue.namespace)
        raise TemporalUnreachableError(
            f"Temporal at {queue.address} failed: {exc.status.name} {exc.message}"
        ) from exc
    running = counted.count
    return QueueLoad(
        backlog=backlog,
        backlog_age_seconds=age,
        running=running,
        in_flight=max(0, running - sum(backlog.values())),
        calls=calls,
    )
