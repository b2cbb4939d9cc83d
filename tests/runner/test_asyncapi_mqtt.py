"""``call: asyncapi`` over MQTT against a real broker (mosquitto; see tests/broker_services.py).

The interpreter runs with the real HTTP and AsyncAPI activities; the last test runs the DSL
workflow on the Temporal dev server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import aiomqtt
import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget, SubscribeRequest
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


def document(mqtt_url: str, topic: str, *, qos: int = 0, retain: bool = False) -> dict[str, Any]:
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Sensors", "version": "1.0.0"},
        "servers": {"broker": {"host": urlsplit(mqtt_url).netloc, "protocol": "mqtt"}},
        "channels": {
            "readings": {"address": topic},
            "echoes": {"address": f"{topic}/echo"},
        },
        "operations": {
            "publishReading": {
                "action": "send",
                "channel": {"$ref": "#/channels/readings"},
                "bindings": {"mqtt": {"qos": qos, "retain": retain}},
            },
            "watchReadings": {
                "action": "receive",
                "channel": {"$ref": "#/channels/readings"},
                "bindings": {"mqtt": {"qos": qos}},
            },
            "echo": {"action": "send", "channel": {"$ref": "#/channels/echoes"}},
        },
    }


@contextlib.asynccontextmanager
async def mqtt(mqtt_url: str) -> AsyncIterator[aiomqtt.Client]:
    parts = urlsplit(mqtt_url)
    async with aiomqtt.Client(parts.hostname or "127.0.0.1", parts.port or 1883) as client:
        yield client


async def publish_until_done(
    mqtt_url: str, topic: str, done: asyncio.Future[Any] | asyncio.Task[Any]
) -> int:
    """Publish n = 1, 2, ... every 50 ms until ``done``: a clean-session subscriber hears
    only what is published while its batch is subscribed, and nothing tells us when."""
    published = 0
    async with mqtt(mqtt_url) as client:
        while not done.done() and published < 400:
            published += 1
            await client.publish(topic, json.dumps({"n": published}), qos=1)
            await asyncio.sleep(0.05)
    return published


async def test_publish_honours_qos_and_retain(
    site: tuple[str, Site], mqtt_url: str, runtime: ActivityRuntime
) -> None:
    topic = f"sensors/{uuid.uuid4()}"
    url = serve(site, document(mqtt_url, topic, qos=1, retain=True))
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "operation": "publishReading",
                "message": {"payload": {"celsius": "${ .t }"}},
            }
        ),
        runtime,
        {"t": 21.5},
    )
    # Subscribing only now: the broker hands over the message because it was retained.
    async with mqtt(mqtt_url) as client:
        await client.subscribe(topic, qos=1)
        message = await asyncio.wait_for(anext(client.messages), 10)
        await client.publish(topic, b"", retain=True)  # clear the retained message
    assert output == {"payload": {"celsius": 21.5}}
    assert message.retain is True
    assert message.qos == 1
    assert json.loads(bytes(message.payload)) == {"celsius": 21.5}  # type: ignore[arg-type]


async def test_subscribe_amount_takes_two_consecutive_messages(
    site: tuple[str, Site], mqtt_url: str, runtime: ActivityRuntime
) -> None:
    topic = f"sensors/{uuid.uuid4()}"
    url = serve(site, document(mqtt_url, topic, qos=1))
    task = asyncio.create_task(
        run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "watchReadings",
                    "subscription": {
                        "filter": "${ .payload.n > 0 }",
                        "consume": {"amount": 2},
                        "foreach": {"output": {"as": "${ .payload.n }"}},
                    },
                }
            ),
            runtime,
        )
    )
    await publish_until_done(mqtt_url, topic, task)
    first, second = await asyncio.wait_for(task, 10)
    assert second == first + 1


async def test_a_persistent_session_keeps_messages_between_batches(mqtt_url: str) -> None:
    topic = f"sensors/{uuid.uuid4()}"
    target = BrokerTarget(
        protocol="mqtt",
        url=mqtt_url,
        channel=topic,
        task="task 'watch' (/do/0/watch)",
        bindings={
            "server": {"clientId": f"stigmer-{uuid.uuid4().hex[:8]}", "cleanSession": False},
            "operation": {"qos": 1},
        },
    )
    asyncapi = AsyncApiActivities()
    request = SubscribeRequest(target=target, max_seconds=20, max_messages=1)
    first_batch = asyncio.create_task(ActivityEnvironment().run(asyncapi.subscribe, request))
    await publish_until_done(mqtt_url, topic, first_batch)
    assert len((await first_batch).messages) == 1
    # No batch is running: the broker queues this QoS 1 message for the session.
    async with mqtt(mqtt_url) as client:
        await client.publish(topic, json.dumps({"n": "between"}), qos=1)
    second = await ActivityEnvironment().run(asyncapi.subscribe, request)
    assert second.messages == [json.dumps({"n": "between"})]
    assert second.headers == []


async def test_publish_and_subscribe_in_the_dsl_workflow_on_temporal(
    temporal_address: str, site: tuple[str, Site], mqtt_url: str
) -> None:
    client = await Client.connect(temporal_address)
    topic = f"sensors/{uuid.uuid4()}"
    url = serve(site, document(mqtt_url, topic, qos=1))
    watch = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "watchReadings",
            "protocol": "mqtt",
            "subscription": {"consume": {"amount": 2}},
        },
    }
    echo = {
        "call": "asyncapi",
        "with": {
            "document": {"endpoint": url},
            "operation": "echo",
            "message": {"payload": "${ map(.payload.n) }"},
        },
    }
    queue = f"asyncapi-mqtt-{uuid.uuid4()}"
    async with (
        httpx.AsyncClient(timeout=10) as http,
        Worker(client, task_queue=queue, workflows=[DslWorkflow], activities=activities(http)),
        mqtt(mqtt_url) as listener,
    ):
        await listener.subscribe(f"{topic}/echo", qos=1)
        handle = await start_dsl(client, queue, [{"watch": watch}, {"echo": echo}])
        outcome_task = asyncio.create_task(handle.result())
        await publish_until_done(mqtt_url, topic, outcome_task)
        outcome = await outcome_task
        echoed = await asyncio.wait_for(anext(listener.messages), 10)
    assert outcome.phase == "COMPLETED", outcome.error
    first, second = outcome.output["payload"]
    assert second == first + 1
    assert json.loads(bytes(echoed.payload)) == [first, second]  # type: ignore[arg-type]
