"""Backlog and in-flight reading against a real Temporal server.

Executions are started on a fresh task queue that nobody polls: the workflow backlog grows
with them. A worker then starts: the backlog drains, and the executions (which wait for a
signal, as long DSL executions do) show up as work in flight until they are released.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_operator.queue_load import (
    QueueLoad,
    TemporalClients,
    TemporalUnreachableError,
    in_flight_query,
    read_queue_load,
)
from stigmer_operator.spec import TemporalQueue
from tests.operator.hold_workflow import HoldWorkflow

pytestmark = pytest.mark.integration

EXECUTIONS = 6


async def until(
    read: Callable[[], Awaitable[QueueLoad]], ok: Callable[[QueueLoad], bool], timeout: float
) -> QueueLoad:
    """Poll ``read`` until ``ok`` (Temporal's stats and visibility are eventually consistent)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        load = await read()
        if ok(load) or asyncio.get_running_loop().time() > deadline:
            return load
        await asyncio.sleep(0.5)


async def test_backlog_grows_without_worker_and_drains_with_one(temporal_address: str) -> None:
    client = await Client.connect(temporal_address)
    task_queue = f"operator-test-{uuid.uuid4().hex[:10]}"
    queue = TemporalQueue(address=temporal_address, namespace="default", task_queue=task_queue)
    clients = TemporalClients()

    async def read() -> QueueLoad:
        return await read_queue_load(clients, queue)

    empty = await read()
    assert empty.backlog == {"workflow": 0, "activity": 0}
    assert empty.calls == 3  # one DescribeTaskQueue per queue type + one count

    ids = [f"{task_queue}-{i}" for i in range(EXECUTIONS)]
    for workflow_id in ids:
        await client.start_workflow(HoldWorkflow.run, id=workflow_id, task_queue=task_queue)

    queued = await until(read, lambda load: load.backlog["workflow"] >= EXECUTIONS, 20)
    assert queued.backlog["workflow"] == EXECUTIONS
    assert queued.backlog["activity"] == 0
    assert queued.backlog_age_seconds > 0
    # Started but not picked up: running to Temporal, yet counted once, as backlog.
    assert queued.running == EXECUTIONS
    assert queued.in_flight == 0

    async with Worker(client, task_queue=task_queue, workflows=[HoldWorkflow]):
        drained = await until(read, lambda load: load.backlog["workflow"] == 0, 30)
        assert drained.backlog["workflow"] == 0
        # The backlog is gone but the executions still run: this is what holds replicas.
        assert drained.in_flight == EXECUTIONS

        for workflow_id in ids:
            await client.get_workflow_handle(workflow_id).signal(HoldWorkflow.release)
        for workflow_id in ids:
            assert await client.get_workflow_handle(workflow_id).result() == "released"
        finished = await until(read, lambda load: load.running == 0, 20)
        assert (finished.running, finished.in_flight) == (0, 0)


async def test_unreachable_temporal_is_an_error_not_zero() -> None:
    # A port nothing listens on: the reading fails rather than reporting an empty queue.
    queue = TemporalQueue(address="127.0.0.1:9", namespace="default", task_queue="any")
    with pytest.raises(TemporalUnreachableError):
        await asyncio.wait_for(read_queue_load(TemporalClients(), queue), 30)


def test_in_flight_query_quotes_the_queue_name() -> None:
    assert in_flight_query("a'b") == "TaskQueue = 'a\\'b' AND ExecutionStatus = 'Running'"
