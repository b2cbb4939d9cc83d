"""``call: asyncapi`` over Kafka against a real broker (a single KRaft node; see
tests/broker_services.py).

The interpreter runs with the real HTTP and AsyncAPI activities; the last test runs the DSL
workflow on the Temporal dev server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_runner.dsl_workflow import DslWorkflow
from tests.runner.asyncapi_support import (
    ActivityRuntime,
    Site,
    activities,
    run,
    serve,
    serve_site,
    start_dsl,
    workflow,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Site]]:
    with serve_site() as served:
        yield served


@pytest.fixture
async def runtime() -> AsyncIterator[ActivityRuntime]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield ActivityRuntime(http)


def document(bootstrap: str, topic: str, group: str) -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Payments", "version": "1.0.0"},
        "servers": {"cluster": {"host": bootstrap, "protocol": "kafka"}},
        "channels": {
            "payments": {"address": "payments", "bindings": {"kafka": {"topic": topic}}},
            "receipts": {"address": f"{topic}.receipts"},
        },
        "operations": {
            "pay": {"action": "send", "channel": {"$ref": "#/channels/payments"}},
            "settle": {
                "action": "receive",
                "channel": {"$ref": "#/channels/payments"},
                "bindings": {"kafka": {"groupId": {"type": "string", "enum": [group]}}},
            },
            "tail": {"action": "receive", "channel": {"$ref": "#/channels/payments"}},
            "receipt": {"action": "send", "channel": {"$ref": "#/channels/receipts"}},
        },
    }


def names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"payments-{suffix}", f"settlers-{suffix}"


async def produce(bootstrap: str, topic: str, *values: Any) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, json.dumps(value).encode())
    finally:
        await producer.stop()


async def read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    """The first ``count`` records of ``topic`` (value and headers)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_publish_sends_value_and_headers_to_the_binding_topic(
    site: tuple[str, Site], kafka_bootstrap: str, runtime: ActivityRuntime
) -> None:
    topic, group = names()
    url = serve(site, document(kafka_bootstrap, topic, group))
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "operation": "pay",
                "message": {"payload": {"cents": "${ .cents }"}, "headers": {"x-trace": "t-1"}},
            }
        ),
        runtime,
        {"cents": 1250},
    )
    (record,) = await read_all(kafka_bootstrap, topic, 1)
    assert output == {"payload": {"cents": 1250}, "headers": {"x-trace": "t-1"}}
    assert json.loads(record.value) == {"cents": 1250}
    assert list(record.headers) == [("x-trace", b"t-1")]


async def test_a_consumer_group_commits_exactly_what_each_subscription_took(
    site: tuple[str, Site], kafka_bootstrap: str, runtime: ActivityRuntime
) -> None:
    topic, group = names()
    await produce(kafka_bootstrap, topic, {"n": 1}, {"n": 2}, {"n": 3})
    url = serve(site, document(kafka_bootstrap, topic, group))

    async def settle(amount: int) -> Any:
        return await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "settle",
                    "subscription": {
                        "consume": {"amount": amount},
                        "foreach": {"output": {"as": "${ .payload.n }"}},
                    },
                }
            ),
            runtime,
        )

    first = await settle(2)
    second = await settle(1)
    assert first == [1, 2]
    assert second == [3]


async def test_without_a_group_until_reads_what_is_published_while_subscribed(
    site: tuple[str, Site], kafka_bootstrap: str, runtime: ActivityRuntime
) -> None:
    topic, group = names()
    await produce(kafka_bootstrap, topic, {"n": 0})  # before: not seen
    url = serve(site, document(kafka_bootstrap, topic, group))
    task = asyncio.create_task(
        run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "tail",
                    "subscription": {
                        "consume": {"until": "${ length == 2 }", "for": {"seconds": 30}},
                        "foreach": {"output": {"as": "${ .payload.n }"}},
                    },
                }
            ),
            runtime,
        )
    )
    n = 0
    # Nothing tells when the batch's consumer has its position: publish until it is done.
    while not task.done() and n < 200:
        n += 1
        await produce(kafka_bootstrap, topic, {"n": n})
        await asyncio.sleep(0.1)
    first, second = await asyncio.wait_for(task, 10)
    assert first > 0
    assert second == first + 1


async def test_publish_and_subscribe_in_the_dsl_workflow_on_temporal(
    temporal_address: str, site: tuple[str, Site], kafka_bootstrap: str
) -> None:
    client = await Client.connect(temporal_address)
    topic, group = names()
    await produce(kafka_bootstrap, topic, {"n": 1}, {"n": 2}, {"n": 3})
    url = serve(site, document(kafka_bootstrap, topic, group))
    settle = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "settle",
            "protocol": "kafka",
            "subscription": {"consume": {"amount": 2}},
        },
    }
    receipt = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "receipt",
            "message": {"payload": "${ map(.payload.n) }", "headers": {"source": "settle"}},
        },
    }
    queue = f"asyncapi-kafka-{uuid.uuid4()}"
    async with (
        httpx.AsyncClient(timeout=10) as http,
        Worker(client, task_queue=queue, workflows=[DslWorkflow], activities=activities(http)),
    ):
        handle = await start_dsl(client, queue, [{"settle": settle}, {"receipt": receipt}])
        outcome = await handle.result()
    (record,) = await read_all(kafka_bootstrap, f"{topic}.receipts", 1)
    assert outcome.phase == "COMPLETED", outcome.error
    assert outcome.output == {"payload": [1, 2], "headers": {"source": "settle"}}
    assert json.loads(record.value) == [1, 2]
    assert list(record.headers) == [("source", b"settle")]
