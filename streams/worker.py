"""The faust-streaming worker: raw topics in; clean topics and dead letters out; consent in a table.

Delivery is at least once. The worker commits raw offsets from its own ledger
(``streams/offsets.py``), not from faust's acknowledgements: a batch counts as processed
once every output it produced, and every consent change written to the table's changelog,
is acknowledged by the broker. Records the consumer skipped (faust can deliver a partition
with a jump in it) are read back from the broker and processed with the batch. A batch
whose processing is interrupted makes the worker exit; a restart resumes at the last commit.
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
from faust.types import TP

from broker.admin import committed_positions, read_range, read_topic
from broker.security import Cluster, address, faust_credentials
from schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from streams.consent import ConsentState
from streams.deadletter import Source
from streams.faust_commits import BatchGate, commit_from_ledger
from streams.offsets import Gap, OffsetLedger, SourceRecord
from streams.output import OutputProducer
from streams.processor import Processor, forget_consent
from usage_pipeline.settings import Settings

log = logging.getLogger(__name__)

CONSENT_TABLE = "consent"
EXIT_MID_BATCH = 75  # EX_TEMPFAIL: stopped mid-batch; a restart processes the batch again
SKIPPED_READER = "-skipped-reader"  # suffix of the client that reads skipped records back


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
        broker_commit_interval=1.0,  # commits the ledger (commit_every counts acks: off here)
    )
    ledger = OffsetLedger()
    gate = BatchGate(rebalancing=lambda: app.rebalancing)
    commit_from_ledger(app, ledger, gate)
    # Keyed by subject. use_partitioner: a batch mixes partitions, so the changelog partition
    # is the key's murmur2 partition (the raw topics' own), not the current event's.
    consent = app.Table(
        CONSENT_TABLE,
        default=None,
        partitions=settings.topics.partitions,
        schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"),
        use_partitioner=True,
        # Superseded and erased subjects' states are compacted away within the raw retention.
        extra_topic_configs={"max.compaction.lag.ms": str(settings.topics.raw_retention_ms)},
    )
    consent_topic = raw_topic(CONSENT_FAMILY, namespace)
    # acks off: faust keeps no offsets for the raw topics; the ledger's positions are committed.
    source = app.topic(
        *raw_topics(namespace), key_serializer="raw", value_serializer="raw", acks=False
    )
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

    async def read_skipped(gaps: list[Gap]) -> list[SourceRecord]:
        loop = asyncio.get_running_loop()
        records = []
        for gap in gaps:
            messages = await loop.run_in_executor(
                None,
                lambda gap=gap: read_range(
                    cluster,
                    gap.topic,
                    gap.partition,
                    gap.start,
                    gap.end,
                    group=app.conf.id + SKIPPED_READER,
                ),
            )
            # None read back is a compacted topic's gap; any is a record the consumer skipped.
            log.log(
                logging.WARNING if messages else logging.INFO,
                "%s[%d] offsets %d to %d did not arrive: %d record(s) read back from the broker",
                gap.topic,
                gap.partition,
                gap.start,
                gap.end - 1,
                len(messages),
            )
            records += [
                SourceRecord(m.topic(), m.partition(), m.offset(), m.key(), m.value())
                for m in messages
            ]
        return records

    def process_batch(records: list[SourceRecord]) -> None:
        # Consent changes first: a withdrawal read in this batch covers the whole batch.
        # Within a partition, offset order.
        for record in sorted(
            records, key=lambda r: (r.topic != consent_topic, r.topic, r.partition, r.offset)
        ):
            if record.value is None and record.topic == consent_topic:
                store(forget_consent(record.key, consent.get))  # a subject's erasure
                continue
            outcome = processor.process(
                record.value or b"",
                Source(record.topic, record.partition, record.offset),
                consent.get,
            )
            if outcome.consent_update is not None:
                subject, state = outcome.consent_update
                consent[subject] = state
            for output in outcome.outputs:
                outputs.send(output)

    @app.on_partitions_revoked.connect
    async def forget_revoked(_sender: faust.App, revoked: set[TP], **_: Any) -> None:
        # Sent after faust waited for the batch in flight and committed; the gate stays
        # closed until recovery is over, so no batch runs meanwhile.
        ledger.forget((tp.topic, tp.partition) for tp in revoked)

    async def positions_of(records: list[SourceRecord]) -> None:
        # Partitions new to the ledger start at the group's committed offset.
        if unknown := ledger.unknown(records):
            topics = sorted({topic for topic, _ in unknown})
            positions = await asyncio.get_running_loop().run_in_executor(
                None, committed_positions, cluster, app.conf.id, topics
            )
            ledger.start_from({p: positions[p] for p in unknown if p in positions})

    @app.agent(source, concurrency=1, name=f"{namespace}anonymize")
    async def anonymize(events: faust.StreamT[Any]) -> None:
        loop = asyncio.get_running_loop()
        replayed = False
        async for batch in events.take_events(stream.batch_max, within=stream.batch_within_s):
            async with gate.batch():
                try:
                    if not replayed:  # here, not before the loop: table recovery is over
                        await replay_consent()
                        replayed = True
                    # Records of partitions lost in a rebalance are left to their new owner,
                    # which reads them from the group's committed offset.
                    assigned = app.consumer.assignment()
                    records = [
                        SourceRecord(m.topic, m.partition, m.offset, m.key, m.value)
                        for m in (event.message for event in batch)
                        if m.tp in assigned
                    ]
                    await positions_of(records)
                    gaps = ledger.gaps(records)
                    if gaps:
                        records += await read_skipped(gaps)
                    process_batch(records)
                    # Everything this batch produced is acknowledged before the ledger moves.
                    await loop.run_in_executor(None, outputs.flush)
                    while app.producer.buffer.size:  # its flush() gives up after 0.1 s idle
                        await app.producer.buffer.flush()
                    await app.producer.flush()
                    ledger.advance(records, gaps)
                except BaseException as exc:
                    # Leaving at once keeps delivery at least once and simple: nothing of
                    # this batch is in the ledger, and a restart resumes at the last commit.
                    # The exception's type only: its text could quote an event.
                    log.critical(
                        "stopped mid-batch (%s): exiting without committing %d",
                        type(exc).__name__,
                        len(batch),
                    )
                    logging.shutdown()
                    os._exit(EXIT_MID_BATCH)

    return app
