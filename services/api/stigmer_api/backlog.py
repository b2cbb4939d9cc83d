"""Sampling the runner queue's backlog from Temporal into `stigmer_task_queue_backlog`.

One DescribeTaskQueue call in enhanced mode with `report_stats` covers the workflow and the
activity side of the queue (DSL workflow tasks and task activities). The counts are
Temporal's approximations; every API replica reports the same queue, so aggregate with max.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from temporalio.api.enums.v1 import DescribeTaskQueueMode, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse
from temporalio.service import RPCError

from stigmer_api.dispatch import Dispatcher
from stigmer_api.metrics import TASK_QUEUE_BACKLOG, TASK_QUEUE_BACKLOG_AGE

log = logging.getLogger(__name__)

QUEUE_TYPES = {
    TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW: "workflow",
    TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY: "activity",
}


@dataclass(frozen=True)
class Backlog:
    queue_type: str
    count: int
    age_seconds: float


def describe_request(namespace: str, task_queue: str) -> DescribeTaskQueueRequest:
    return DescribeTaskQueueRequest(
        namespace=namespace,
        task_queue=TaskQueue(name=task_queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        api_mode=DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
        report_stats=True,
        task_queue_types=list(QUEUE_TYPES),
    )


def backlogs(response: DescribeTaskQueueResponse) -> list[Backlog]:
    """Backlog per queue type, summed over the queue's build versions (Stigmer's workers are
    unversioned, so there is one), oldest task's age the largest of them."""
    counts = dict.fromkeys(QUEUE_TYPES.values(), 0)
    ages = dict.fromkeys(QUEUE_TYPES.values(), 0.0)
    for version in response.versions_info.values():
        for queue_type, info in version.types_info.items():
            name = QUEUE_TYPES.get(queue_type)  # type: ignore[call-overload]
            if name is None:
                continue
            counts[name] += info.stats.approximate_backlog_count
            age = info.stats.approximate_backlog_age.ToTimedelta().total_seconds()
            ages[name] = max(ages[name], age)
    return [Backlog(queue_type=n, count=counts[n], age_seconds=ages[n]) for n in counts]


class BacklogSampler:
    def __init__(self, *, dispatcher: Dispatcher, namespace: str, task_queue: str) -> None:
        self._dispatcher = dispatcher
        self._namespace = namespace
        self._task_queue = task_queue

    async def sample(self) -> bool:
        """Update the gauges; False (and the gauges removed: unknown, not stale) when
        Temporal cannot tell."""
        client = self._dispatcher.client
        if client is not None:
            try:
                response = await client.workflow_service.describe_task_queue(
                    describe_request(self._namespace, self._task_queue),
                    timeout=timedelta(seconds=5),
                )
            except RPCError as exc:
                log.debug("could not describe task queue %s: %s", self._task_queue, exc)
            else:
                for backlog in backlogs(response):
                    labels = {"task_queue": self._task_queue, "queue_type": backlog.queue_type}
                    TASK_QUEUE_BACKLOG.labels(**labels).set(backlog.count)
                    TASK_QUEUE_BACKLOG_AGE.labels(**labels).set(backlog.age_seconds)
                return True
        for queue_type in QUEUE_TYPES.values():
            for gauge in (TASK_QUEUE_BACKLOG, TASK_QUEUE_BACKLOG_AGE):
                with contextlib.suppress(KeyError):  # never set
                    gauge.remove(self._task_queue, queue_type)
        return False


async def sample_forever(sampler: BacklogSampler, *, interval: float) -> None:
    while True:
        try:
            await sampler.sample()
        except Exception:  # the sampler must outlive surprises; the next round retries
            log.exception("backlog sampling failed")
        await asyncio.sleep(interval)
