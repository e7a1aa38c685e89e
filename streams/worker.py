"""The faust-streaming worker: raw topics in; clean topics and dead letters out; consent in a table.

Delivery is at least once. A batch from ``take_events`` is acknowledged when the loop comes
back for the next one, so every output of the batch, and every consent change written to
the table's changelog, is acknowledged by the broker before that happens. Concurrency is 1
(faust-streaming #606: with more, offsets can be committed past unprocessed messages).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

from schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from streams.deadletter import Source
from streams.processor import Processor
from usage_pipeline.settings import Settings

log = logging.getLogger(__name__)

CONSENT_TABLE = "consent"


def build_app(settings: Settings, bootstrap_servers: str, processor: Processor) -> faust.App:
    """A faust app with the consent table and the anonymizing agent."""
    stream = settings.stream
    namespace = settings.topics.namespace
    app = faust.App(
        namespace + stream.app_id,
        broker=f"kafka://{bootstrap_servers}",
        store=stream.store,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=20,
        producer_max_batch_size=1_000_000,
        stream_buffer_maxsize=stream.batch_max * 2,
        broker_commit_every=stream.batch_max,
        broker_commit_interval=1.0,
    )
    # Keyed by subject. use_partitioner: a batch mixes partitions, so the changelog partition
    # is the key's murmur2 partition (the raw topics' own), not the current event's.
    consent = app.Table(
        CONSENT_TABLE,
        default=None,
        partitions=settings.topics.partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
        use_partitioner=True,
    )
    source = app.topic(*raw_topics(namespace), key_serializer="raw", value_serializer="raw")
    consent_topic = raw_topic(CONSENT_FAMILY, namespace)

    @app.agent(source, concurrency=1, name=f"{namespace}anonymize")
    async def anonymize(events: faust.StreamT[Any]) -> None:
        async for batch in events.take_events(stream.batch_max, within=stream.batch_within_s):
            deliveries = []
            # Consent changes first: a withdrawal read in this batch covers the whole batch.
            for event in sorted(batch, key=lambda e: e.message.topic != consent_topic):
                message = event.message
                outcome = processor.process(
                    message.value or b"",
                    Source(message.topic, message.partition, message.offset),
                    consent.get,
                )
                if outcome.consent_update is not None:
                    subject, state = outcome.consent_update
                    consent[subject] = state
                for out in outcome.outputs:
                    deliveries.append(
                        await app.producer.send(
                            out.topic, out.key, out.value, out.partition, None, out.headers
                        )
                    )
            # Everything this batch produced is acknowledged before the batch is.
            await app.producer.buffer.flush()
            await asyncio.gather(*deliveries)
            await app.producer.flush()

    return app
