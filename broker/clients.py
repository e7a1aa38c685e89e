"""librdkafka settings shared by every producer of the project, and where its logs go."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Producer

from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.security import Cluster, connection_config

# librdkafka's RD_KAFKA_PARTITION_UA, confluent-kafka's default for produce(partition=...).
PARTITION_UA = -1
LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
"""librdkafka's own log lines (``%4|...`` on stderr by default), as Python log records.

Given as a client's ``logger``, they are handed over while the client polls, consumes or
flushes, so the application's logging configuration decides where they go."""


def producer_config(cluster: Cluster, settings: ProducerSettings, client_id: str) -> dict:
    """Safe, fast publishing: idempotent, acks=all, batched, compressed, murmur2 keys."""
    return {
        **connection_config(cluster),
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        # Kafka's Java client hashes keys with murmur2; librdkafka's default differs.
        "partitioner": "murmur2_random",
        "linger.ms": settings.linger_ms,
        "compression.type": settings.compression,
        "batch.size": settings.batch_size_bytes,
        "queue.buffering.max.messages": settings.queue_max_messages,
        "delivery.timeout.ms": settings.delivery_timeout_ms,
        "message.max.bytes": max(1_000_000, settings.max_event_bytes * 2),
        "logger": LIBRDKAFKA_LOG,
    }


def produce_blocking(
    producer: Producer,
    topic: str,
    value: bytes,
    key: bytes | None = None,
    partition: int = PARTITION_UA,
    **options: Any,
) -> None:
    """Produce, serving delivery reports while the local queue is full (backpressure).

    ``partition`` left unassigned lets the partitioner place the record by its key.
    """
    while True:
        try:
            producer.produce(topic, value, key, partition, **options)
            return
        except BufferError:
            producer.poll(0.05)
