"""The gate releases a partition's consent and events in timestamp order, whatever was read
first, as long as each record reaches the broker within the grace."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME
from hypothesis import given, settings
from hypothesis import strategies as st

from usage_pipeline.streams.worker import ordering
from usage_pipeline.streams.worker.ordering import ConsentGate, FenceUnansweredError

CONSENT, USAGE, EMAIL = "raw.consent", "raw.usage", "raw.email"
TOPICS = (USAGE, EMAIL, CONSENT)
GRACE_S = 1.0


@dataclass
class Record:
    """The parts of a confluent-kafka Message the gate reads."""

    topic_: str
    partition_: int
    offset_: int
    timestamp_ms: int
    subject: str = "usr_1"

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self.timestamp_ms

    def value(self) -> bytes:
        return f"{self.topic_}@{self.offset_}".encode()

    def key(self) -> bytes:
        return (
            f"{self.subject}|marketing".encode()
            if self.topic_ == CONSENT
            else self.subject.encode()
        )


@dataclass
class Offset:
    offset: int


class Fences:
    """Fence futures the test resolves by hand."""

    def __init__(self) -> None:
        self.asked: list[set[int]] = []
        self.futures: list[dict[tuple[str, int], Future]] = []

    def __call__(self, partitions: set[int]) -> dict[tuple[str, int], Future]:
        self.asked.append(set(partitions))
        futures = {(t, p): Future() for t in TOPICS for p in partitions}
        self.futures.append(futures)
        return futures

    def answer(self, request: int, lso: dict[str, int]) -> None:
        for (topic, _), future in self.futures[request].items():
            future.set_result(Offset(lso.get(topic, 0)))


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def gate_at(now_s: float, fences: Fences | None = None) -> tuple[ConsentGate, Clock]:
    clock = Clock(now_s)
    return ConsentGate(fences or Fences(), TOPICS, CONSENT, GRACE_S, clock), clock


def offsets(released) -> list[tuple[str, int]]:
    return [(topic, offset) for _, topic, _, offset, _, _ in released]


def test_consent_read_after_an_event_it_precedes_is_still_applied_first():
    fences = Fences()
    gate, clock = gate_at(100.0, fences)
    event = Record(EMAIL, 0, 7, timestamp_ms=100_000)
    gate.hold([event])
    assert list(gate.release(lambda _k: 0)) == []  # other topics may still bring earlier ones
    assert fences.asked == []  # no fence before the grace is over could release it
    assert gate.wait_s(0.5) == 0.5
    clock.now_s = 100.8
    assert gate.wait_s(0.5) == pytest.approx(0.2)
    withdrawal = Record(CONSENT, 0, 3, timestamp_ms=99_990)  # written later, happened before
    gate.hold([withdrawal])
    clock.now_s = 101.5
    assert list(gate.release(lambda _k: 0)) == []
    assert fences.asked == [{0}] and gate.wait_s(0.5) == ordering.FENCE_POLL_S
    fences.answer(0, {CONSENT: 4, EMAIL: 8})  # measured at 101.5 s, read that far
    read = {(CONSENT, 0): 4, (EMAIL, 0): 8}
    assert offsets(gate.release(lambda k: read.get(k, 0))) == [(CONSENT, 3), (EMAIL, 7)]
    assert gate.held(0) == 0


def test_consent_read_ahead_waits_for_the_events_before_it():
    fences = Fences()
    gate, _ = gate_at(200.0, fences)
    withdrawal = Record(CONSENT, 0, 5, timestamp_ms=50_000)
    early, late = Record(EMAIL, 0, 1, timestamp_ms=40_000), Record(EMAIL, 0, 2, 60_000)
    gate.hold([withdrawal])  # the worker is behind: consent is read first
    assert list(gate.release(lambda _k: 0)) == []
    gate.hold([early, late, Record(USAGE, 0, 9, timestamp_ms=70_000)])
    fences.answer(0, {CONSENT: 6, EMAIL: 3, USAGE: 10})
    read = {(CONSENT, 0): 6, (EMAIL, 0): 3, (USAGE, 0): 10}
    released = offsets(gate.release(lambda k: read.get(k, 0)))
    assert released == [(EMAIL, 1), (CONSENT, 5), (EMAIL, 2), (USAGE, 9)]


def test_consent_of_the_same_subject_published_within_the_grace_after_an_event_is_ahead():
    gate, _ = gate_at(100.0)
    soon = Record(CONSENT, 0, 1, 60_900)
    other = Record(CONSENT, 0, 2, 60_950, subject="usr_2")
    late = Record(CONSENT, 0, 3, 61_100)
    gate.hold([soon, other, late])
    assert gate.ahead(0, 60_000, b"usr_1") == [soon.value()]
    assert gate.ahead(0, 60_000, b"usr_3") == []
    assert gate.ahead(1, 60_000, b"usr_1") == []


def test_partitions_are_ordered_independently_and_held_records_bound_the_commit():
    gate, _ = gate_at(10.0)
    gate.hold([Record(EMAIL, 0, 4, 5_000), Record(EMAIL, 1, 2, 5_000)])
    assert gate.first_held() == {(EMAIL, 0): 4, (EMAIL, 1): 2}
    assert gate.held(0) == 1 and gate.held(1, EMAIL) == 1 and gate.held(1, USAGE) == 0
    gate.clear({0})
    assert gate.held(0) == 0 and gate.first_held() == {(EMAIL, 1): 2}


def test_a_failed_fence_is_asked_for_again():
    fences = Fences()
    gate, _ = gate_at(10.0, fences)
    gate.hold([Record(EMAIL, 0, 1, 5_000)])
    list(gate.release(lambda _k: 0))
    for future in fences.futures[0].values():
        future.set_exception(RuntimeError("broker away"))
    list(gate.release(lambda _k: 0))
    assert fences.asked == [{0}, {0}]
    fences.answer(1, {EMAIL: 2})
    assert offsets(gate.release(lambda k: 2 if k == (EMAIL, 0) else 0)) == [(EMAIL, 1)]


def test_a_fence_never_answered_makes_the_worker_give_up(monkeypatch):
    monkeypatch.setattr(ordering, "FENCE_PATIENCE_S", -1.0)
    gate, _ = gate_at(10.0)
    gate.hold([Record(EMAIL, 0, 1, 5_000)])
    with pytest.raises(FenceUnansweredError):
        for _ in range(ordering.FENCE_ATTEMPTS + 2):
            list(gate.release(lambda _k: 0))


# A partition's records: per topic, (timestamp ms, how long after it the record is written).
_topic_records = st.lists(
    st.tuples(st.integers(0, 5_000), st.integers(0, int(GRACE_S * 1000))), max_size=12
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.fixed_dictionaries(dict.fromkeys(TOPICS, _topic_records)),
    rounds=st.lists(
        st.tuples(
            st.integers(1, 700), st.fixed_dictionaries({t: st.integers(0, 4) for t in TOPICS})
        ),
        max_size=40,
    ),
)
def test_records_written_within_the_grace_are_released_in_timestamp_order(records, rounds):
    """Whatever the timing of writes, fetches and fence answers, a consent record is released
    before an event exactly when its timestamp is earlier, and every record is released."""
    log: dict[str, list[tuple[int, int]]] = {}  # topic -> (written at, timestamp), offset order
    for topic, items in records.items():
        written, entries = 0, []
        for timestamp, delay in sorted(items):  # one producer: timestamps rise with offsets
            written = max(written, timestamp + delay)
            entries.append((written, timestamp))
        log[topic] = entries
    lso = {  # last stable offset of each topic at wall time ms
        topic: (lambda now, e=entries: sum(1 for at, _ in e if at <= now))
        for topic, entries in log.items()
    }
    now = [0]
    pending: list[tuple[int, dict]] = []

    def request(partitions: set[int]) -> dict:
        futures = {(t, 0): Future() for t in TOPICS}
        pending.append((now[0], futures))
        return futures

    gate = ConsentGate(request, TOPICS, CONSENT, GRACE_S, lambda: now[0] / 1000)
    read = dict.fromkeys(TOPICS, 0)
    released: list[tuple] = []  # (timestamp, topic, partition, offset, key, value)

    def round_(advance: int, fetch: dict[str, int]) -> None:
        now[0] += advance
        for at, futures in pending:  # every fence is answered, as of when it was asked
            for (topic, _), future in futures.items():
                if not future.done():
                    future.set_result(Offset(lso[topic](at)))
        batch = []
        for topic in TOPICS:
            upto = min(read[topic] + fetch[topic], lso[topic](now[0]))
            batch += [
                Record(topic, 0, offset, log[topic][offset][1])
                for offset in range(read[topic], upto)
            ]
            read[topic] = max(read[topic], upto)
        gate.hold(batch)
        released.extend(gate.release(lambda key: read[key[0]]))

    for advance, fetch in rounds:
        round_(advance, fetch)
    for _ in range(8):  # then everything is written and read, and time goes on
        round_(2_000, dict.fromkeys(TOPICS, 100))

    assert len(released) == sum(len(entries) for entries in log.values())
    for position, (timestamp, topic, *_) in enumerate(released):
        for later, later_topic, *_ in released[position + 1 :]:
            if topic == CONSENT and later_topic != CONSENT:
                assert timestamp < later
            if later_topic == CONSENT and topic != CONSENT:
                assert timestamp <= later
    assert not gate.take_late()  # written within the grace: none is late


def test_a_record_read_below_its_topics_watermark_is_counted_late():
    """It reached the broker more than the grace after its timestamp: events released before
    it were judged without it, which the worker's metrics and log must show."""
    fences = Fences()
    gate, _ = gate_at(100.0, fences)
    gate.hold([Record(EMAIL, 0, 1, 90_000)])
    list(gate.release(lambda _k: 0))
    fences.answer(0, {CONSENT: 2, EMAIL: 2})  # consent read to its end, measured at 100 s
    assert offsets(gate.release(lambda k: 2)) == [(EMAIL, 1)]
    within = Record(CONSENT, 0, 2, 99_500)  # less than the grace before the fence
    gate.hold([within, Record(CONSENT, 0, 3, 98_000), Record(USAGE, 0, 4, 99_200)])
    assert gate.take_late() == {CONSENT: 1}
    assert gate.take_late() == {}
