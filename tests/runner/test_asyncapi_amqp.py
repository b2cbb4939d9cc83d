"""``call: asyncapi`` over AMQP 0-9-1 against a real broker (RabbitMQ; see
tests/broker_services.py).

The interpreter runs with the real HTTP and AsyncAPI activities; the last test runs the DSL
workflow on the Temporal dev server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_runner.dsl.errors import ErrorType, WorkflowError
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


@pytest.fixture
async def channel(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel of the test's own on the broker."""
    connection = await aio_pika.connect(amqp_url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


def document(amqp_url: str, key: str, exchange: str, queue: str) -> dict[str, Any]:
    """Orders on a topic exchange: ``orders`` routes by ``key`` into the durable ``queue``;
    ``jobs`` is a queue channel (default exchange)."""
    host = urlsplit(amqp_url).netloc.rpartition("@")[2]
    binding = {
        "is": "routingKey",
        "exchange": {"name": exchange, "type": "topic", "durable": False, "autoDelete": True},
        "queue": {"name": queue, "durable": True, "autoDelete": False},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Orders", "version": "1.0.0"},
        "servers": {"rabbit": {"host": host, "protocol": "amqp"}},
        "channels": {
            "orders": {"address": key, "bindings": {"amqp": binding}},
            "jobs": {"address": f"{queue}.jobs", "bindings": {"amqp": {"is": "queue"}}},
        },
        "operations": {
            "placeOrder": {
                "action": "send",
                "channel": {"$ref": "#/channels/orders"},
                "bindings": {"amqp": {"deliveryMode": 2, "priority": 3}},
            },
            "takeOrders": {"action": "receive", "channel": {"$ref": "#/channels/orders"}},
            "queueJob": {"action": "send", "channel": {"$ref": "#/channels/jobs"}},
        },
    }


async def orders_queue(
    channel: AbstractChannel, exchange: str, queue: str, key: str
) -> AbstractQueue:
    """Declare what the document describes, as a service that owns it would."""
    declared = await channel.declare_exchange(
        exchange, aio_pika.ExchangeType.TOPIC, durable=False, auto_delete=True
    )
    bound = await channel.declare_queue(queue, durable=True)
    await bound.bind(declared, routing_key=key)
    return bound


def names() -> tuple[str, str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"orders.{suffix}.created", f"shop-{suffix}", f"orders-{suffix}"


async def test_publish_routes_through_the_exchange_with_headers_and_binding(
    site: tuple[str, Site], amqp_url: str, channel: AbstractChannel, runtime: ActivityRuntime
) -> None:
    key, exchange, queue = names()
    bound = await orders_queue(channel, exchange, queue, key)
    url = serve(site, document(amqp_url, key, exchange, queue))
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "operation": "placeOrder",
                "message": {"payload": {"id": "${ .id }"}, "headers": {"x-trace": "t-1"}},
                "authentication": {"basic": {"username": "guest", "password": "guest"}},
            }
        ),
        runtime,
        {"id": 7},
    )
    message = await bound.get(timeout=5, fail=True)
    assert message is not None
    await message.ack()
    await bound.delete(if_unused=False, if_empty=False)
    assert output == {"payload": {"id": 7}, "headers": {"x-trace": "t-1"}}
    assert json.loads(message.body) == {"id": 7}
    assert message.headers == {"x-trace": "t-1"}
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.priority == 3


async def test_subscribe_takes_only_the_amount_and_leaves_the_rest_queued(
    site: tuple[str, Site], amqp_url: str, channel: AbstractChannel, runtime: ActivityRuntime
) -> None:
    key, exchange, queue = names()
    bound = await orders_queue(channel, exchange, queue, key)
    topic = await channel.get_exchange(exchange)
    for n in (1, 2, 3):
        await topic.publish(
            aio_pika.Message(json.dumps({"n": n}).encode(), headers={"seq": n}), routing_key=key
        )
    url = serve(site, document(amqp_url, key, exchange, queue))
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "operation": "takeOrders",
                "subscription": {"consume": {"amount": 2}},
            }
        ),
        runtime,
    )
    left = await channel.declare_queue(queue, passive=True)
    count = left.declaration_result.message_count
    third = await bound.get(timeout=5, fail=True)
    assert third is not None
    await third.ack()
    await bound.delete(if_unused=False, if_empty=False)
    assert output == [
        {"payload": {"n": 1}, "headers": {"seq": "1"}},
        {"payload": {"n": 2}, "headers": {"seq": "2"}},
    ]
    assert count == 1
    assert json.loads(third.body) == {"n": 3}


async def test_until_on_a_queue_channel_that_kept_messages_published_before_it(
    site: tuple[str, Site], amqp_url: str, channel: AbstractChannel, runtime: ActivityRuntime
) -> None:
    key, exchange, queue = names()
    url = serve(site, document(amqp_url, key, exchange, queue))
    jobs = f"{queue}.jobs"
    for n in (1, 2):  # the task's publish declares nothing: the queue must exist already
        if n == 1:
            await channel.declare_queue(jobs, durable=True)
        await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "queueJob",
                    "message": {"payload": {"n": n}},
                }
            ),
            runtime,
        )
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "channel": "jobs",
                "subscription": {
                    "consume": {"until": "${ length == 2 }", "for": {"seconds": 20}},
                    "foreach": {"output": {"as": "${ .payload.n }"}},
                },
            }
        ),
        runtime,
    )
    await channel.queue_delete(jobs)
    assert output == [1, 2]


async def test_refused_credentials_are_an_authentication_error(
    site: tuple[str, Site], amqp_url: str, runtime: ActivityRuntime
) -> None:
    key, exchange, queue = names()
    url = serve(site, document(amqp_url, key, exchange, queue))
    with pytest.raises(WorkflowError) as caught:
        await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "placeOrder",
                    "message": {"payload": 1},
                    "authentication": {"basic": {"username": "guest", "password": "wrong"}},
                }
            ),
            runtime,
        )
    assert caught.value.problem["type"] == ErrorType.AUTHENTICATION
    assert "cannot publish to AMQP channel" in caught.value.problem["detail"]
    assert "wrong" not in caught.value.problem["detail"]


async def test_a_queue_declared_otherwise_is_a_configuration_error(
    site: tuple[str, Site], amqp_url: str, channel: AbstractChannel, runtime: ActivityRuntime
) -> None:
    key, exchange, queue = names()
    await channel.declare_queue(queue, durable=False, auto_delete=True)
    url = serve(site, document(amqp_url, key, exchange, queue))
    with pytest.raises(WorkflowError) as caught:
        await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "takeOrders",
                    "subscription": {"consume": {"amount": 1}},
                }
            ),
            runtime,
        )
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert "refused the binding's exchange or queue" in caught.value.problem["detail"]


async def test_publish_and_subscribe_in_the_dsl_workflow_on_temporal(
    temporal_address: str, site: tuple[str, Site], amqp_url: str, channel: AbstractChannel
) -> None:
    client = await Client.connect(temporal_address)
    key, exchange, queue = names()
    bound = await orders_queue(channel, exchange, queue, key)
    jobs = await channel.declare_queue(f"{queue}.jobs", durable=True)
    topic = await channel.get_exchange(exchange)
    for n in (1, 2, 3):
        await topic.publish(aio_pika.Message(json.dumps({"n": n}).encode()), routing_key=key)
    url = serve(site, document(amqp_url, key, exchange, queue))
    take = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "takeOrders",
            "protocol": "amqp",
            "subscription": {"consume": {"amount": 2}},
        },
    }
    forward = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "queueJob",
            "message": {"payload": "${ map(.payload.n) }", "headers": {"source": "orders"}},
        },
    }
    queue_name = f"asyncapi-amqp-{uuid.uuid4()}"
    async with (
        httpx.AsyncClient(timeout=10) as http,
        Worker(client, task_queue=queue_name, workflows=[DslWorkflow], activities=activities(http)),
    ):
        handle = await start_dsl(client, queue_name, [{"take": take}, {"forward": forward}])
        outcome = await handle.result()
    forwarded = await jobs.get(timeout=5, fail=True)
    assert forwarded is not None
    await forwarded.ack()
    remaining = (await channel.declare_queue(queue, passive=True)).declaration_result.message_count
    await jobs.delete(if_unused=False, if_empty=False)
    await bound.delete(if_unused=False, if_empty=False)
    assert outcome.phase == "COMPLETED", outcome.error
    assert outcome.output == {"payload": [1, 2], "headers": {"source": "orders"}}
    assert json.loads(forwarded.body) == [1, 2]
    assert forwarded.headers == {"source": "orders"}
    assert remaining == 1
