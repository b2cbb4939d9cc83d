"""Kafka with aiokafka: the channel address (or the channel binding's ``topic``) is the topic.

Publish sends the message with its headers and waits for the broker's acknowledgement.
Subscribe with the operation binding's ``groupId`` joins that consumer group: it starts
at the group's committed offset (the earliest for a new group), commits exactly the
messages the batch returns, and the next batch goes on from there, so nothing is lost or
taken twice between batches. Without a ``groupId`` a batch reads from the topic's end as
of its start, as a pub/sub subscriber would.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from aiokafka.structs import ConsumerRecord

from stigmer_runner.activities.brokers.base import (
    BrokerError,
    Outbound,
    Received,
    binding,
    host_port,
    schema_value,
    text,
)
from stigmer_runner.dsl.asyncapi_contracts import BrokerTarget


class KafkaTransport:
    """Publishes to and consumes from Kafka topics."""

    noun = "Kafka topic"
    headers = True

    def __init__(self, *, connect_timeout_seconds: float = 10.0) -> None:
        self._timeout_ms = int(connect_timeout_seconds * 1000)

    async def publish(self, target: BrokerTarget, message: Outbound) -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=_bootstrap(target),
            request_timeout_ms=self._timeout_ms,
            client_id=_client_id(target),
        )
        try:
            await producer.start()
            await producer.send_and_wait(
                _topic(target),
                message.data.encode(),
                headers=[(k, v.encode()) for k, v in message.headers.items()] or None,
            )
        except KafkaError as exc:
            raise _error(exc) from exc
        finally:
            await producer.stop()
        return 1

    @asynccontextmanager
    async def subscribe(
        self, target: BrokerTarget, *, limit: int | None
    ) -> AsyncIterator[_KafkaSubscription]:
        group = schema_value(binding(target, "operation").get("groupId"))
        consumer = AIOKafkaConsumer(
            _topic(target),
            bootstrap_servers=_bootstrap(target),
            group_id=str(group) if group else None,
            client_id=_client_id(target),
            enable_auto_commit=False,
            auto_offset_reset="earliest" if group else "latest",
            request_timeout_ms=self._timeout_ms,
        )
        try:
            await consumer.start()
            yield _KafkaSubscription(consumer, limit=limit, grouped=bool(group))
        except KafkaError as exc:
            raise _error(exc) from exc
        finally:
            await consumer.stop()


class _KafkaSubscription:
    def __init__(self, consumer: AIOKafkaConsumer, *, limit: int | None, grouped: bool) -> None:
        self._consumer = consumer
        self._limit = limit
        self._grouped = grouped
        self._returned = 0
        self._fetched: deque[ConsumerRecord[Any, Any]] = deque()

    async def receive(self, timeout: float) -> Received | None:
        if not self._fetched:
            room = None if self._limit is None else self._limit - self._returned
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=max(int(timeout * 1000), 1), max_records=room
                )
            except KafkaError as exc:
                raise _error(exc) from exc
            for records in batches.values():
                self._fetched.extend(records)
        if not self._fetched:
            return None
        record = self._fetched.popleft()
        self._returned += 1
        headers = {key: text(value) for key, value in record.headers or ()}
        return Received(text(record.value), headers, token=record)

    async def stop(self, room: int | None) -> list[Received]:
        """Records fetched but not taken are not committed: the group reads them again."""
        return []

    async def settle(self, taken: list[Received]) -> None:
        if not self._grouped or not taken:
            return
        offsets: dict[TopicPartition, int] = {}
        for message in taken:
            record: ConsumerRecord[Any, Any] = message.token
            partition = TopicPartition(record.topic, record.partition)
            offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            raise _error(exc) from exc


def _bootstrap(target: BrokerTarget) -> str:
    host, port = host_port(target, 9092)
    return f"{host}:{port}"


def _topic(target: BrokerTarget) -> str:
    topic = binding(target, "channel").get("topic")
    return str(topic) if topic else target.channel


def _client_id(target: BrokerTarget) -> str:
    client = schema_value(binding(target, "operation").get("clientId"))
    return str(client) if client else "stigmer-runner"


def _error(exc: KafkaError) -> BrokerError:
    if isinstance(exc, TopicAuthorizationFailedError):
        return BrokerError(f"not authorized: {exc}", kind="authentication")
    if isinstance(exc, InvalidTopicError):
        return BrokerError(f"bad topic: {exc}", kind="configuration")
    return BrokerError(f"{type(exc).__name__}: {exc}")
