"""``call: asyncapi``: publish a message or consume a subscription through an AsyncAPI document.

The document (``with.document.endpoint``) is fetched through the runtime's HTTP call and
parsed as YAML or JSON; the operation (or, for 2.x documents, the channel) and the server
are resolved in :mod:`stigmer_runner.dsl.asyncapi_document`. Supported transports:

- ``redis``: publish = ``PUBLISH`` to the channel address; subscribe = ``SUBSCRIBE`` and
  consume. Redis pub/sub has no headers (``message.headers`` is refused).
- ``amqp`` (0-9-1): publish to the exchange and routing key, subscribe to the queue that the
  channel's ``amqp`` binding describes (``is``, ``exchange``, ``queue``); the operation
  binding's ``deliveryMode``, ``priority``, ``expiration``... shape published messages.
  Headers both ways.
- ``mqtt`` (3.1.1): the address is the topic; the operation binding's ``qos`` and ``retain``
  and the server binding's ``clientId``/``cleanSession`` apply. No headers.
- ``kafka``: the address (or the channel binding's ``topic``) is the topic; the operation
  binding's ``groupId`` makes consumption a consumer group's. Headers both ways.
- ``http`` / ``https``: publish = ``POST`` of the payload (JSON) to server URL + channel
  address, with ``message.headers`` as headers; subscribing is a configuration error.

The broker transports run in the runner's AsyncAPI activities (``activities.brokers``). A
payload that is a string is sent as is, anything else as JSON; a received message whose
text parses as JSON has that JSON as its payload, else the text. Brokers accept ``basic``
authentication only (Kafka none yet). Any other protocol is a configuration error naming it.

Consumption: the subscribe activity consumes one batch at a time and the handler evaluates
``filter``, ``while`` and ``until`` here, in the workflow, after each batch (``$context``
and the workflow's variables stay in the workflow). ``amount`` caps each batch at the
messages still missing, so no more than ``amount`` messages are ever taken off the channel;
with ``while``/``until`` a batch ends as soon as messages have arrived, and the messages of a
batch that come after the one that stopped consumption are dropped. ``for`` bounds the whole
subscription. Redis pub/sub (and MQTT with a clean session, AMQP with a server-named
queue, Kafka without a group) delivers only to live subscriptions: a message published
between two batches (a few milliseconds) is not seen; a named AMQP queue, a persistent MQTT
session or a Kafka consumer group keeps it for the next batch. ``while`` is evaluated after each
consumed message, ``until`` before each one (so also before the first); both see the
messages consumed so far as their input and as ``$context.consumedMessages``.

Output: publish gives the message sent (``payload``, ``headers``); subscribe gives the array
of consumed messages (``payload``, and ``correlationId`` when the document's message
declares a ``correlationId.location``), or with ``foreach`` what ``foreach.do`` (then
``foreach.output.as``) made of each, with ``$item``/``$index`` (or the names ``item``/``at``
give) in scope; ``foreach.export.as`` updates ``$context`` after each message.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import yaml

from stigmer_runner.dsl.asyncapi_contracts import (
    ASYNCAPI_PUBLISH_ACTIVITY,
    ASYNCAPI_SUBSCRIBE_ACTIVITY,
    NON_RETRYABLE_ASYNCAPI_ERRORS,
    BrokerTarget,
    PublishRequest,
    SubscribeRequest,
)
from stigmer_runner.dsl.asyncapi_document import (
    AsyncApiDocumentError,
    AsyncApiTarget,
    correlation_id,
    resolve_target,
)
from stigmer_runner.dsl.contracts import ActivityCall, HttpRequest
from stigmer_runner.dsl.durations import duration_seconds
from stigmer_runner.dsl.errors import WorkflowError, http_status_problem
from stigmer_runner.dsl.expressions import is_expression, truthy
from stigmer_runner.dsl.tasks.authentication import (
    Authorization,
    resolve_authentication,
    send_authenticated,
)
from stigmer_runner.dsl.tasks.base import Directive, TaskContext, TaskResult
from stigmer_runner.dsl.tasks.subscription_iterator import iterate, parse_iterator

BROKER_PROTOCOLS = ("redis", "amqp", "mqtt", "kafka")
"""Protocols the runner's AsyncAPI activities carry (publish and subscribe)."""
SUPPORTED_PROTOCOLS = (*BROKER_PROTOCOLS, "http", "https")
_WITH_HEADERS = ("amqp", "kafka")
_NO_HEADERS = {"redis": "Redis pub/sub", "mqtt": "MQTT 3.1.1"}
_LABELS = {"redis": "Redis", "amqp": "AMQP", "mqtt": "MQTT", "kafka": "Kafka"}
BATCH_SECONDS = 60.0
"""The longest one subscribe activity waits; the subscription goes on in the next batch."""
_ACTIVITY_MARGIN_SECONDS = 30.0
_EXCERPT_CHARS = 300


async def call_asyncapi(task: TaskContext) -> TaskResult:
    """Run one ``call: asyncapi`` task (see the module docstring)."""
    args = task.definition.get("with")
    if not isinstance(args, Mapping):
        raise task.configuration_error(
            "'with' must be a mapping with 'document', 'operation' or 'channel', and "
            "'message' or 'subscription'"
        )
    if ("message" in args) == ("subscription" in args):
        raise task.configuration_error(
            "with must define exactly one of message (publish) or subscription (subscribe)"
        )
    operation = _name(task, args.get("operation"), "with.operation")
    channel = _name(task, args.get("channel"), "with.channel")
    if operation is None and channel is None:
        raise task.configuration_error("with must name an operation or a channel")
    server, variables = _server(task, args.get("server"))
    protocol = args.get("protocol")
    if protocol is not None and (not isinstance(protocol, str) or not protocol):
        raise task.configuration_error("with.protocol must name a protocol, such as redis")
    uri, document = await _fetch_document(task, args.get("document"))
    try:
        target = resolve_target(
            document,
            operation=operation,
            channel=channel,
            server=server,
            variables=variables,
            protocol=protocol,
        )
    except AsyncApiDocumentError as exc:
        raise task.configuration_error(f"with.document ({uri}): {exc}") from None
    if target.protocol not in SUPPORTED_PROTOCOLS:
        raise task.configuration_error(
            f"call: asyncapi over {target.protocol} (server {target.server!r}) is not "
            f"supported; Stigmer supports {', '.join(SUPPORTED_PROTOCOLS)}"
        )
    authorization = resolve_authentication(
        task, args.get("authentication"), field="with.authentication"
    )
    descriptor = authorization.descriptor() if authorization else None
    if "message" in args:
        sent = await _publish(task, target, args["message"], authorization)
        return TaskResult(sent, authorization=descriptor)
    outputs, ended = await _subscribe(task, target, args["subscription"], authorization)
    return TaskResult(outputs, then=Directive.END if ended else None, authorization=descriptor)


# --- arguments -------------------------------------------------------------------------


def _name(task: TaskContext, value: Any, field: str) -> str | None:
    if value is None:
        return None
    resolved = task.evaluate_value(value, field=field)
    if not isinstance(resolved, str) or not resolved:
        raise task.configuration_error(f"{field} must be a non-empty string")
    return resolved


def _server(task: TaskContext, value: Any) -> tuple[str | None, dict[str, Any] | None]:
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        raise task.configuration_error("with.server must be a mapping with 'name'")
    name = _name(task, value.get("name"), "with.server.name")
    variables = task.evaluate_value(value.get("variables"), field="with.server.variables")
    if variables is not None and not isinstance(variables, Mapping):
        raise task.configuration_error("with.server.variables must be a mapping")
    return name, dict(variables) if variables is not None else None


async def _fetch_document(task: TaskContext, resource: Any) -> tuple[str, Any]:
    """GET the AsyncAPI document; return its URI and parsed content."""
    if not isinstance(resource, Mapping) or "endpoint" not in resource:
        raise task.configuration_error("with.document must be a mapping with 'endpoint'")
    endpoint = resource["endpoint"]
    field = "with.document.endpoint"
    policy = None
    if isinstance(endpoint, Mapping):
        policy = endpoint.get("authentication")
        endpoint = endpoint.get("uri")
        field = "with.document.endpoint.uri"
    if isinstance(endpoint, str) and is_expression(endpoint):
        endpoint = task.evaluate(endpoint, field=field)
    if not isinstance(endpoint, str) or not endpoint.lower().startswith(("http://", "https://")):
        raise task.configuration_error(f"{field} must be an absolute http(s) URI")
    headers = {"Accept": "application/json, application/yaml, text/yaml, */*"}
    request = HttpRequest(method="GET", url=endpoint, headers=headers, output="raw")
    response, _ = await send_authenticated(task, request, policy, field=f"{field}.authentication")
    if not 200 <= response.status_code < 300:
        raise WorkflowError(
            http_status_problem(
                response.status_code,
                method="GET",
                uri=endpoint,
                excerpt=_excerpt(response.content),
                instance=task.pointer,
            )
        )
    return endpoint, _parse_document(task, endpoint, response.raw_base64, response.content)


def _parse_document(task: TaskContext, uri: str, raw: str | None, content: Any) -> Any:
    if isinstance(content, Mapping) and raw is None:
        return content
    try:
        text = base64.b64decode(raw).decode("utf-8") if raw is not None else content
        if not isinstance(text, str):
            raise ValueError("the response has no body")
        return yaml.safe_load(text)
    except (binascii.Error, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise task.configuration_error(
            f"with.document ({uri}) is not a JSON or YAML document: {exc}"
        ) from None


# --- publish ---------------------------------------------------------------------------


async def _publish(
    task: TaskContext,
    target: AsyncApiTarget,
    message: Any,
    authorization: Authorization | None,
) -> dict[str, Any]:
    if not isinstance(message, Mapping):
        raise task.configuration_error("with.message must be a mapping with 'payload'")
    resolved = task.evaluate_value(message, field="with.message")
    headers = resolved.get("headers")
    if headers is not None and not isinstance(headers, Mapping):
        raise task.configuration_error("with.message.headers must be a mapping")
    sent = {k: resolved[k] for k in ("payload", "headers", "correlationId") if k in resolved}
    if target.protocol in BROKER_PROTOCOLS:
        if headers and target.protocol not in _WITH_HEADERS:
            raise task.configuration_error(
                f"with.message.headers: {_NO_HEADERS[target.protocol]} carries no headers; "
                "put them in the payload"
            )
        payload = resolved.get("payload")
        data = payload if isinstance(payload, str) else json.dumps(payload)
        request = PublishRequest(
            _broker(task, target, authorization),
            data,
            headers=_header_values(task, headers or {}),
            content_type=None if isinstance(payload, str) else "application/json",
        )
        await task.runtime.execute(
            ActivityCall(
                ASYNCAPI_PUBLISH_ACTIVITY,
                request.payload(),
                non_retryable_types=list(NON_RETRYABLE_ASYNCAPI_ERRORS),
            )
        )
        return sent
    await _http_publish(task, target, resolved.get("payload"), headers or {}, authorization)
    return sent


async def _http_publish(
    task: TaskContext,
    target: AsyncApiTarget,
    payload: Any,
    headers: Mapping[str, Any],
    authorization: Authorization | None,
) -> None:
    sent = _header_values(task, headers)
    if authorization is not None:
        sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
        sent["Authorization"] = authorization.header
    url = f"{target.url.rstrip('/')}/{target.address.lstrip('/')}"
    response = await task.runtime.call_http(
        HttpRequest(method="POST", url=url, headers=sent, body=payload)
    )
    if not 200 <= response.status_code < 300:
        raise WorkflowError(
            http_status_problem(
                response.status_code,
                method="POST",
                uri=url,
                excerpt=_excerpt(response.content),
                instance=task.pointer,
            )
        )


def _header_values(task: TaskContext, headers: Mapping[str, Any]) -> dict[str, str]:
    sent: dict[str, str] = {}
    for key, value in headers.items():
        if isinstance(value, Mapping | list):
            raise task.configuration_error(f"with.message.headers.{key} must be a scalar")
        if value is not None:
            sent[str(key)] = json.dumps(value) if isinstance(value, bool) else str(value)
    return sent


def _broker(
    task: TaskContext, target: AsyncApiTarget, authorization: Authorization | None
) -> BrokerTarget:
    broker = BrokerTarget(
        protocol=target.protocol,
        url=target.url,
        channel=target.address,
        task=f"task {task.name!r} ({task.pointer})",
        bindings=dict(target.bindings),
    )
    if authorization is None:
        return broker
    label = _LABELS[target.protocol]
    if target.protocol == "kafka":
        raise task.configuration_error(
            "with.authentication: Kafka authentication (SASL) is not supported yet"
        )
    if authorization.scheme != "Basic":
        raise task.configuration_error(
            f"with.authentication: {label} accepts basic authentication (username, password) only"
        )
    username, _, password = base64.b64decode(authorization.parameter).decode().partition(":")
    broker.username = username or None
    broker.password = password
    return broker


# --- subscribe -------------------------------------------------------------------------


class _Consumption:
    """The parsed ``subscription``: filter, consumption policy and iterator."""

    def __init__(self, task: TaskContext, spec: Any) -> None:
        if not isinstance(spec, Mapping):
            raise task.configuration_error("with.subscription must be a mapping with 'consume'")
        field = "with.subscription"
        self.filter = spec.get("filter")
        if self.filter is not None and not isinstance(self.filter, str):
            raise task.configuration_error(f"{field}.filter must be a runtime expression")
        consume = spec.get("consume")
        if not isinstance(consume, Mapping):
            raise task.configuration_error(
                f"{field}.consume must be a mapping with amount, while or until"
            )
        policies = [k for k in ("amount", "while", "until") if k in consume]
        if len(policies) != 1:
            raise task.configuration_error(
                f"{field}.consume must define exactly one of amount, while or until"
            )
        amount = consume.get("amount")
        if "amount" in consume and (
            not isinstance(amount, int) or isinstance(amount, bool) or amount < 1
        ):
            raise task.configuration_error(f"{field}.consume.amount must be a positive integer")
        self.amount: int | None = amount
        self.while_: str | None = self._expression(task, consume, "while")
        self.until: str | None = self._expression(task, consume, "until")
        self.seconds: float | None = None
        if "for" in consume:
            try:
                self.seconds = duration_seconds(consume["for"])
            except ValueError as exc:
                raise task.configuration_error(f"{field}.consume.for: {exc}") from None
        self.foreach = parse_iterator(task, spec.get("foreach"), field="with.subscription.foreach")

    @staticmethod
    def _expression(task: TaskContext, consume: Mapping[str, Any], key: str) -> str | None:
        value = consume.get(key)
        if key in consume and not isinstance(value, str | bool):
            raise task.configuration_error(
                f"with.subscription.consume.{key} must be a runtime expression"
            )
        return json.dumps(value) if isinstance(value, bool) else value


async def _subscribe(
    task: TaskContext,
    target: AsyncApiTarget,
    spec: Any,
    authorization: Authorization | None,
) -> tuple[list[Any], bool]:
    """Consume per the policy; return the outputs and whether ``foreach`` ended the flow."""
    policy = _Consumption(task, spec)
    if target.protocol not in BROKER_PROTOCOLS:
        raise task.configuration_error(
            f"with.subscription: {target.protocol} has no subscriptions (server "
            f"{target.server!r}); subscribe over {', '.join(BROKER_PROTOCOLS)}, or publish "
            "with with.message"
        )
    broker = _broker(task, target, authorization)
    consumed: list[Any] = []
    outputs: list[Any] = []
    if policy.until is not None and _holds(task, policy.until, "until", consumed):
        return outputs, False
    started = task.runtime.now()
    while True:
        seconds = BATCH_SECONDS
        if policy.seconds is not None:
            left = policy.seconds - (task.runtime.now() - started).total_seconds()
            if left <= 0:
                return outputs, False
            seconds = min(seconds, left)
        request = SubscribeRequest(
            target=broker,
            max_seconds=seconds,
            max_messages=None if policy.amount is None else policy.amount - len(consumed),
            return_early=policy.amount is None,
        )
        batch = await task.runtime.execute(
            ActivityCall(
                ASYNCAPI_SUBSCRIBE_ACTIVITY,
                request.payload(),
                timeout_seconds=seconds + _ACTIVITY_MARGIN_SECONDS,
                non_retryable_types=list(NON_RETRYABLE_ASYNCAPI_ERRORS),
            )
        )
        texts = batch.get("messages") if isinstance(batch, Mapping) else None
        headers = batch.get("headers") if isinstance(batch, Mapping) else None
        for index, text in enumerate(texts or []):
            fields = headers[index] if isinstance(headers, list) and index < len(headers) else None
            message = _inbound(str(text), fields, target.correlation_location)
            if policy.filter is not None and not truthy(
                task.evaluate(policy.filter, field="with.subscription.filter", data=message)
            ):
                continue
            consumed.append(message)
            if policy.foreach is not None:
                output, ended = await iterate(
                    task,
                    policy.foreach,
                    message,
                    len(outputs),
                    field="with.subscription.foreach",
                )
                outputs.append(output)
                if ended:
                    return outputs, True
            else:
                outputs.append(message)
            if policy.amount is not None and len(consumed) >= policy.amount:
                return outputs, False
            if policy.while_ is not None and not _holds(task, policy.while_, "while", consumed):
                return outputs, False
            if policy.until is not None and _holds(task, policy.until, "until", consumed):
                return outputs, False


def _holds(task: TaskContext, expression: str, key: str, consumed: list[Any]) -> bool:
    """Evaluate ``while``/``until`` on the messages consumed so far."""
    context = task.variables().get("context")
    extra = {}
    if context is None or isinstance(context, Mapping):
        extra["context"] = {**(context or {}), "consumedMessages": list(consumed)}
    value = task.evaluate(
        expression,
        field=f"with.subscription.consume.{key}",
        data=list(consumed),
        extra=extra,
    )
    return truthy(value)


def _inbound(text: str, headers: Any, location: str | None) -> dict[str, Any]:
    """A consumed message: JSON text becomes its payload as JSON, other text as a string;
    headers, where the protocol has them and the message carries any."""
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = text
    message: dict[str, Any] = {"payload": payload}
    if isinstance(headers, Mapping) and headers:
        message["headers"] = dict(headers)
    correlation = correlation_id(location, message)
    if correlation is not None:
        message["correlationId"] = correlation
    return message


def _excerpt(content: Any) -> str | None:
    if content is None:
        return None
    text = content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."
