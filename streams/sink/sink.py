"""The sink's consumer loop: clean topics in, each row once into the Parquet lake.

Records are buffered per topic-partition and flushed when a buffer holds ``flush_rows``
records or is ``flush_seconds`` old, or, largest first, when the records the sink holds
(buffered, or being written) exceed ``flush_bytes``. A flush splits its rows by event date
into one file per date, written all or nothing (``writer``), and only then commits the
offsets. A flush that comes earlier (the memory budget, or, while the sink is busy reading
``busy_rows_per_s`` or more, before its partition's first record is ``file_seconds`` old)
appends its rows to the partition's open files instead (``writer.OpenFiles``: one per
date, kept in one temporary file per partition) and commits nothing; the flush that
publishes them names them by the offsets of every flush appended: under fast input files
are larger and fewer, whatever the memory budget forces out of the buffers. On assignment
each partition resumes after the highest offset in the lake's file names, or after its
committed offset when that is further (offsets are committed only once their rows are on
disk, or were duplicates): whatever a crash interrupted is read again, and nothing twice.

Flushes are written by two writer threads while this thread goes on consuming: Arrow's JSON
reader, the Parquet writer and fsync release the GIL, so reading and writing overlap on two
cores. A partition has one flush in flight at a time. This thread commits each flush's
offsets once its files are on disk, in the order the flushes were handed over, and every
rebalance waits for the flushes in flight before it changes what the sink owns.

The clean topics are read with ``isolation.level=read_committed``: records of an aborted
transaction never reach the lake, and the offsets a transaction's commit marker takes are
never delivered. A file's range (first to last offset it holds) may therefore span offsets
that held no record; nothing in the lake treats such a gap as a loss. A partition also ends
with a marker: when the consumer reports the end and every record before it is written, the
end offset is committed, past the marker, so that the group's lag can reach 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from array import array
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from usage_pipeline.broker.clients import LIBRDKAFKA_LOG
from usage_pipeline.broker.security import Cluster, connection_config
from usage_pipeline.schemas.contracts import Contracts, load_contracts
from usage_pipeline.streams.gc_rare import rare_collections
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.sink.arrow_schema import EVENT_ID, output_schemas
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.sink.convert import Converter, event_dates, rows_by_date
from usage_pipeline.streams.sink.dedupe import SeenIds
from usage_pipeline.streams.sink.errors import RecordError
from usage_pipeline.streams.sink.layout import LakeLayout, OffsetRange
from usage_pipeline.streams.sink.writer import OpenFiles, recover, write_files
from usage_pipeline.streams.topics import clean_topics

log = logging.getLogger(__name__)

CONSUME_BATCH = 10_000
POLL_S = 0.5
COMMITTED_TIMEOUT_S = 30.0
# A restarted sink waits for its dead predecessor's session to expire before it gets the
# partitions back; Kafka's default (45 s) is long for a process that restarts at once.
SESSION_TIMEOUT_MS = 10_000
# librdkafka prefetches up to this much per partition; its default (64 MiB) alone would take
# most of the sink's memory budget across the clean topics' partitions. A partition whose
# prefetch is full is fetched again after the backoff, 1 s by default: with a small
# prefetch that wait, not the broker, would set the pace.
PREFETCH_KBYTES = 2048
FETCH_BACKOFF_MS = 20
# Flushes written at once, and flushes handed to the writers and not yet committed (one more
# waits for the oldest): one writing per core, one ready to start.
WRITERS = 2
FLUSHES_IN_FLIGHT = 3
# Records joined at once into a buffer: their values and the joined copy are held in memory
# besides the buffer, so a whole consumed batch at once would add about 12 MB at the peak.
JOIN_RECORDS = 1_000

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
    """One topic-partition's records: their values one per line, in one growing buffer
    (a list of small bytes objects would cost an object each and fragment the heap)."""

    started: float
    lines: bytearray = field(default_factory=bytearray)
    offsets: array[int] = field(default_factory=lambda: array("q"))


@dataclass
class _Open:
    """A partition's offsets handed to the writers since its files were last published:
    ``start`` to ``end``, the first buffered at ``since``."""

    start: int
    end: int
    since: float
    records: int = 0


@dataclass(frozen=True)
class _Written:
    """What the writer did with one flush."""

    rows: int
    files: int
    duplicates: int


@dataclass(frozen=True)
class _Flush:
    """A flush handed to a writer; once ``done`` succeeds, its offsets are committed if it
    ``publishes`` its partition's files (otherwise they stay open, appended to)."""

    offsets: OffsetRange
    size: int
    done: Future[_Written]
    publishes: bool

    @property
    def key(self) -> TopicPartitionKey:
        """Its topic-partition."""
        return self.offsets.topic, self.offsets.partition


class ReadRate:
    """Records read per second over the last ``window`` seconds, a window that slides with
    every call (each round of the sink's loop), not one that restarts every ``window``: when
    input stops, the rate is 0 one window after the last record, not up to two."""

    def __init__(self, window: float, now: float) -> None:
        self.window = window
        self._reads: deque[tuple[float, int]] = deque([(now, 0)])  # (time, records by then)

    def per_second(self, now: float, records: int) -> float:
        """The rate now, ``records`` having been read in all; over at least one window, so
        that the first records read are not taken for a burst."""
        reads = self._reads
        reads.append((now, records))
        while len(reads) > 1 and reads[1][0] <= now - self.window:
            reads.popleft()  # the oldest kept is the last call at least a window ago
        since, then = reads[0]
        return (records - then) / max(now - since, self.window)


def unseen_offsets(offsets: np.ndarray, next_offset: int) -> np.ndarray:
    """A mask of the offsets at least ``next_offset`` and past every offset before them."""
    floor = np.empty_like(offsets)
    floor[0] = next_offset
    np.maximum(np.maximum.accumulate(offsets[:-1]) + 1, next_offset, out=floor[1:])
    return offsets >= floor


def consumer_config(
    cluster: Cluster, sink: SinkSettings, namespace: str = "", client_id: str = "usage-pipeline"
) -> dict[str, Any]:
    """The sink's consumer: manual commits, from the earliest offset, committed records only,
    a bounded prefetch."""
    return {
        **connection_config(cluster),
        "group.id": namespace + sink.group_id,
        "client.id": f"{client_id}-sink",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        # librdkafka's default, said explicitly: the stream stage writes the clean topics in
        # transactions, and only committed records may reach the lake.
        "isolation.level": "read_committed",
        "queued.max.messages.kbytes": PREFETCH_KBYTES,
        "fetch.queue.backoff.ms": FETCH_BACKOFF_MS,
        "logger": LIBRDKAFKA_LOG,
    }


class LakeSink:
    """One member of the sink's consumer group; ``run`` until caught up or ``stop``."""

    def __init__(
        self,
        cluster: Cluster,
        sink: SinkSettings,
        policy: Policy,
        *,
        namespace: str = "",
        client_id: str = "usage-pipeline",
        contracts: Contracts | None = None,
    ) -> None:
        self.config = sink
        self.layout = LakeLayout(sink.lake_dir)
        self.purposes = clean_topics(policy, namespace)
        schemas = output_schemas(policy, contracts or load_contracts())
        self._converters = {
            topic: Converter(schemas[purpose]) for topic, purpose in self.purposes.items()
        }
        self._seen = SeenIds(self.layout, sink.dedupe_max_ids)
        self._consumer = Consumer(consumer_config(cluster, sink, namespace, client_id))
        self._writers = ThreadPoolExecutor(WRITERS, thread_name_prefix="lake-writer")
        self._in_flight: deque[_Flush] = deque()
        self._seen_lock = threading.Lock()
        self._buffers: dict[TopicPartitionKey, _Buffer] = {}
        self._open: dict[TopicPartitionKey, _Open] = {}  # the loop's view
        self._open_files: dict[TopicPartitionKey, OpenFiles] = {}  # the writers' files
        self._publish_all = False  # stopping or revoking: every flush publishes
        self._busy = False
        self._read_rate = ReadRate(sink.flush_seconds, time.monotonic())
        self._held_bytes = 0  # records buffered, or handed to a writer and not yet committed
        self._next_offset: dict[TopicPartitionKey, int] = {}
        self._assigned: set[TopicPartitionKey] = set()
        self._at_end: set[TopicPartitionKey] = set()
        self._end_offsets: dict[TopicPartitionKey, int] = {}  # where each partition ended
        self._committed: dict[TopicPartitionKey, int] = {}
        self._stopping = False
        self.stats = SinkStats()

    def run(self, until_caught_up: bool = False) -> SinkStats:
        """Consume and flush until ``stop`` (or, with ``until_caught_up``, the end of input)."""
        with rare_collections():
            return self._run(until_caught_up)

    def _run(self, until_caught_up: bool) -> SinkStats:
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
                self._commit_finished()
            self._publish_all = True
            for key in self._buffers.keys() | self._open.keys():
                self._flush(key)
            self._commit_in_flight()
        except BaseException:
            # Nothing half done survives an error: what is not in the lake is read again.
            self._buffers.clear()
            self._abandon_in_flight()
            self._open.clear()
            for files in self._open_files.values():
                files.discard()
            self._open_files.clear()
            raise
        finally:
            self._writers.shutdown()
            self._consumer.close()
        return self.stats

    def stop(self) -> None:
        """Ask ``run`` to flush everything and return (safe to call from a signal handler)."""
        self._stopping = True

    def _caught_up(self) -> bool:
        return bool(self._assigned) and self._assigned <= self._at_end

    def _add(self, messages: list[Message]) -> None:
        """Buffer a consumed batch, a run of consecutive records of one partition at a time
        (librdkafka hands over each partition's fetch in one piece), so that the per-record
        Python work is only reading each message's position and value."""
        run: list[Message] = []
        run_key: TopicPartitionKey | None = None
        for message in messages:
            if message.error() is not None:
                if run_key is not None:
                    self._add_run(run_key, run)
                run, run_key = [], None
                self._on_error(message)
                continue
            key = (message.topic(), message.partition())
            if key != run_key:
                if run_key is not None:
                    self._add_run(run_key, run)
                run, run_key = [], key
            run.append(message)
        if run_key is not None:
            self._add_run(run_key, run)

    def _on_error(self, message: Message) -> None:
        """The end of a partition (commit its end offset if nothing of it is held); or raise."""
        error = message.error()
        if error.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(error)
        key = (message.topic(), message.partition())
        self._at_end.add(key)
        self._end_offsets[key] = message.offset()
        if key not in self._buffers and key not in self._open and not self._in_flight_for(key):
            self._commit([TopicPartition(key[0], key[1], message.offset())])

    def _add_run(self, key: TopicPartitionKey, run: list[Message]) -> None:
        """Append consecutive records of one partition to its buffer, flushing as it fills."""
        offsets = np.fromiter((m.offset() for m in run), np.int64, len(run))
        keep = unseen_offsets(offsets, self._next_offset.get(key, 0))
        if not keep.all():  # never write an offset twice
            run = list(compress(run, keep.tolist()))
            offsets = offsets[keep]
        if not run:
            return
        self._next_offset[key] = int(offsets[-1]) + 1
        self._at_end.discard(key)
        self.stats.records += len(run)
        flush_rows, start = self.config.flush_rows, 0
        while start < len(run):
            buffer = self._buffers.get(key)
            if buffer is None:
                buffer = self._buffers[key] = _Buffer(time.monotonic())
            end = min(start + flush_rows - len(buffer.offsets), start + JOIN_RECORDS)
            values = [m.value() for m in run[start:end]]
            if None in values:
                offset = offsets[start + values.index(None)]
                raise RecordError(f"{key[0]} partition {key[1]} offset {offset}: empty record")
            size = len(buffer.lines)
            buffer.lines += b"\n".join(values)
            buffer.lines += b"\n"
            buffer.offsets.frombytes(offsets[start:end].tobytes())
            self._held_bytes += len(buffer.lines) - size
            start = end
            if len(buffer.offsets) >= flush_rows:
                self._flush(key)
            while self._held_bytes > self.config.flush_bytes:
                self._make_room()

    def _make_room(self) -> None:
        """Over the memory budget: flush the largest buffer, or, with as many flushes in flight
        as allowed, wait for the oldest to be written and committed."""
        buffers = self._buffers
        if buffers and len(self._in_flight) < FLUSHES_IN_FLIGHT:
            self._flush(max(buffers, key=lambda key: len(buffers[key].lines)))
        else:
            self._commit_finished(wait_for_oldest=True)

    def _flush_old(self) -> None:
        now = time.monotonic()
        self._measure_rate(now)
        for key, buffer in list(self._buffers.items()):
            if now - buffer.started >= self.config.flush_seconds:
                self._flush(key)
        for key, opened in list(self._open.items()):
            if key not in self._buffers and self._due(opened, now) and not self._in_flight_for(key):
                self._flush(key)  # publishes what it appended

    def _measure_rate(self, now: float) -> None:
        """Is the sink reading at least ``busy_rows_per_s``, over the last ``flush_seconds``?"""
        rate = self._read_rate.per_second(now, self.stats.records)
        self._busy = rate >= self.config.busy_rows_per_s

    def _due(self, opened: _Open, now: float) -> bool:
        """Whether a partition's files are to be published: full, or as old as allowed."""
        if self._publish_all or opened.records >= self.config.flush_rows:
            return True
        longest = self.config.file_seconds if self._busy else self.config.flush_seconds
        return now - opened.since >= longest

    def _in_flight_for(self, key: TopicPartitionKey) -> bool:
        return any(f.key == key for f in self._in_flight)

    def _flush(self, key: TopicPartitionKey) -> None:
        """Hand one buffer (if any) to a writer, appending to its partition's files or
        publishing them; offsets are committed once a writer has published their files."""
        # One flush per partition at a time (its intent file, its event ids seen so far). The
        # buffer is taken only after the wait: committing the partition's earlier flush while
        # this buffer is out of sight would move its offset past these records to the end
        # marker (a SIGKILL before they are written lost them: test_kill found it).
        while len(self._in_flight) >= FLUSHES_IN_FLIGHT or self._in_flight_for(key):
            self._commit_finished(wait_for_oldest=True)
        buffer = self._buffers.pop(key, None)
        opened = self._open.get(key)
        if buffer is not None:
            if opened is None:
                opened = self._open[key] = _Open(buffer.offsets[0], 0, buffer.started)
            opened.end = buffer.offsets[-1]
            opened.records += len(buffer.offsets)
        if opened is None:
            return
        publishes = self._due(opened, time.monotonic())
        if publishes:
            del self._open[key]
        offsets = OffsetRange(key[0], key[1], opened.start, opened.end)
        done = self._writers.submit(self._write, offsets, buffer, publishes)
        size = 0 if buffer is None else len(buffer.lines)
        self._in_flight.append(_Flush(offsets, size, done, publishes))

    def _write(self, offsets: OffsetRange, buffer: _Buffer | None, publishes: bool) -> _Written:
        """On a writer thread: a buffer's rows, one file per event date, appended to the
        partition's open files or published with them, all or nothing."""
        key = (offsets.topic, offsets.partition)
        purpose = self.purposes[offsets.topic]
        rows, duplicates, pieces = self._convert(purpose, offsets, buffer)
        files = self._open_files.get(key)
        if files is None and publishes:  # nothing appended before: write the files at once
            paths = ((self.layout.data_path(purpose, day, offsets), piece) for day, piece in pieces)
            write_files(self.layout, offsets, paths)
            return _Written(rows, len(pieces), duplicates)
        if files is None:
            files = self._open_files[key] = OpenFiles(self.layout, *key, offsets.start)
        for day, piece in pieces:
            files.append(self.layout.day_dir(purpose, day), piece)
        if not publishes:
            return _Written(rows, 0, duplicates)
        del self._open_files[key]
        days = len(files)
        write_files(self.layout, offsets, files.close(offsets.file_name))
        return _Written(rows, days, duplicates)

    def _convert(
        self, purpose: str, offsets: OffsetRange, buffer: _Buffer | None
    ) -> tuple[int, int, list[tuple[dt.date, pa.Table]]]:
        """A buffer's rows less duplicates: how many, the duplicates, and each event date's
        rows."""
        if buffer is None:
            return 0, 0, []
        topic, partition = offsets.topic, offsets.partition
        table = self._converters[topic].to_table(buffer.lines, topic, partition, buffer.offsets)
        buffer.lines.clear()  # parsed: its memory can go before the files are written
        days = event_dates(table)
        with self._seen_lock:
            keep = self._seen.first_occurrences(purpose, topic, partition, table[EVENT_ID], days)
        if not pc.all(keep).as_py():  # filtering copies every column: only when rows go
            table, days = table.filter(keep), days.filter(keep)
        return table.num_rows, len(buffer.offsets) - table.num_rows, rows_by_date(table, days)

    def _commit_finished(self, wait_for_oldest: bool = False) -> None:
        """Commit, in one request, the flushes finished in a row from the oldest on."""
        finished = []
        while self._in_flight and (wait_for_oldest or self._in_flight[0].done.done()):
            finished.append(self._in_flight.popleft())
            wait_for_oldest = False
        self._commit_flushes(finished)

    def _commit_in_flight(self, lost: frozenset[TopicPartitionKey] = frozenset()) -> None:
        """Wait for every flush in flight and commit it, except those of ``lost`` partitions."""
        finished = list(self._in_flight)
        self._in_flight.clear()
        self._commit_flushes(finished, skip=lost)

    def _commit_flushes(
        self, flushes: list[_Flush], skip: frozenset[TopicPartitionKey] = frozenset()
    ) -> None:
        """Wait for ``flushes`` (raising what failed one), then commit their offsets."""
        positions: dict[TopicPartitionKey, int] = {}
        for flush in flushes:
            written = flush.done.result()
            self._held_bytes -= flush.size
            offsets = flush.offsets
            if flush.publishes and flush.key not in skip:
                positions[flush.key] = offsets.end + 1
                if flush.key not in self._buffers and flush.key not in self._open:
                    # nothing read since: past the end markers
                    positions[flush.key] = max(offsets.end + 1, self._end_offsets.get(flush.key, 0))
            self.stats.flushes += 1
            self.stats.files += written.files
            self.stats.rows += written.rows
            self.stats.duplicates += written.duplicates
            log.debug(
                "flushed %s: %d rows in %d files", offsets.file_name, written.rows, written.files
            )
        if positions:
            self._commit([TopicPartition(t, p, offset) for (t, p), offset in positions.items()])

    def _abandon_in_flight(self) -> None:
        """After an error: let the writers finish what they started, commit nothing of it."""
        wait([flush.done for flush in self._in_flight])
        self._in_flight.clear()
        self._held_bytes = 0

    def _commit(self, positions: list[TopicPartition]) -> None:
        committed = self._committed
        positions = [tp for tp in positions if committed.get((tp.topic, tp.partition)) != tp.offset]
        if not positions:
            return
        try:
            self._consumer.commit(offsets=positions, asynchronous=False)
            committed.update({(tp.topic, tp.partition): tp.offset for tp in positions})
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() not in _SKIPPABLE_COMMIT_ERRORS:
                raise
            # A later flush commits past it; until then a restart resumes from the file names.
            log.warning(
                "commit of %s skipped: %s",
                ", ".join(f"{tp.topic}[{tp.partition}]@{tp.offset}" for tp in positions),
                error.str(),
            )

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
        publish_all, self._publish_all = self._publish_all, True
        for tp in partitions:
            key = (tp.topic, tp.partition)
            if key in self._buffers or key in self._open:
                self._flush(key)
        self._publish_all = publish_all
        self._commit_in_flight()
        for tp in partitions:
            self._forget((tp.topic, tp.partition))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Partitions taken away without a revoke (our session expired, e.g. across a broker
        restart): another member may own them already, so their buffers are not written, and
        flushes already in flight are finished but not committed (their file names hold the
        position the next owner resumes from)."""
        lost = frozenset((tp.topic, tp.partition) for tp in partitions)
        self._commit_in_flight(lost)
        for key in lost:
            buffer = self._buffers.pop(key, None)
            if buffer is not None:
                self._held_bytes -= len(buffer.lines)
            files = self._open_files.pop(key, None)
            if files is not None:
                files.discard()
            self._forget(key)

    def _forget(self, key: TopicPartitionKey) -> None:
        self._open.pop(key, None)
        self._next_offset.pop(key, None)
        self._end_offsets.pop(key, None)
        self._committed.pop(key, None)
        self._assigned.discard(key)
        self._at_end.discard(key)
        self._seen.forget(*key)
