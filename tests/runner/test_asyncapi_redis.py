"""``call: asyncapi`` against a real Redis and a local HTTP server.

The AsyncAPI documents are served over HTTP by a local server that also records what
``http`` publishes receive. The first tests run the interpreter with the real HTTP and
AsyncAPI activities (in Temporal's activity environment, payloads converted as Temporal
does); the last ones run the whole DSL workflow on the Temporal dev server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
import yaml
from redis.asyncio import Redis
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from stigmer_core.temporal_contracts import DSL_WORKFLOW, ExecutionOutcome
from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.activities.http_call import HttpCallActivities
from stigmer_runner.contracts import DslRunInput
from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_PUBLISH_ACTIVITY,
    ASYNCAPI_SUBSCRIBE_ACTIVITY,
    PublishRequest,
    SubscribeRequest,
)
from stigmer_runner.dsl.contracts import ActivityCall, HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from stigmer_runner.dsl_workflow import DslWorkflow
from tests.runner.fakes import FakeRuntime

pytestmark = pytest.mark.integration

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "asyncapi", "version": "1.0.0"}


# --- a local server for documents and HTTP publishes ---------------------------------------


class _Site:
    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.posts: list[dict[str, Any]] = []


def _handler(site: _Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            body = site.documents.get(urlparse(self.path).path)
            if body is None:
                self._send(404, b"{}", "application/json")
            else:
                self._send(200, body, "application/yaml")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            site.posts.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(self.rfile.read(length) or b"null"),
                }
            )
            self._send(202, b'{"accepted": true}', "application/json")

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, _Site]]:
    """Base URL of a local server: GET serves ``site.documents``, POST is recorded."""
    state = _Site()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def serve(site: tuple[str, _Site], document: dict[str, Any]) -> str:
    """Serve ``document`` as YAML; return its URL."""
    base, state = site
    path = f"/docs/{uuid.uuid4()}.yaml"
    state.documents[path] = yaml.safe_dump(document, sort_keys=False).encode()
    return base + path


def v3(redis_url: str, channel: str, http_base: str = "http://127.0.0.1:1") -> dict[str, Any]:
    host = redis_url.split("://", 1)[1].rstrip("/")
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Pets", "version": "1.0.0"},
        "servers": {
            "events": {"host": "pets.kafka:9092", "protocol": "kafka"},
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

_CONVERTER = DataConverter.default.payload_converter


class ActivityRuntime(FakeRuntime):
    """HTTP calls and AsyncAPI activity calls run the real activities."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        super().__init__()
        self._http = HttpCallActivities(http=http)
        self._asyncapi = AsyncApiActivities()

    async def call_http(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        response: HttpResponse = await ActivityEnvironment().run(self._http.call, request)
        return response

    async def execute(self, call: ActivityCall) -> Any:
        activities: dict[str, tuple[Any, type[Any]]] = {
            ASYNCAPI_PUBLISH_ACTIVITY: (self._asyncapi.publish, PublishRequest),
            ASYNCAPI_SUBSCRIBE_ACTIVITY: (self._asyncapi.subscribe, SubscribeRequest),
        }
        function, kind = activities[call.name]
        # Through Temporal's converter, as the workflow's activity call would be.
        (argument,) = _CONVERTER.from_payloads(_CONVERTER.to_payloads([call.payload]), [kind])
        try:
            result = await ActivityEnvironment().run(function, argument)
        except ApplicationError as err:
            raise WorkflowError(err.details[0]) from err
        (plain,) = _CONVERTER.from_payloads(_CONVERTER.to_payloads([result]))
        return plain


@pytest.fixture
async def runtime() -> AsyncIterator[ActivityRuntime]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield ActivityRuntime(http)


def workflow(with_: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    task = {"call": "asyncapi", "with": with_}
    return {"document": dict(HEADER), "do": [*(extra or []), {"pets": task}]}


async def run(document: dict[str, Any], runtime: ActivityRuntime, given: Any = None) -> Any:
    return await Interpreter(document, runtime=runtime).run({} if given is None else given)


async def subscribed(redis: Redis, channel: str) -> None:
    """Wait until someone subscribes to ``channel`` (the task's activity)."""
    for _ in range(500):
        counts = await redis.pubsub_numsub(channel)
        if counts and counts[0][1] > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody subscribed to {channel}")


async def test_publish_reaches_a_redis_subscriber(
    site: tuple[str, _Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
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
    site: tuple[str, _Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
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
    site: tuple[str, _Site], redis_url: str, redis: Redis, runtime: ActivityRuntime
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
    site: tuple[str, _Site], redis_url: str, runtime: ActivityRuntime
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


async def test_kafka_is_a_configuration_error_naming_the_protocol(
    site: tuple[str, _Site], redis_url: str, runtime: ActivityRuntime
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
        "asyncapi over kafka (server 'events') is not supported" in caught.value.problem["detail"]
    )


async def test_an_unreachable_redis_is_a_communication_error(
    site: tuple[str, _Site], runtime: ActivityRuntime
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
    temporal_address: str, site: tuple[str, _Site], redis_url: str, redis: Redis
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
