"""The exactly-once read-process-write loop: raw topics in, clean topics out, one transaction.

Each round reads up to ``batch_max`` records (``consume``), applies consent records at once,
holds event records until their consent partition is read far enough (``ordering``), runs
the ``Processor`` on the released ones and adds their outputs to the open transaction. Every
``commit_interval_s`` (or ``commit_every`` records) the transaction is committed together with
the input positions (``send_offsets_to_transaction``), so outputs and offsets become visible
together or not at all. The commit is the last step of a round, and the positions it sends
never pass a record that is held, so nothing is skipped.

On an abortable error the transaction is aborted and everything is rewound to the last
commit: input positions, consent state (rebuilt from raw.consent), and the links already
written; nothing in memory runs ahead of what was committed. A fatal error ends the process.

Offsets ride on the records (``positions.py``): what is committed is computed from the
records the worker finished, never from the consumer's position, which also counts records
handed over in a batch that a rebalance then made stale. Such a batch is dropped whole and its
partitions are read again from where the worker stands.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.processor import Outcome, Processor, consent_after_tombstone
from usage_pipeline.streams.visitors import VisitorSalts
from usage_pipeline.streams.worker.client_errors import ClientErrors
from usage_pipeline.streams.worker.consent_store import ConsentStore
from usage_pipeline.streams.worker.health import Health, StreamMetrics
from usage_pipeline.streams.worker.ordering import ConsentGate
from usage_pipeline.streams.worker.positions import Key, Positions
from usage_pipeline.streams.worker.transaction import Transactions

log = logging.getLogger(__name__)

COMMITTED_TIMEOUT_S = 30.0
STATS_EVERY_S = 1.0


class AssignmentError(RuntimeError):
    """The group gave this worker event partitions without their consent partitions."""


@dataclass(frozen=True)
class LoopConfig:
    """The loop's own settings."""

    raw_topics: tuple[str, ...]
    consent_topic: str
    batch_max: int
    poll_s: float
    commit_interval_s: float
    commit_every: int
    hold_per_partition: int  # held records of one topic-partition beyond which it pauses
    consent_grace_s: float  # how late a record may reach the broker (ordering.py)


class StreamLoop:
    """One worker's consumer, transactional producer, consent state and gate."""

    def __init__(
        self,
        config: LoopConfig,
        consumer: Consumer,
        transactions: Transactions,
        admin: AdminClient,
        processor: Processor,
        salts: VisitorSalts,
        health: Health,
        metrics: StreamMetrics,
        errors: ClientErrors,
    ) -> None:
        self.config = config
        self._errors = errors
        self._consumer = consumer
        self._txn = transactions
        self._admin = admin
        self._processor = processor
        self._salts = salts
        self._health = health
        self._metrics = metrics
        self._store = ConsentStore()
        self._gate = ConsentGate(
            self._request_fences, config.raw_topics, config.consent_topic, config.consent_grace_s
        )
        self._paused: set[Key] = set()
        self._positions = Positions()
        self._rebalanced = False
        self._uncommitted = 0
        self._last_commit = time.monotonic()
        self._last_stats = 0.0
        self._closing = False
        # Counted here and handed to Prometheus once a second: its labels() costs a lock and a
        # lookup per call, several microseconds an event.
        self._consumed: Counter[str] = Counter()
        self._produced: Counter[str] = Counter()
        self._decisions: list[tuple[str, str]] = []  # counted once a second: cheaper
        self._dead_letters: Counter[tuple[str, str]] = Counter()

    def run(self, stopping: Callable[[], bool]) -> None:
        """Process until ``stopping()`` says so; commit what was processed and leave."""
        self._consumer.subscribe(
            list(self.config.raw_topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        self._health.beat()
        self._health.state = "running"
        try:
            while not stopping():
                self._errors.raise_fatal()
                self._round()
                if self._commit_due():
                    self._commit()
                self._beat()
            self._health.state = "stopping"
            self._commit()
        finally:
            # A static member's close sends no LeaveGroup: a restart takes its partitions back
            # without a rebalance. After a failure the open transaction is left to be aborted
            # by the next instance's init_transactions (same transactional id).
            self._closing = True
            self._consumer.close()

    # One round -----------------------------------------------------------------------

    def _round(self) -> None:
        self._rebalanced = False
        messages = self._consumer.consume(
            self.config.batch_max, self._gate.wait_s(self.config.poll_s)
        )
        if self._rebalanced:
            # Part of this batch was handed over before the group changed: read again from
            # where the worker stands, so that nothing is skipped and nothing is stale.
            self._seek(self._positions.next_offsets())
            return
        held: list[Message] = []
        consent_topic, positions, store = self.config.consent_topic, self._positions, self._store
        for message in messages:
            key = (message.topic(), message.partition())
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    positions.at_end(key, message.offset())
                else:
                    self._consumer_error(error)
                continue
            if not positions.accept(key, message.offset()):
                continue  # read again after a seek, or of a partition no longer ours
            self._consumed[key[0]] += 1
            if key[0] == consent_topic and (
                store.is_replay(key[1], message.offset())
                or self._processor.written_by_stream(message.headers())
            ):
                # History, or a record this stream wrote (a derived withdrawal already in the
                # state, or a moved copy, honoured from when it is read): nothing to order.
                self._consent_record(
                    key[1], message.offset(), message.key(), message.value(), message.headers()
                )
                positions.done(key, message.offset())
            else:
                held.append(message)
        if held:
            self._gate.hold(held)
        # Where each topic-partition's released records end: a partition's records come in
        # offset order, so its last one is marked done once, after the batch.
        finished: dict[Key, int] = {}
        gate, process, apply = self._gate, self._processor.process, self._apply
        for timestamp, topic, partition, offset, key, value in gate.release(positions.read):
            if topic == consent_topic:
                self._consent_record(partition, offset, key, value)
            else:
                payload, consent_of = value or b"", store.lookup(partition)
                ahead = gate.ahead(partition, timestamp, key)
                if ahead:
                    consent_of = self._processor.consent_ahead(payload, ahead, consent_of)
                source = Source(topic, partition, offset)
                apply(partition, process(payload, source, consent_of, key=key))
            finished[topic, partition] = offset
        for key, offset in finished.items():
            positions.done(key, offset)
        self._pause_or_resume()
        self._txn.poll()

    def _consent_record(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes | None]] | None = None,
    ) -> None:
        """Apply (and, when new, process) one record of raw.consent (``headers``: None for
        one the gate held, which never holds a record the stream wrote)."""
        lookup = self._store.lookup(partition)
        if value is None:  # an erasure's tombstone: that purpose is forgotten
            forgotten = consent_after_tombstone(key, lookup)
            if forgotten is not None:
                self._store.put(partition, *forgotten)
            self._uncommitted += 1
            return
        if self._store.is_replay(partition, offset) or self._processor.is_rehomed(headers):
            update = self._processor.replay_consent(value, partition, lookup)
            if update is not None:
                self._store.put(partition, *update)
            return
        source = Source(self.config.consent_topic, partition, offset)
        self._apply(partition, self._processor.process(value, source, lookup, key=key))

    def _apply(self, partition: int, outcome: Outcome) -> None:
        """Keep the consent change and send the outputs of one processed record."""
        self._uncommitted += 1
        if outcome.consent_update is not None:
            self._store.put(partition, *outcome.consent_update)
        outputs = outcome.outputs
        self._txn.produce(outputs)
        for output in outputs:
            self._produced[output.topic] += 1
        self._decisions += outcome.decisions
        if outcome.dead_letter is not None:
            self._dead_letters[outcome.dead_letter] += 1

    def _consumer_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("consumer: %s", error.str())

    # Consent before events ----------------------------------------------------------------

    def _request_fences(self, partitions: set[int]) -> dict[Key, object]:
        """Ask for the high watermark of every raw topic-partition of ``partitions``.

        Not the last stable offset: an open transaction (this worker's own derived consent,
        another's moved copies) holds it down, and records appended after that
        transaction's first one, by any publisher, lie beyond it; reaching it would not mean
        that every record written so far was read (``ordering.py``).
        """
        specs = {
            TopicPartition(topic, p): OffsetSpec.latest()
            for topic in self.config.raw_topics
            for p in partitions
        }
        futures = self._admin.list_offsets(
            specs, isolation_level=IsolationLevel.READ_UNCOMMITTED, request_timeout=10
        )
        return {(tp.topic, tp.partition): future for tp, future in futures.items()}

    def _consent_read_to(self, partition: int) -> int:
        """How far consent partition ``partition`` is applied."""
        return self._positions.read_to((self.config.consent_topic, partition))

    def _pause_or_resume(self) -> None:
        """Stop fetching a topic-partition while too many of its records wait for the others
        of its partition to be read that far; the ones it waits for go on being fetched."""
        gate, hold = self._gate, self.config.hold_per_partition
        for tp in self._consumer.assignment():
            key = (tp.topic, tp.partition)
            if key not in self._paused and gate.held(tp.partition, tp.topic) > hold:
                self._consumer.pause([tp])
                self._paused.add(key)
                log.debug("%s [%d] paused: its records wait for the partition's others", *key)
        for key in [k for k in self._paused if gate.held(k[1], k[0]) <= hold // 2]:
            self._consumer.resume([TopicPartition(*key)])
            self._paused.discard(key)
            log.debug("%s [%d] resumed", *key)

    def _owned(self) -> set[int]:
        return {tp.partition for tp in self._consumer.assignment()}

    # Commit and rewind ----------------------------------------------------------------

    def _commit_due(self) -> bool:
        if self._uncommitted >= self.config.commit_every:
            return True
        return time.monotonic() - self._last_commit >= self.config.commit_interval_s

    def _commit(self) -> None:
        """Commit the open transaction with the positions reached; rewind if it was aborted."""
        self._last_commit = time.monotonic()
        consent = self.config.consent_topic
        floors: dict[Key, int] = {(consent, p): self._store.replay_until(p) for p in self._owned()}
        offsets = self._positions.to_commit(self._gate.first_held(), floors)
        if not self._positions.moved(offsets) and not self._txn.open:
            return
        self._txn.begin()  # offsets alone (records that produced nothing) need one too
        started = time.perf_counter()
        if self._txn.commit([TopicPartition(t, p, o) for (t, p), o in offsets.items()]):
            self._metrics.transactions.labels("committed").inc()
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
            self._positions.committed(offsets)
            self._health.last_commit = time.monotonic()
        else:
            self._metrics.transactions.labels("aborted").inc()
            self._rewind()
        self._uncommitted = 0

    def _rewind(self) -> None:
        """Back to the last commit: positions, consent state and written links."""
        self._processor.forget_written_links()
        self._start(self._consumer.assignment(), seek=True)

    def _start(self, partitions: list[TopicPartition], *, seek: bool) -> list[TopicPartition]:
        """Position ``partitions`` at the group's commit; consent ones from their beginning."""
        committed = self._consumer.committed(partitions, timeout=COMMITTED_TIMEOUT_S)
        starts: dict[Key, int] = {}
        for tp in committed:
            key = (tp.topic, tp.partition)
            start = max(tp.offset, 0)  # none committed: auto.offset.reset (earliest)
            if tp.topic == self.config.consent_topic:
                self._store.start(tp.partition, replay_until=start)
                start = 0
            self._positions.start(key, start, tp.offset)
            starts[key] = start
        self._gate.clear({tp.partition for tp in partitions})
        if seek:
            self._resume(partitions)
            self._seek(starts)
        return [_at(key, offset) for key, offset in starts.items()]

    def _seek(self, offsets: dict[Key, int]) -> None:
        for key, offset in offsets.items():
            self._consumer.seek(_at(key, offset))

    def _resume(self, partitions: list[TopicPartition]) -> None:
        """Resume ``partitions`` and forget that any was paused: librdkafka keeps a partition
        paused across a reassignment, which would leave its events unread for good."""
        self._consumer.resume(partitions)
        self._paused.clear()

    # Rebalances -------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._rebalanced = True
        _check_copartitioned(partitions, self.config.consent_topic)
        starts = self._start(partitions, seek=False)
        consumer.assign(starts)
        self._resume(starts)
        self._health.assigned = len({tp.partition for tp in partitions})
        log.info("assigned partitions %s", sorted({tp.partition for tp in partitions}))

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Eager rebalancing: everything is revoked. Commit what was processed, so the next
        # owner starts exactly after it; then forget those partitions.
        self._rebalanced = True
        if not self._closing:
            self._commit()
        self._forget(partitions)

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # The group already gave them away: committing would be fenced. Drop it all.
        self._rebalanced = True
        log.warning("partitions lost (session expired); aborting the open transaction")
        self._txn.abort()
        self._forget(partitions)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self._resume(partitions)
        self._gate.clear(gone)
        for partition in gone:
            self._store.drop(partition)
        for tp in partitions:
            self._positions.forget((tp.topic, tp.partition))
        self._processor.forget_written_links()
        self._uncommitted = 0

    # Health -----------------------------------------------------------------------------

    def _beat(self) -> None:
        self._health.beat()
        now = time.monotonic()
        if now - self._last_stats < STATS_EVERY_S:
            return
        self._last_stats = now
        metrics = self._metrics
        decisions = Counter(self._decisions)
        self._decisions.clear()
        for counts, metric in (
            (self._consumed, metrics.consumed),
            (self._produced, metrics.produced),
            (decisions, metrics.decisions),
            (self._dead_letters, metrics.dead_letters),
        ):
            for labels, count in counts.items():
                metric.labels(*labels if isinstance(labels, tuple) else (labels,)).inc(count)
            counts.clear()
        late = self._gate.take_late()
        for topic, count in late.items():
            metrics.late.labels(topic).inc(count)
            log.warning(
                "%d record(s) of %s reached the broker more than the consent grace after their "
                "timestamp: applied from when read, events before them were judged without "
                "them (raise stream.consent_grace_s, or check the publishers' clocks)",
                count,
                topic,
            )
        metrics.lag.set(self._lag())
        metrics.held.set(sum(self._gate.held(p) for p in self._owned()))
        metrics.consent_subjects.set(self._store.subjects())
        metrics.salt_days.set(len(self._salts.days()))
        metrics.visitor_ids.set(self._salts.remembered())
        applied = {p: self._consent_read_to(p) for p in sorted(self._owned())}
        self._health.rebuilding = self._store.rebuilding(applied)
        self._health.details = {
            "held_records": {p: self._gate.held(p) for p in applied},
            "paused": sorted(f"{topic}[{partition}]" for topic, partition in self._paused),
            "consent_applied_to": applied,
            "transaction_open": self._txn.open,
        }

    def _lag(self) -> int:
        lag = 0
        for tp in self._consumer.position(self._consumer.assignment()):
            _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high > tp.offset:
                lag += high - tp.offset
        return lag


def _at(key: Key, offset: int) -> TopicPartition:
    """A position to seek or assign; 0 means the partition's beginning, wherever it now is."""
    return TopicPartition(key[0], key[1], offset or OFFSET_BEGINNING)


def _check_copartitioned(partitions: list[TopicPartition], consent_topic: str) -> None:
    """Refuse an assignment that gives event partition p without consent partition p."""
    consent = {tp.partition for tp in partitions if tp.topic == consent_topic}
    events = {tp.partition for tp in partitions if tp.topic != consent_topic}
    if not events <= consent:
        raise AssignmentError(
            f"event partitions {sorted(events - consent)} were assigned without their consent "
            "partitions: the group must use the range assignor over topics with equal "
            "partition counts (partition.assignment.strategy=range)"
        )
