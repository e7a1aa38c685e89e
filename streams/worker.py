"""The faust-streaming worker: raw topics in; clean topics and dead letters out; consent in a table.

Delivery is at least once. A batch from ``take_events`` is acknowledged when the loop comes
back for the next one, so every output of the batch, and every consent change written to
the table's changelog, is acknowledged by the broker before that happens. faust also
acknowledges a batch whose processing was interrupted (a stop, an error): the worker then
exits at once, before that acknowledgement can be committed, and a restart redoes the batch.
Concurrency is 1 (faust-streaming #606: with more, offsets can be committed past unprocessed
messages).

Consent comes first: before its first batch the worker replays the whole (compacted)
consent topic into the table, so every decision published before it started covers every
event it processes; within a batch, consent records are applied before other events.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import faust

from broker.admin import read_topic
from broker.security import Cluster, address, faust_credentials
from schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from streams.consent import ConsentState
from streams.deadletter import Source
from streams.output import OutputProducer
from streams.processor import Processor, forget_consent
from usage_pipeline.settings import Settings

log = logging.getLogger(__name__)

CONSENT_TABLE = "consent"
EXIT_MID_BATCH = 75  # EX_TEMPFAIL: stopped mid-batch; a restart processes the batch again


def build_app(settings: Settings, cluster: Cluster, processor: Processor) -> faust.App:
    """A faust app with the consent table and the anonymizing agent."""
    stream = settings.stream
    namespace = settings.topics.namespace
    # faust keeps table metadata in datadir, by default beside the working directory.
    datadir = settings.home / "faust" / (namespace + stream.app_id)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        namespace + stream.app_id,
        broker=f"kafka://{address(cluster)}",
        broker_credentials=faust_credentials(cluster),
        store=stream.store,
        datadir=datadir,
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
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
    consent_topic = raw_topic(CONSENT_FAMILY, namespace)
    source = app.topic(*raw_topics(namespace), key_serializer="raw", value_serializer="raw")
    outputs = OutputProducer(cluster, settings.producer, f"{app.conf.id}-outputs")

    def store(update: tuple[str, ConsentState | None] | None) -> None:
        if update is None:
            return
        subject, state = update
        if state is not None:
            consent[subject] = state
        elif subject in consent:  # an erased subject: its changelog gets a tombstone too
            del consent[subject]

    async def replay_consent() -> None:
        loop = asyncio.get_running_loop()
        replay_group = f"{app.conf.id}-consent-replay"  # under the app's group ACL
        records = await loop.run_in_executor(
            None, lambda: read_topic(cluster, consent_topic, group=replay_group)
        )
        for record in records:
            value = record.value()
            if value is None:
                store(forget_consent(record.key(), consent.get))
            else:
                store(processor.replay_consent(value, consent.get))
        log.info("consent replayed: %d records", len(records))

    def process_batch(batch: list[faust.EventT]) -> None:
        # Consent changes first: a withdrawal read in this batch covers the whole batch.
        for event in sorted(batch, key=lambda e: e.message.topic != consent_topic):
            message = event.message
            if message.value is None and message.topic == consent_topic:
                store(forget_consent(message.key, consent.get))  # a subject's erasure
                continue
            outcome = processor.process(
                message.value or b"",
                Source(message.topic, message.partition, message.offset),
                consent.get,
            )
            if outcome.consent_update is not None:
                subject, state = outcome.consent_update
                consent[subject] = state
            for output in outcome.outputs:
                outputs.send(output)

    @app.agent(source, concurrency=1, name=f"{namespace}anonymize")
    async def anonymize(events: faust.StreamT[Any]) -> None:
        replayed = False
        async for batch in events.take_events(stream.batch_max, within=stream.batch_within_s):
            try:
                if not replayed:  # here, not before the loop: table recovery is over by now
                    await replay_consent()
                    replayed = True
                process_batch(batch)
                # Everything this batch produced is acknowledged before the batch is.
                await asyncio.get_running_loop().run_in_executor(None, outputs.flush)
            except BaseException:
                # take_events acknowledges a batch when its generator closes, processed or
                # not (a `finally` in faust), and a stopping worker commits what is acked.
                # Leaving before that can happen keeps delivery at least once.
                log.critical("stopped mid-batch: exiting without acknowledging %d", len(batch))
                logging.shutdown()
                os._exit(EXIT_MID_BATCH)
            while app.producer.buffer.size:  # its flush() gives up after 0.1 s without progress
                await app.producer.buffer.flush()
            await app.producer.flush()

    return app
