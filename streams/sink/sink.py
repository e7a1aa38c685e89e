"""The sink's consumer loop: clean topics in, each row once into the Parquet lake.

Records are buffered per topic-partition and flushed when a buffer holds ``flush_rows``
records or is ``flush_seconds`` old, or when all buffers together exceed ``flush_bytes``
(the largest goes first). A flush splits its rows by event date into one file per date,
written all or nothing (``writer``), and only then commits the offsets. On assignment each
partition resumes after the highest offset in the lake's file names, or after its
committed offset when that is further (offsets are committed only once their rows are on
disk, or were duplicates): whatever a crash interrupted is read again, and nothing twice.

The clean topics are written in transactions and read committed: offsets have gaps (the
transactions' control markers) and a partition ends with one. Reaching the end of a partition
with nothing left to write commits the end offset, past the markers, so the group's lag can
reach 0.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pyarrow.compute as pc
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from broker.security import Cluster, connection_config
from schemas.contracts import Contracts, load_contracts
from streams.policy.model import Policy
from streams.sink.arrow_schema import EVENT_ID, output_schemas
from streams.sink.convert import Converter, RecordError, event_dates
from streams.sink.dedupe import SeenIds
from streams.sink.layout import LakeLayout, OffsetRange
from streams.sink.writer import recover, write_files
from usage_pipeline.settings import Settings

log = logging.getLogger(__name__)

CONSUME_BATCH = 10_000
POLL_S = 0.5
COMMITTED_TIMEOUT_S = 30.0
# A restarted sink waits for its dead predecessor's session to expire before it gets the
# partitions back; Kafka's default (45 s) is long for a process that restarts at once.
SESSION_TIMEOUT_MS = 10_000

TopicPartitionKey = tuple[str, int]

# Commit failures of a broker restart or a rebalance. The flushed rows are on disk and their
# file names hold the position the partition resumes from, so such a commit can be skipped.
_SKIPPABLE_COMMIT_ERRORS = {
    KafkaError._WAIT_COORD,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
}


@dataclass
class SinkStats:
    """What a run of the sink did."""

    records: int = 0
    rows: int = 0
    duplicates: int = 0
    files: int = 0
    flushes: int = 0


@dataclass
class _Buffer:
    started: float
    values: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    size: int = 0


def sink_topics(policy: Policy, namespace: str) -> dict[str, str]:
    """The clean topics the sink reads, each with the purpose it serves."""
    return {namespace + purpose.output: name for name, purpose in policy.purposes.items()}


class LakeSink:
    """One member of the sink's consumer group; ``run`` until caught up or ``stop``."""

    def __init__(
        self,
        cluster: Cluster,
        settings: Settings,
        policy: Policy,
        contracts: Contracts | None = None,
    ) -> None:
        self.config = settings.sink
        self.layout = LakeLayout(settings.sink.lake_dir)
        self.purposes = sink_topics(policy, settings.topics.namespace)
        schemas = output_schemas(policy, contracts or load_contracts())
        self._converters = {
            topic: Converter(schemas[purpose]) for topic, purpose in self.purposes.items()
        }
        self._seen = SeenIds(self.layout, settings.sink.dedupe_max_ids)
        self._consumer = Consumer(
            {
                **connection_config(cluster),
                "group.id": settings.topics.namespace + settings.sink.group_id,
                "client.id": f"{settings.kafka.client_id}-sink",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
                "isolation.level": "read_committed",
                "session.timeout.ms": SESSION_TIMEOUT_MS,
            }
        )
        self._buffers: dict[TopicPartitionKey, _Buffer] = {}
        self._buffered_bytes = 0
        self._next_offset: dict[TopicPartitionKey, int] = {}
        self._assigned: set[TopicPartitionKey] = set()
        self._at_end: set[TopicPartitionKey] = set()
        self._end_offsets: dict[TopicPartitionKey, int] = {}  # where each partition ended
        self._committed: dict[TopicPartitionKey, int] = {}
        self._stopping = False
        self.stats = SinkStats()

    def run(self, until_caught_up: bool = False) -> SinkStats:
        """Consume and flush until ``stop`` (or, with ``until_caught_up``, the end of input)."""
        self._consumer.subscribe(
            sorted(self.purposes),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        try:
            while not self._stopping and not (until_caught_up and self._caught_up()):
                self._add(self._consumer.consume(num_messages=CONSUME_BATCH, timeout=POLL_S))
                self._flush_old()
            for key in list(self._buffers):
                self._flush(key)
        except BaseException:
            # Nothing half done survives an error: what is not in the lake is read again.
            self._buffers.clear()
            raise
        finally:
            self._consumer.close()
        return self.stats

    def stop(self) -> None:
        """Ask ``run`` to flush everything and return (safe to call from a signal handler)."""
        self._stopping = True

    def _caught_up(self) -> bool:
        return bool(self._assigned) and self._assigned <= self._at_end

    def _add(self, messages: list[Message]) -> None:
        next_offset, buffers, at_end = self._next_offset, self._buffers, self._at_end
        flush_rows, added = self.config.flush_rows, 0
        for message in messages:
            key = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(error)
                at_end.add(key)
                self._end_offsets[key] = message.offset()
                if key not in buffers:
                    self._commit(TopicPartition(key[0], key[1], message.offset()))
                continue
            offset = message.offset()
            if offset < next_offset.get(key, 0):
                continue  # never write an offset twice
            value = message.value()
            if value is None:
                raise RecordError(f"{key[0]} partition {key[1]} offset {offset}: empty record")
            next_offset[key] = offset + 1
            at_end.discard(key)
            added += 1
            buffer = buffers.get(key)
            if buffer is None:
                buffer = buffers[key] = _Buffer(time.monotonic())
            buffer.values.append(value)
            buffer.offsets.append(offset)
            buffer.size += len(value)
            self._buffered_bytes += len(value)
            if len(buffer.offsets) >= flush_rows:
                self._flush(key)
            while self._buffered_bytes > self.config.flush_bytes:
                self._flush(max(buffers, key=lambda k: buffers[k].size))
        self.stats.records += added

    def _flush_old(self) -> None:
        now = time.monotonic()
        for key, buffer in list(self._buffers.items()):
            if now - buffer.started >= self.config.flush_seconds:
                self._flush(key)

    def _flush(self, key: TopicPartitionKey) -> None:
        """Write one buffer's rows (one file per event date), then commit its offsets."""
        buffer = self._buffers.pop(key)
        self._buffered_bytes -= buffer.size
        topic, partition = key
        purpose = self.purposes[topic]
        offsets = OffsetRange(topic, partition, buffer.offsets[0], buffer.offsets[-1])
        table = self._converters[topic].to_table(buffer.values, topic, partition, buffer.offsets)
        days = event_dates(table)
        keep = self._seen.first_occurrences(purpose, topic, partition, table[EVENT_ID], days)
        table, days = table.filter(keep), days.filter(keep)
        files = [
            (self.layout.data_path(purpose, day, offsets), table.filter(pc.equal(days, day)))
            for day in pc.unique(days).to_pylist()
        ]
        write_files(self.layout, offsets, files)
        end = max(offsets.end + 1, self._end_offsets.get(key, 0))  # past trailing markers
        self._commit(TopicPartition(topic, partition, end))
        self.stats.flushes += 1
        self.stats.files += len(files)
        self.stats.rows += table.num_rows
        self.stats.duplicates += len(buffer.offsets) - table.num_rows
        log.debug("flushed %s: %d rows in %d files", offsets.file_name, table.num_rows, len(files))

    def _commit(self, position: TopicPartition) -> None:
        key = (position.topic, position.partition)
        if self._committed.get(key) == position.offset:
            return
        try:
            self._consumer.commit(offsets=[position], asynchronous=False)
            self._committed[key] = position.offset
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() not in _SKIPPABLE_COMMIT_ERRORS:
                raise
            # A later flush commits past it; until then a restart resumes from the file names.
            log.warning(
                "commit of %s[%d]@%d skipped: %s",
                position.topic, position.partition, position.offset, error.str(),
            )  # fmt: skip

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in consumer.committed(partitions, timeout=COMMITTED_TIMEOUT_S)
        }
        for tp in partitions:
            key = (tp.topic, tp.partition)
            recover(self.layout, *key)
            last = self.layout.last_offset(self.purposes[tp.topic], *key)
            if last is not None:
                tp.offset = max(last + 1, committed[key])
            elif committed[key] >= 0:
                tp.offset = committed[key]
            if tp.offset >= 0:
                self._next_offset[key] = tp.offset
            self._assigned.add(key)
        log.info(
            "assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in partitions)
        )
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if key in self._buffers:
                self._flush(key)
            self._forget(key)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away without a revoke (our session expired, e.g. across a broker
        restart): another member may own them already, so their buffers are not written."""
        for tp in partitions:
            key = (tp.topic, tp.partition)
            buffer = self._buffers.pop(key, None)
            if buffer is not None:
                self._buffered_bytes -= buffer.size
            self._forget(key)

    def _forget(self, key: TopicPartitionKey) -> None:
        self._next_offset.pop(key, None)
        self._end_offsets.pop(key, None)
        self._committed.pop(key, None)
        self._assigned.discard(key)
        self._at_end.discard(key)
        self._seen.forget(*key)
