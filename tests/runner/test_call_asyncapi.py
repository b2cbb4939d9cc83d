"""``call: asyncapi`` through the interpreter with an in-memory runtime.

The AsyncAPI document comes from a faked HTTP call; publish and subscribe activity calls
are recorded and answered from canned batches, so these tests pin document resolution,
argument checks and the consumption policy without a broker (see test_asyncapi_redis.py
for the real Redis and HTTP paths).
"""

from __future__ import annotations

import base64
import json
import textwrap
from typing import Any

import pytest
import yaml

from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_PUBLISH_ACTIVITY,
    ASYNCAPI_SUBSCRIBE_ACTIVITY,
)
from stigmer_runner.dsl.asyncapi_document import (
    AsyncApiDocumentError,
    correlation_id,
    resolve_target,
)
from stigmer_runner.dsl.contracts import ActivityCall, HttpRequest, HttpResponse
from stigmer_runner.dsl.errors import ErrorType, WorkflowError
from stigmer_runner.dsl.interpreter import Interpreter
from tests.runner.fakes import FakeRuntime, json_response

HEADER = {"dsl": "1.0.3", "namespace": "test", "name": "asyncapi", "version": "1.0.0"}
DOC_URL = "http://docs.test/asyncapi.yaml"

V3 = {
    "asyncapi": "3.0.0",
    "info": {"title": "Notifications", "version": "1.0.0"},
    "servers": {
        "production": {
            "host": "broker.prod:{port}",
            "protocol": "kafka",
            "variables": {"port": {"default": "9092"}},
        },
        "staging": {
            "host": "{host}:{port}",
            "protocol": "redis",
            "pathname": "/0",
            "variables": {
                "host": {"default": "redis.staging"},
                "port": {"default": "6379", "enum": ["6379", "6380"]},
            },
        },
        "web": {"host": "hooks.test", "protocol": "http", "pathname": "/api"},
        "relay": {"host": "relay.test:61613", "protocol": "stomp"},
    },
    "channels": {
        "notifications": {
            "address": "user.notifications",
            "messages": {"notification": {"$ref": "#/components/messages/notification"}},
        },
        "hooks": {"address": "/hooks/pets", "servers": [{"$ref": "#/servers/web"}]},
    },
    "operations": {
        "getNotifications": {"action": "receive", "channel": {"$ref": "#/channels/notifications"}},
        "sendNotification": {"action": "send", "channel": {"$ref": "#/channels/notifications"}},
        "postPet": {"action": "send", "channel": {"$ref": "#/channels/hooks"}},
    },
    "components": {
        "messages": {
            "notification": {
                "payload": {"type": "object"},
                "correlationId": {"location": "$message.payload#/meta/userId"},
            }
        }
    },
}

V2 = {
    "asyncapi": "2.6.0",
    "info": {"title": "Notifications", "version": "1.0.0"},
    "servers": {
        "mq": {"url": "mq.test:5672", "protocol": "amqp"},
        "cache": {
            "url": "redis://{host}:6379",
            "protocol": "redis",
            "variables": {"host": {"default": "localhost"}},
        },
    },
    "channels": {
        "/notifications": {
            "servers": ["cache"],
            "subscribe": {"operationId": "getNotifications", "message": {"payload": {}}},
            "publish": {"operationId": "sendNotification", "message": {"payload": {}}},
        },
        "orders": {"publish": {"operationId": "placeOrder"}},
    },
}


class AsyncApiRuntime(FakeRuntime):
    """Serves one AsyncAPI document; records activity calls and answers subscribe calls
    with the next canned batch."""

    def __init__(self, document: Any = V3, batches: list[list[Any]] | None = None) -> None:
        text = (
            yaml.safe_dump(document, sort_keys=False)
            if isinstance(document, dict)
            else str(document)
        )
        super().__init__(lambda request: self._answer(request, text))
        self.calls: list[ActivityCall] = []
        self.batches = list(batches or [])
        self.posted: list[HttpRequest] = []

    def _answer(self, request: HttpRequest, text: str) -> HttpResponse:
        if request.method == "GET" and request.url == DOC_URL:
            return HttpResponse(
                status_code=200,
                headers={"content-type": "application/yaml"},
                raw_base64=base64.b64encode(text.encode()).decode(),
                content_type="application/yaml",
            )
        if request.method == "POST":
            self.posted.append(request)
            return json_response(request, {"accepted": True}, status=202)
        return json_response(request, {"error": "no such document"}, status=404)

    async def execute(self, call: ActivityCall) -> Any:
        self.calls.append(call)
        if call.name == ASYNCAPI_PUBLISH_ACTIVITY:
            return {"receivers": 1}
        if call.name == ASYNCAPI_SUBSCRIBE_ACTIVITY:
            if not self.batches:
                raise AssertionError("the task asked for more messages than the test has")
            batch = self.batches.pop(0)
            # The activity waits up to max_seconds for its batch: let the clock say so.
            self.elapsed += call.payload["max_seconds"]
            return {"messages": [m if isinstance(m, str) else json.dumps(m) for m in batch]}
        raise AssertionError(f"unexpected activity {call.name}")


def document(text: str) -> dict[str, Any]:
    return {"document": dict(HEADER), **yaml.safe_load(textwrap.dedent(text))}


async def run(text: str, runtime: AsyncApiRuntime, given: Any = None) -> Any:
    return await Interpreter(document(text), runtime=runtime).run({} if given is None else given)


async def fail(text: str, runtime: AsyncApiRuntime) -> dict[str, Any]:
    with pytest.raises(WorkflowError) as caught:
        await run(text, runtime)
    return caught.value.problem


def call(with_: str) -> str:
    """A one-task workflow calling asyncapi with the ``with`` block given (YAML)."""
    body = textwrap.indent(textwrap.dedent(with_).strip(), " " * 8)
    return (
        "do:\n  - notify:\n      call: asyncapi\n      with:\n"
        f"        document:\n          endpoint: {DOC_URL}\n{body}\n"
    )


# --- document resolution -----------------------------------------------------------------


def test_v3_operation_resolves_channel_address_server_and_defaults() -> None:
    target = resolve_target(
        V3,
        operation="getNotifications",
        channel=None,
        server="staging",
        variables={"port": "6380"},
        protocol=None,
    )
    assert (target.protocol, target.url, target.address, target.action) == (
        "redis",
        "redis://redis.staging:6380/0",
        "user.notifications",
        "receive",
    )
    assert target.correlation_location == "$message.payload#/meta/userId"


def test_v3_without_server_picks_the_first_server_of_the_protocol() -> None:
    target = resolve_target(
        V3,
        operation="getNotifications",
        channel=None,
        server=None,
        variables=None,
        protocol="redis",
    )
    assert target.server == "staging"
    first = resolve_target(
        V3,
        operation="getNotifications",
        channel=None,
        server=None,
        variables=None,
        protocol=None,
    )
    assert (first.server, first.url) == ("production", "kafka://broker.prod:9092")


def test_v3_channel_servers_restrict_the_choice() -> None:
    target = resolve_target(
        V3, operation="postPet", channel=None, server=None, variables=None, protocol=None
    )
    assert (target.server, target.url, target.address) == (
        "web",
        "http://hooks.test/api",
        "/hooks/pets",
    )
    with pytest.raises(AsyncApiDocumentError, match="does not serve the channel"):
        resolve_target(
            V3,
            operation="postPet",
            channel=None,
            server="staging",
            variables=None,
            protocol=None,
        )


def test_v2_channel_and_operation_id_resolve_server_url() -> None:
    by_channel = resolve_target(
        V2,
        operation=None,
        channel="/notifications",
        server=None,
        variables=None,
        protocol=None,
    )
    assert (by_channel.url, by_channel.address, by_channel.server) == (
        "redis://localhost:6379",
        "/notifications",
        "cache",
    )
    by_id = resolve_target(
        V2,
        operation="getNotifications",
        channel=None,
        server=None,
        variables={"host": "10.0.0.1"},
        protocol=None,
    )
    assert (by_id.url, by_id.action) == ("redis://10.0.0.1:6379", "subscribe")
    orders = resolve_target(
        V2, operation="placeOrder", channel=None, server=None, variables=None, protocol=None
    )
    assert (orders.server, orders.url) == ("mq", "amqp://mq.test:5672")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "nope"}, "no operation 'nope'"),
        ({"operation": "getNotifications", "server": "nope"}, "no server 'nope'"),
        ({"operation": "getNotifications", "protocol": "mqtt"}, "speaks mqtt"),
        (
            {"operation": "getNotifications", "server": "staging", "variables": {"port": "1"}},
            "must be one of 6379, 6380",
        ),
        ({"channel": "missing"}, "no channel 'missing'"),
    ],
)
def test_v3_resolution_errors_say_what_is_missing(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "operation": None,
        "channel": None,
        "server": None,
        "variables": None,
        "protocol": None,
    }
    with pytest.raises(AsyncApiDocumentError, match=message):
        resolve_target(V3, **{**args, **kwargs})


def test_unsupported_versions_and_external_refs_are_refused() -> None:
    with pytest.raises(AsyncApiDocumentError, match=r"version '1\.2\.0'"):
        resolve_target(
            {"asyncapi": "1.2.0"},
            operation="x",
            channel=None,
            server=None,
            variables=None,
            protocol=None,
        )
    external = {**V3, "operations": {"x": {"channel": {"$ref": "other.yaml#/channels/a"}}}}
    with pytest.raises(AsyncApiDocumentError, match="external reference"):
        resolve_target(
            external, operation="x", channel=None, server=None, variables=None, protocol=None
        )


def test_correlation_id_follows_the_location() -> None:
    message = {"payload": {"meta": {"userId": 42}}, "headers": {"cid": "abc"}}
    assert correlation_id("$message.payload#/meta/userId", message) == "42"
    assert correlation_id("$message.header#/cid", message) == "abc"
    assert correlation_id("$message.payload#/missing", message) is None


# --- publish --------------------------------------------------------------------------------


async def test_publish_sends_the_evaluated_payload_to_the_resolved_redis_channel() -> None:
    runtime = AsyncApiRuntime()
    output = await run(
        call("""
            operation: sendNotification
            server:
              name: staging
              variables:
                host: ${ .host }
            message:
              payload:
                petId: ${ .pet.id }
        """),
        runtime,
        {"pet": {"id": 7}, "host": "10.1.2.3"},
    )
    assert output == {"payload": {"petId": 7}}
    (sent,) = runtime.calls
    assert sent.name == ASYNCAPI_PUBLISH_ACTIVITY
    assert sent.payload["data"] == '{"petId": 7}'
    assert sent.payload["target"]["url"] == "redis://10.1.2.3:6379/0"
    assert sent.payload["target"]["channel"] == "user.notifications"
    assert runtime.requests[0].headers["Accept"].startswith("application/json")


async def test_publish_over_http_posts_to_server_url_plus_address_with_auth() -> None:
    runtime = AsyncApiRuntime()
    output = await run(
        call("""
            operation: postPet
            message:
              payload: {name: Rex}
              headers: {X-Trace: t1}
            authentication:
              bearer:
                token: s3cret
        """),
        runtime,
    )
    assert output == {"payload": {"name": "Rex"}, "headers": {"X-Trace": "t1"}}
    (post,) = runtime.posted
    assert post.url == "http://hooks.test/api/hooks/pets"
    assert post.body == {"name": "Rex"}
    assert post.headers == {"X-Trace": "t1", "Authorization": "Bearer s3cret"}
    assert runtime.calls == []


@pytest.mark.parametrize(
    ("with_", "message"),
    [
        (
            "operation: sendNotification\nserver: {name: relay}\nmessage: {payload: {}}",
            "call: asyncapi over stomp (server 'relay') is not supported",
        ),
        (
            "operation: placeOrder\nmessage: {payload: {}}\nauthentication: {bearer: {token: t}}",
            "AMQP accepts basic authentication",
        ),
        (
            "operation: sendNotification\nserver: {name: production}\nmessage: {payload: {}}\n"
            "authentication: {basic: {username: u, password: p}}",
            "Kafka authentication (SASL) is not supported yet",
        ),
        (
            "operation: getNotifications\nprotocol: ws\nsubscription: {consume: {amount: 1}}",
            "no server of the channel speaks ws",
        ),
        ("operation: postPet\nsubscription: {consume: {amount: 1}}", "http has no subscriptions"),
        (
            "operation: sendNotification\nserver: {name: staging}\n"
            "message: {payload: {}, headers: {a: b}}",
            "Redis pub/sub carries no headers",
        ),
        (
            "operation: sendNotification\nserver: {name: staging}\nmessage: {payload: {}}\n"
            "authentication: {bearer: {token: t}}",
            "basic authentication",
        ),
        ("operation: sendNotification", "exactly one of message"),
        ("message: {payload: {}}", "name an operation or a channel"),
        (
            "operation: getNotifications\nserver: {name: staging}\n"
            "subscription: {consume: {amount: 0}}",
            "amount must be a positive integer",
        ),
        (
            "operation: getNotifications\nserver: {name: staging}\n"
            "subscription: {consume: {amount: 1, until: 'true'}}",
            "exactly one of amount",
        ),
        (
            "operation: getNotifications\nserver: {name: staging}\n"
            "subscription: {consume: {amount: 1, for: {months: 1}}}",
            "consume.for",
        ),
    ],
)
async def test_bad_calls_are_configuration_errors_naming_the_problem(
    with_: str, message: str
) -> None:
    runtime = AsyncApiRuntime(V3 if "placeOrder" not in with_ else V2)
    problem = await fail(call(with_), runtime)
    assert problem["type"] == ErrorType.CONFIGURATION
    assert message in problem["detail"]
    assert problem["instance"] == "/do/0/notify"
    assert runtime.calls == []


async def test_a_missing_document_is_a_communication_error_with_its_status() -> None:
    runtime = AsyncApiRuntime()
    text = call("operation: x\nmessage: {payload: {}}").replace(DOC_URL, "http://docs.test/nope")
    problem = await fail(text, runtime)
    assert problem["type"] == ErrorType.COMMUNICATION
    assert problem["status"] == 404


async def test_a_document_that_is_not_yaml_is_a_configuration_error() -> None:
    problem = await fail(call("operation: x\nmessage: {payload: {}}"), AsyncApiRuntime("[: nope"))
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "not a JSON or YAML document" in problem["detail"]


# --- subscribe ------------------------------------------------------------------------------

SUBSCRIBE = "operation: getNotifications\nserver: {name: staging}\nsubscription:\n"


def subscribe(subscription: str) -> str:
    return call(SUBSCRIBE + textwrap.indent(textwrap.dedent(subscription).strip(), "  "))


def note(user: int, text: str) -> dict[str, Any]:
    return {"meta": {"userId": user}, "text": text}


async def test_amount_asks_only_for_the_missing_messages_and_filters_per_message() -> None:
    runtime = AsyncApiRuntime(batches=[[note(1, "a"), note(2, "b")], [note(1, "c")]])
    output = await run(
        subscribe("""
            filter: ${ .correlationId == "1" }
            consume: {amount: 2}
        """),
        runtime,
    )
    assert [m["payload"]["text"] for m in output] == ["a", "c"]
    assert output[0]["correlationId"] == "1"
    asked = [c.payload["max_messages"] for c in runtime.calls]
    assert asked == [2, 1]
    assert all(not c.payload["return_early"] for c in runtime.calls)


async def test_until_stops_on_the_messages_consumed_so_far() -> None:
    runtime = AsyncApiRuntime(batches=[["plain text", note(1, "b")], [note(1, "c"), note(1, "d")]])
    output = await run(
        subscribe("""
            consume:
              until: ${ ($context.consumedMessages | length) == 3 }
        """),
        runtime,
    )
    # Plain text is the payload as is; "d" came after until held and is dropped.
    assert [m["payload"] for m in output] == ["plain text", note(1, "b"), note(1, "c")]
    assert runtime.calls[0].payload["return_early"] is True


async def test_while_is_evaluated_after_each_message_on_its_input() -> None:
    runtime = AsyncApiRuntime(batches=[[note(1, "a"), note(1, "stop"), note(1, "late")]])
    output = await run(
        subscribe("consume: {while: '${ .[-1].payload.text != \"stop\" }'}"), runtime
    )
    assert [m["payload"]["text"] for m in output] == ["a", "stop"]


async def test_until_true_at_the_start_consumes_nothing() -> None:
    runtime = AsyncApiRuntime()
    assert await run(subscribe("consume: {until: '${ true }'}"), runtime) == []
    assert [c.name for c in runtime.calls] == []


async def test_for_bounds_the_subscription_across_batches() -> None:
    runtime = AsyncApiRuntime(batches=[[note(1, "a")], [note(1, "b")]])
    output = await run(subscribe("consume: {amount: 5, for: {seconds: 90}}"), runtime)
    assert [m["payload"]["text"] for m in output] == ["a", "b"]
    assert [c.payload["max_seconds"] for c in runtime.calls] == [60, 30]
    assert [c.payload["max_messages"] for c in runtime.calls] == [5, 4]
    assert runtime.calls[0].timeout_seconds == 90  # the batch plus a margin


async def test_foreach_runs_its_tasks_per_message_with_item_and_index() -> None:
    runtime = AsyncApiRuntime(batches=[[note(1, "a"), note(1, "b")]])
    output = await run(
        subscribe("""
            consume: {amount: 2}
            foreach:
              item: message
              at: i
              do:
                - shape:
                    set:
                      text: ${ $message.payload.text }
                      index: ${ $i }
              output:
                as: ${ .text + ($i | tostring) }
        """),
        runtime,
    )
    assert output == ["a0", "b1"]
    pointers = {e.task_id for e in runtime.events}
    assert "/do/0/notify/with/subscription/foreach/do/0/shape" in pointers


async def test_foreach_export_collects_into_the_context_per_message() -> None:
    runtime = AsyncApiRuntime(batches=[[note(1, "a"), note(1, "b")]])
    text = subscribe("""
        consume: {amount: 2}
        foreach:
          output:
            as: ${ .payload.text }
          export:
            as: '${ $context + { texts: (($context.texts // []) + [$output]), at: $index } }'
    """)
    text += "  - read:\n      set:\n        context: ${ $context }\n"
    output = await run(text, runtime)
    assert output == {"context": {"texts": ["a", "b"], "at": 1}}


# --- bindings and the broker protocols ------------------------------------------------------

BOUND = {
    "asyncapi": "3.0.0",
    "info": {"title": "Orders", "version": "1.0.0"},
    "servers": {
        "rabbit": {"host": "mq.test:5672", "protocol": "amqp", "pathname": "/shop"},
        "mosquitto": {
            "host": "mqtt.test:1883",
            "protocol": "mqtt",
            "bindings": {"mqtt": {"clientId": "orders", "cleanSession": False}},
        },
    },
    "channels": {
        "orders": {
            "address": "orders.created",
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"$ref": "#/components/exchanges/shop"},
                    "queue": {"name": "orders", "durable": True},
                }
            },
        }
    },
    "operations": {
        "placeOrder": {
            "action": "send",
            "channel": {"$ref": "#/channels/orders"},
            "bindings": {
                "amqp": {"deliveryMode": 2, "priority": 5},
                "mqtt": {"qos": 1, "retain": True},
            },
            "messages": [{"$ref": "#/components/messages/order"}],
        }
    },
    "components": {
        "exchanges": {"shop": {"name": "shop", "type": "topic"}},
        "messages": {
            "order": {"payload": {"type": "object"}, "bindings": {"amqp": {"messageType": "o"}}}
        },
    },
}


def test_the_protocols_bindings_are_resolved_at_every_level() -> None:
    amqp = resolve_target(
        BOUND, operation="placeOrder", channel=None, server=None, variables=None, protocol="amqp"
    )
    assert amqp.url == "amqp://mq.test:5672/shop"
    assert amqp.bindings == {
        "channel": {
            "is": "routingKey",
            "exchange": {"name": "shop", "type": "topic"},
            "queue": {"name": "orders", "durable": True},
        },
        "operation": {"deliveryMode": 2, "priority": 5},
        "message": {"messageType": "o"},
    }
    mqtt = resolve_target(
        BOUND, operation="placeOrder", channel=None, server=None, variables=None, protocol="mqtt"
    )
    assert mqtt.bindings == {
        "server": {"clientId": "orders", "cleanSession": False},
        "operation": {"qos": 1, "retain": True},
    }


async def test_amqp_publish_carries_headers_bindings_and_basic_credentials() -> None:
    runtime = AsyncApiRuntime(BOUND)
    output = await run(
        call("""
            operation: placeOrder
            protocol: amqp
            message:
              payload: {id: 7}
              headers: {x-trace: t1, retries: 2}
            authentication:
              basic: {username: shop, password: s3cret}
        """),
        runtime,
    )
    assert output == {"payload": {"id": 7}, "headers": {"x-trace": "t1", "retries": 2}}
    (sent,) = runtime.calls
    assert sent.payload["headers"] == {"x-trace": "t1", "retries": "2"}
    assert sent.payload["content_type"] == "application/json"
    target = sent.payload["target"]
    assert (target["protocol"], target["channel"]) == ("amqp", "orders.created")
    assert (target["username"], target["password"]) == ("shop", "s3cret")
    assert target["bindings"]["operation"] == {"deliveryMode": 2, "priority": 5}


async def test_mqtt_refuses_headers_and_subscribes_with_its_bindings() -> None:
    problem = await fail(
        call("operation: placeOrder\nprotocol: mqtt\nmessage: {payload: 1, headers: {a: b}}"),
        AsyncApiRuntime(BOUND),
    )
    assert problem["type"] == ErrorType.CONFIGURATION
    assert "MQTT 3.1.1 carries no headers" in problem["detail"]
    runtime = AsyncApiRuntime(BOUND, batches=[["one"]])
    output = await run(
        call("operation: placeOrder\nprotocol: mqtt\nsubscription: {consume: {amount: 1}}"),
        runtime,
    )
    assert output == [{"payload": "one"}]
    (asked,) = runtime.calls
    assert asked.payload["target"]["bindings"]["server"]["clientId"] == "orders"
