"""The AsyncAPI activities' failures, which need no broker: nothing listens on port 1."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from stigmer_runner.activities.asyncapi_call import AsyncApiActivities
from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_CONFIGURATION_ERROR,
    ASYNCAPI_TRANSPORT_ERROR,
    BrokerTarget,
    PublishRequest,
    SubscribeRequest,
)
from stigmer_runner.dsl.errors import ErrorType

NOUNS = {"amqp": "AMQP channel", "mqtt": "MQTT topic", "kafka": "Kafka topic"}


def requests(target: BrokerTarget) -> list[tuple[str, PublishRequest | SubscribeRequest]]:
    return [("publish", PublishRequest(target, "x")), ("subscribe", SubscribeRequest(target, 1))]


async def fail(request: PublishRequest | SubscribeRequest, action: str) -> ApplicationError:
    activities = AsyncApiActivities(connect_timeout_seconds=3)
    function = activities.publish if action == "publish" else activities.subscribe
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(function, request)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize("protocol", ["amqp", "mqtt", "kafka"])
async def test_an_unreachable_broker_is_a_retryable_communication_error(protocol: str) -> None:
    target = BrokerTarget(protocol, f"{protocol}://127.0.0.1:1", "orders", "task 't' (/do/0/t)")
    for action, request in requests(target):
        error = await fail(request, action)
        assert error.type == ASYNCAPI_TRANSPORT_ERROR
        assert not error.non_retryable
        assert error.details[0]["type"] == ErrorType.COMMUNICATION
        assert f"cannot {action} to {NOUNS[protocol]} 'orders'" in error.message


@pytest.mark.parametrize("protocol", ["amqp", "mqtt", "kafka"])
async def test_a_malformed_url_is_a_non_retryable_configuration_error(protocol: str) -> None:
    target = BrokerTarget(protocol, f"{protocol}://[nope", "orders", "task 't' (/do/0/t)")
    for action, request in requests(target):
        error = await fail(request, action)
        assert error.type == ASYNCAPI_CONFIGURATION_ERROR
        assert error.non_retryable
        assert error.details[0]["type"] == ErrorType.CONFIGURATION
        assert "bad URL" in error.message


async def test_a_bad_amqp_binding_is_a_configuration_error() -> None:
    target = BrokerTarget(
        "amqp",
        "amqp://127.0.0.1:1",
        "orders",
        "task 't' (/do/0/t)",
        bindings={"channel": {"is": "topic"}},
    )
    error = await fail(PublishRequest(target, "x"), "publish")
    assert error.type == ASYNCAPI_CONFIGURATION_ERROR
    assert "'is' must be routingKey or queue" in error.message
