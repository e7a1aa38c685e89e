"""librdkafka settings shared by every producer of the project."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer

from broker.security import Cluster, connection_config
from usage_pipeline.settings import ProducerSettings


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
    }


def produce_blocking(producer: Producer, topic: str, value: bytes, **kwargs: Any) -> None:
    """Produce, serving delivery reports while the local queue is full (backpressure)."""
    while True:
        try:
            producer.produce(topic, value, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)
