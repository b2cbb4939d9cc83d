"""``call: asyncapi`` against a real Redis and a local HTTP server.

The AsyncAPI documents are served over HTTP by a local server that also records what
``http`` publishes receive. The first tests run the interpreter with the real HTTP and
AsyncAPI activities (in Temporal's activity environment, payloads converted as Temporal
does); the last ones run the whole DSL workflow on the Temporal dev server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from temporalio.client import Client
from temporalio.worker import Worker

from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl_workflow import DslWorkflow
from tests.runner.asyncapi_support import (
    HEADER,
    ActivityRuntime,
    Site,
    run,
    serve,
    serve_site,
    workflow,
)

pytestmark = pytest.mark.integration


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Site]]:
    """Base URL of a local server: GET serves ``site.documents``, POST is recorded."""
    with serve_site() as served:
        yield served


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def v3(redis_url: str, channel: str, http_base: str = "http://127.0.0.1:1") -> dict[str, Any]:
    host = redis_url.split("://", 1)[1].rstrip("/")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Pets", "version": "1.0.0"},
        "servers": {
            "events": {"host": "pets.stomp:61613", "protocol": "stomp"},
            "cache": {"host": host, "protocol": "redis"},
            "web": {"host": http_base.split("://", 1)[1], "protocol": "http"},
        },
        "channels": {
            "pets": {"address": channel},
            "hooks": {"address": "/hooks/pets", "servers": [{"$ref": "#/servers/web"}]},
        },
        "operations": {
            "publishPet": {"action": "send", "channel": {"$ref": "#/channels/pets"}},
            "watchPets": {"action": "receive", "channel": {"$ref": "#/channels/pets"}},
            "postPet": {"action": "send", "channel": {"$ref": "#/channels/hooks"}},
        },
    }


def v26(redis_url: str, channel: str) -> dict[str, Any]:
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "Pets", "version": "1.0.0"},
        "servers": {"cache": {"url": redis_url, "protocol": "redis"}},
        "channels": {channel: {"subscribe": {"operationId": "watchPets"}}},
    }


# --- the interpreter with the real activities ----------------------------------------------


@pytest.fixture
async def runtime() -> AsyncIterator[ActivityRuntime]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield ActivityRuntime(http)


async def subscribed(redis: Redis, channel: str) -> None:
    """Wait until someone subscribes to ``channel`` (the task's activity)."""
    for _ in range(500):
        counts = await redis.pubsub_numsub(channel)
        if counts and counts[0][1] > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody subscribed to {channel}")


async def test_publish_reaches_a_redis_subscriber(
    site: tuple[str, Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
) -> None:
    channel = f"pets-{uuid.uuid4()}"
    url = serve(site, v3(redis_url, channel))
    listener = redis.pubsub()
    await listener.subscribe(channel)
    try:
        output = await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "publishPet",
                    "protocol": "redis",
                    "message": {"payload": {"petId": "${ .pet.id }"}},
                }
            ),
            runtime,
            {"pet": {"id": 42}},
        )
        message = None
        for _ in range(50):
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                break
    finally:
        await listener.aclose()
    assert output == {"payload": {"petId": 42}}
    assert message is not None
    assert json.loads(message["data"]) == {"petId": 42}


async def test_subscribe_amount_two_of_three_published(
    site: tuple[str, Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
) -> None:
    channel = f"pets-{uuid.uuid4()}"
    url = serve(site, v3(redis_url, channel))
    task = asyncio.create_task(
        run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "watchPets",
                    "server": {"name": "cache"},
                    "subscription": {"consume": {"amount": 2}},
                }
            ),
            runtime,
        )
    )
    await subscribed(redis, channel)
    for n in (1, 2, 3):
        await redis.publish(channel, json.dumps({"n": n}))
    output = await asyncio.wait_for(task, 10)
    assert output == [{"payload": {"n": 1}}, {"payload": {"n": 2}}]


async def test_subscribe_until_with_filter_foreach_and_a_2_6_document(
    site: tuple[str, Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
) -> None:
    channel = f"/pets/{uuid.uuid4()}"
    url = serve(site, v26(redis_url, channel))
    document = workflow(
        {
            "document": {"endpoint": url},
            "channel": channel,
            "subscription": {
                "filter": "${ .payload.n % 2 == 1 }",
                "consume": {
                    "until": "${ ($context.consumedMessages | length) == $context.wanted }",
                    "for": {"seconds": 20},
                },
                "foreach": {"item": "pet", "output": {"as": "${ $pet.payload.n * 10 + $index }"}},
            },
        },
        extra=[{"want": {"set": {"wanted": 3}, "export": {"as": "."}}}],
    )
    task = asyncio.create_task(run(document, runtime))
    published = 0
    # One at a time while a subscription is live: Redis pub/sub drops what nobody hears.
    while not task.done() and published < 20:
        await subscribed(redis, channel)
        published += 1
        await redis.publish(channel, json.dumps({"n": published}))
        await asyncio.sleep(0.01)
    output = await asyncio.wait_for(task, 10)
    assert output == [10, 31, 52]  # n = 1, 3, 5 at index 0, 1, 2


async def test_http_publish_posts_to_the_server_url_and_channel_address(
    site: tuple[str, Site], redis_url: str, runtime: ActivityRuntime
) -> None:
    base, state = site
    url = serve(site, v3(redis_url, "unused", http_base=base))
    output = await run(
        workflow(
            {
                "document": {"endpoint": url},
                "operation": "postPet",
                "message": {"payload": {"name": "Rex"}, "headers": {"x-trace": "t-1"}},
                "authentication": {"basic": {"username": "u", "password": "p"}},
            }
        ),
        runtime,
    )
    assert output == {"payload": {"name": "Rex"}, "headers": {"x-trace": "t-1"}}
    post = state.posts[-1]
    assert post["path"] == "/hooks/pets"
    assert post["body"] == {"name": "Rex"}
    assert post["headers"]["x-trace"] == "t-1"
    assert post["headers"]["authorization"] == "Basic dTpw"


async def test_an_unsupported_protocol_is_a_configuration_error_naming_it(
    site: tuple[str, Site], redis_url: str, runtime: ActivityRuntime
) -> None:
    url = serve(site, v3(redis_url, "pets"))
    with pytest.raises(WorkflowError) as caught:
        await run(
            workflow(
                {
                    "document": {"endpoint": url},
                    "operation": "publishPet",
                    "message": {"payload": {}},
                }
            ),
            runtime,
        )
    assert caught.value.problem["type"] == ErrorType.CONFIGURATION
    assert (
        "asyncapi over stomp (server 'events') is not supported" in caught.value.problem["detail"]
    )


async def test_an_unreachable_redis_is_a_communication_error(
    site: tuple[str, Site], runtime: ActivityRuntime
) -> None:
    url = serve(site, v26("redis://127.0.0.1:1", "pets"))
    with pytest.raises(WorkflowError) as caught:
        await run(
            workflow({"document": {"endpoint": url}, "channel": "pets", "message": {"payload": 1}}),
            runtime,
        )
    assert caught.value.problem["type"] == ErrorType.COMMUNICATION
    assert "cannot publish to Redis channel 'pets'" in caught.value.problem["detail"]


# --- the DSL workflow on Temporal ------------------------------------------------------------


async def test_publish_and_subscribe_in_the_dsl_workflow_on_temporal(
    temporal_address: str, site: tuple[str, Site], redis_url: str, redis: Redis
) -> None:
    client = await Client.connect(temporal_address)
    channel = f"pets-{uuid.uuid4()}"
    url = serve(site, v3(redis_url, channel))
    document = {
        "document": dict(HEADER),
        "do": [
            {
                "watch": {
                    "call": "asyncapi",
                    "with": {
                        "document": {"endpoint": url},
                        "operation": "watchPets",
                        "protocol": "redis",
                        "subscription": {"consume": {"amount": 2}},
                    },
                }
            },
            {
                "echo": {
                    "call": "asyncapi",
                    "with": {
                        "document": {"endpoint": url},
                        "operation": "publishPet",
                        "protocol": "redis",
                        "message": {"payload": "${ map(.payload.n) }"},
                    },
                }
            },
        ],
    }
    queue = f"asyncapi-{uuid.uuid4()}"
    asyncapi = AsyncApiActivities()
    listener = redis.pubsub()
    await listener.subscribe(channel)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        Worker(
            client,
            task_queue=queue,
            workflows=[DslWorkflow],
            activities=[HttpCallActivities(http=http).call, asyncapi.publish, asyncapi.subscribe],
        ),
    ):
        handle = await client.start_workflow(
            DSL_WORKFLOW,
            DslRunInput(
                execution_id=f"exec-{uuid.uuid4()}",
                workflow_id="wf-asyncapi",
                document=document,
                input={},
                child=True,  # no status reports: this test has no API to report to
            ),
            id=f"asyncapi-{uuid.uuid4()}",
            task_queue=queue,
            result_type=ExecutionOutcome,
            execution_timeout=timedelta(seconds=60),
        )
        # The test's own listener counts too: wait for a second subscriber (the task).
        for _ in range(500):
            counts = await redis.pubsub_numsub(channel)
            if counts and counts[0][1] > 1:
                break
            await asyncio.sleep(0.02)
        for n in (1, 2, 3):
            await redis.publish(channel, json.dumps({"n": n}))
        outcome: ExecutionOutcome = await handle.result()
    echoed = []
    try:
        for _ in range(100):
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                echoed.append(json.loads(message["data"]))
            if len(echoed) == 4:
                break
    finally:
        await listener.aclose()
    assert outcome.phase == "COMPLETED", outcome.error
    assert outcome.output == {"payload": [1, 2]}
    assert echoed == [{"n": 1}, {"n": 2}, {"n": 3}, [1, 2]]
