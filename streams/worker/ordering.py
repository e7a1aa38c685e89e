"""Consent and events of one partition applied in the order they happened, not as fetched.

An event must be judged with the consent decisions published before it, and none published
after it. Fetching gives neither: a consumer fetches its topic-partitions in no particular
order and at different speeds, and a producer writes each topic-partition's batches on its
own, so a consent record can reach the broker (and the worker) after events published after
it, and a worker that is behind reads consent far ahead of the events (it is small). Judging
by what happened to be read first made the outcome depend on timing: two runs of one
simulation kept different events (``docs/stream.md``, "consent ordering").

So the gate holds the new records of partition p of every raw topic, consent included, and
releases them merged by record timestamp (the producer's create time; events first at equal
times, see ``ahead``), the way Kafka Streams orders a stream-table join. A record with
timestamp t is released only once no record with a smaller timestamp can still come from
a topic whose buffer is empty, that is once every such topic-partition's *watermark* has reached t:

- a record read with timestamp s raises its topic-partition's watermark to s - grace;
- a fence (the partition's high watermark, measured at wall time m, one ListOffsets
  request per round, answered while the worker goes on consuming) that the consumer has
  read up to raises it to m - grace. The high watermark, not the last stable offset: an
  open transaction (the worker's own derived consent, another worker's moved copies) holds
  the latter down, and a read-committed consumer reads nothing past it, not even the
  records other publishers appended meanwhile; reaching it said nothing of them, and the
  events after them were judged without them. A read-committed consumer reaches the high
  watermark once the transactions below it are resolved.

Both rest on one assumption, the *grace*: a record reaches the broker at most ``grace`` after
its timestamp. Consent published alongside events (or by another service, up to ``grace``
late) is therefore applied before every event that followed it, and no event is judged with
consent published after it. A record later than that is applied from when it is read.
Held records keep the commit from passing them. A record read with a timestamp below its
topic-partition's watermark broke the assumption (it reached the broker more than the grace
after its timestamp, or a clock is off by more): the gate still orders it among what it holds,
but events released before it were judged without it, so it is counted (``take_late``) for
the worker's metrics and log. Consent records the stream wrote itself
(derived from an unsubscribe, or moved to their subject's partition) never enter the gate:
they carry the worker's clock, not the publishers', and would let events overtake consent a
publisher has not written yet.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from usage_pipeline.schemas.keys import CONSENT_KEY_SEPARATOR

Key = tuple[str, int]  # topic, partition
# What the gate keeps of a held record: (timestamp, topic, partition, offset, key, value). Not
# the Message: a plain tuple of atomic values takes half the memory (the Message makes a topic
# string of its own, and keeps headers), and the garbage collector stops scanning it, where
# each Message stays tracked (tens of thousands are held while a worker catches up).
Held = tuple[float, str, int, int, bytes | None, bytes | None]
# partitions -> a future high watermark of every raw topic-partition of each
FenceRequest = Callable[[set[int]], dict[Key, Future]]
FENCE_PATIENCE_S = 10.0  # a fence unanswered this long is asked for again
FENCE_ATTEMPTS = 6  # ... this many times; then the worker gives up (and is restarted)
FENCE_POLL_S = 0.02  # how long a round waits for records while a fence is being answered
_NEVER = float("-inf")
_ALWAYS = float("inf")


class FenceUnansweredError(RuntimeError):
    """The broker answered no ListOffsets request for a partition for a minute."""


@dataclass
class _Fence:
    """High watermarks of one partition's topics, asked for at wall time ``at_ms``."""

    offsets: dict[Key, Future]
    at_ms: float
    asked_at: float = field(default_factory=time.monotonic)

    def failed(self) -> bool:
        """Whether it must be asked for again: an answer failed, or none came for too long."""
        if any(f.done() and f.exception() is not None for f in self.offsets.values()):
            return True
        answered = all(f.done() for f in self.offsets.values())
        return not answered and time.monotonic() - self.asked_at > FENCE_PATIENCE_S


@dataclass
class _Lane:
    """What the gate knows of one partition: held records and watermarks per topic."""

    held: dict[str, deque[Held]]
    watermark: dict[str, float]
    consent_of: dict[bytes, deque[Held]]  # held consent, by subject
    fence: _Fence | None = None
    attempts: int = 0


class ConsentGate:
    """Records of each partition held until every topic of it is read past their timestamp."""

    def __init__(
        self,
        request_fences: FenceRequest,
        topics: tuple[str, ...],
        consent_topic: str,
        grace_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._request_fences = request_fences
        # consent last: at equal timestamps the events go first, and a decision of the same
        # moment that took effect before one of them reaches it through ``ahead``
        self._consent = consent_topic
        self._topics = (*(t for t in topics if t != consent_topic), consent_topic)
        self._names = {topic: topic for topic in self._topics}  # one string per topic, shared
        self._grace_ms = grace_s * 1000
        self._clock = clock
        self._lanes: dict[int, _Lane] = {}
        self._late: Counter[str] = Counter()

    def hold(self, records: list[Message]) -> None:
        """Hold new records of any raw topic, in the order read."""
        names = self._names
        for record in records:
            kind, timestamp = record.timestamp()
            if kind == TIMESTAMP_NOT_AVAILABLE:
                timestamp = self._clock() * 1000
            partition, topic, key = record.partition(), names[record.topic()], record.key()
            lane = self._lane(partition)
            held = (timestamp, topic, partition, record.offset(), key, record.value())
            lane.held[topic].append(held)
            if topic == self._consent:
                lane.consent_of.setdefault(_subject(key), deque()).append(held)
            if timestamp < lane.watermark[topic]:
                self._late[topic] += 1
            mark = timestamp - self._grace_ms
            if mark > lane.watermark[topic]:
                lane.watermark[topic] = mark

    def take_late(self) -> Counter[str]:
        """Records held since the last call that came later than the grace, by topic."""
        late, self._late = self._late, Counter()
        return late

    def release(self, read_to: Callable[[Key], int]) -> Iterator[Held]:
        """The held records no earlier record can still overtake, by timestamp, with it.

        ``read_to((topic, p))`` is how far the consumer has read that topic-partition (held
        records included); it tells whether a fence is reached. A partition still holding
        records gets a new fence once one can release its earliest record (a fence measured
        at m covers records up to m - grace).
        """
        waiting: set[int] = set()
        now_ms = self._clock() * 1000
        for partition, lane in self._lanes.items():
            self._advance(partition, lane, read_to)
            yield from self._merge(lane)
            earliest = _earliest(lane)
            if lane.fence is None and earliest is not None and earliest + self._grace_ms <= now_ms:
                waiting.add(partition)
        if waiting:
            fences = self._request_fences(waiting)
            for partition in waiting:
                lane = self._lanes[partition]
                offsets = {key: f for key, f in fences.items() if key[1] == partition}
                lane.fence = _Fence(offsets, now_ms)

    def wait_s(self, longest: float) -> float:
        """How long the loop may wait for new records before the gate has work: until a
        fence can release a held record, a moment while one is being answered; at most
        ``longest``."""
        wait, now_ms = longest, self._clock() * 1000
        for lane in self._lanes.values():
            earliest = _earliest(lane)
            if earliest is None:
                continue
            if lane.fence is not None:
                return min(wait, FENCE_POLL_S)
            wait = min(wait, max(0.0, (earliest + self._grace_ms - now_ms) / 1000))
        return wait

    def ahead(self, partition: int, timestamp: float, key: bytes | None) -> list[bytes | None]:
        """Consent records of the subject keyed ``key`` read but not applied yet, published
        at most the grace after ``timestamp``: an event released with that timestamp came
        before them in the log, but may follow them in time (a decision that took effect
        before it); their values."""
        lane = self._lanes.get(partition)
        consent = None if lane is None else lane.consent_of.get(key or b"")
        if not consent:
            return []
        bound = timestamp + self._grace_ms
        return [held[5] for held in itertools.takewhile(lambda h: h[0] <= bound, consent)]

    def _merge(self, lane: _Lane) -> Iterator[Held]:
        held, watermark, consent_topic = lane.held, lane.watermark, self._consent
        while True:
            # The earliest head (events win a tie: they come first, and only an earlier
            # record replaces one), and how far its topic may run before another topic's
            # head or an empty topic's watermark comes first.
            head, head_time, limit, before = None, 0.0, _ALWAYS, _ALWAYS
            for topic in self._topics:
                queue = held[topic]
                if not queue:
                    limit = min(limit, watermark[topic])
                elif head is None or queue[0][0] < head_time:
                    head, head_time = topic, queue[0][0]
            if head is None or head_time > limit:
                return
            for topic in self._topics:
                queue = held[topic]
                if topic == head or not queue:
                    continue
                if head == consent_topic:
                    before = min(before, queue[0][0])  # a decision must precede the events
                else:
                    limit = min(limit, queue[0][0])
            queue, is_consent = held[head], head == consent_topic
            while queue and queue[0][0] <= limit and queue[0][0] < before:
                released = queue.popleft()
                if is_consent:
                    subject = _subject(released[4])
                    of_subject = lane.consent_of[subject]
                    of_subject.popleft()
                    if not of_subject:
                        del lane.consent_of[subject]
                yield released

    def _advance(self, partition: int, lane: _Lane, read_to: Callable[[Key], int]) -> None:
        """Raise the watermark of each topic read to its fence; ask again for one that failed.

        A topic that holds records needs no watermark (its first record bounds it), so a
        fence is done once every topic has reached it or holds records: a paused topic never
        keeps the others waiting.
        """
        fence = lane.fence
        if fence is None:
            return
        if fence.failed():
            lane.attempts += 1
            if lane.attempts >= FENCE_ATTEMPTS:
                raise FenceUnansweredError(
                    f"no high watermarks of partition {partition} after {FENCE_ATTEMPTS} requests"
                )
            lane.fence = None  # asked for again at the end of this release
            return
        mark = fence.at_ms - self._grace_ms
        for key, future in list(fence.offsets.items()):
            if not future.done():
                continue
            topic = key[0]
            if read_to(key) >= future.result().offset:
                lane.watermark[topic] = max(lane.watermark[topic], mark)
                del fence.offsets[key]
            elif lane.held[topic]:
                del fence.offsets[key]
        if not fence.offsets:
            lane.fence, lane.attempts = None, 0

    def _lane(self, partition: int) -> _Lane:
        lane = self._lanes.get(partition)
        if lane is None:
            lane = self._lanes[partition] = _Lane(
                {topic: deque() for topic in self._topics},
                dict.fromkeys(self._topics, _NEVER),
                {},
            )
        return lane

    def held(self, partition: int, topic: str | None = None) -> int:
        """How many records of ``partition`` (of one ``topic``, if given) are held."""
        lane = self._lanes.get(partition)
        if lane is None:
            return 0
        if topic is not None:
            return len(lane.held[topic])
        return sum(len(queue) for queue in lane.held.values())

    def first_held(self) -> dict[Key, int]:
        """The lowest held offset of each topic-partition: the commit must not pass it."""
        return {
            (topic, partition): queue[0][3]
            for partition, lane in self._lanes.items()
            for topic, queue in lane.held.items()
            if queue
        }

    def clear(self, partitions: set[int] | None = None) -> None:
        """Forget ``partitions`` (all when None): their records will be read again."""
        for partition in list(self._lanes) if partitions is None else partitions:
            self._lanes.pop(partition, None)


def _subject(key: bytes | None) -> bytes:
    """The subject of a consent record's key (``subject|purpose``, or a subject alone)."""
    return (key or b"").partition(CONSENT_KEY_SEPARATOR.encode())[0]


def _earliest(lane: _Lane) -> float | None:
    """The earliest timestamp among a lane's held records (each topic's first is its
    earliest, as one publisher's timestamps rise), None when it holds none."""
    heads = [queue[0][0] for queue in lane.held.values() if queue]
    return min(heads) if heads else None
