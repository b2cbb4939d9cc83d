"""Broker transports of ``call: asyncapi``: one module per protocol behind :class:`Transport`.

``redis_pubsub`` (Redis pub/sub), ``amqp_queues`` (AMQP 0-9-1 with aio-pika),
``mqtt_topics`` (MQTT 3.1.1 with aiomqtt), ``kafka_topics`` (Kafka with aiokafka).
"""

from stigmer_runner.activities.brokers.base import (
    BrokerError,
    Outbound,
    Received,
    Subscription,
    Transport,
)

__all__ = ["BrokerError", "Outbound", "Received", "Subscription", "Transport"]
