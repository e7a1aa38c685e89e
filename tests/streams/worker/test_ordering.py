"""The consent gate holds a partition's events until its consent is read to their fence."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import pytest

from usage_pipeline.streams.worker import ordering
from usage_pipeline.streams.worker.ordering import ConsentGate, FenceUnansweredError


@dataclass
class Record:
    """The parts of a confluent-kafka Message the gate reads."""

    topic_: str
    partition_: int
    offset_: int

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_


@dataclass
class Offset:
    offset: int


class Fences:
    """Fence futures the test resolves by hand."""

    def __init__(self) -> None:
        self.asked: list[set[int]] = []
        self.futures: list[dict[int, Future]] = []

    def __call__(self, partitions: set[int]) -> dict[int, Future]:
        self.asked.append(set(partitions))
        futures = {p: Future() for p in partitions}
        self.futures.append(futures)
        return futures

    def answer(self, request: int, partition: int, lso: int) -> None:
        self.futures[request][partition].set_result(Offset(lso))


def records(partition: int, *offsets: int) -> list[Record]:
    return [Record("raw.usage", partition, offset) for offset in offsets]


def test_events_wait_until_their_consent_partition_is_read_to_the_fence():
    fences = Fences()
    gate = ConsentGate(fences)
    gate.hold({0: records(0, 10, 11)})
    assert list(gate.release(lambda _p: 0)) == []  # fence not answered yet
    fences.answer(0, 0, lso=5)
    assert list(gate.release(lambda _p: 4)) == []  # consent read to 4 < 5
    released = list(gate.release(lambda _p: 5))
    assert [r.offset() for r in released] == [10, 11]
    assert gate.held(0) == 0


def test_a_later_chunk_never_overtakes_an_earlier_one():
    fences = Fences()
    gate = ConsentGate(fences)
    gate.hold({0: records(0, 1)})
    gate.hold({0: records(0, 2)})
    fences.answer(1, 0, lso=0)  # the second chunk's fence is met, the first one's unknown
    assert list(gate.release(lambda _p: 0)) == []
    fences.answer(0, 0, lso=0)
    assert [r.offset() for r in gate.release(lambda _p: 0)] == [1, 2]


def test_partitions_are_gated_independently():
    fences = Fences()
    gate = ConsentGate(fences)
    gate.hold({0: records(0, 1), 1: records(1, 7)})
    fences.answer(0, 0, lso=3)
    fences.answer(0, 1, lso=0)
    assert [r.partition() for r in gate.release(lambda p: 0)] == [1]
    assert gate.first_held() == {("raw.usage", 0): 1}


def test_a_failed_fence_is_asked_for_again(monkeypatch):
    fences = Fences()
    gate = ConsentGate(fences)
    gate.hold({0: records(0, 1)})
    fences.futures[0][0].set_exception(RuntimeError("broker away"))
    assert list(gate.release(lambda _p: 0)) == []
    assert fences.asked == [{0}, {0}]
    fences.answer(1, 0, lso=0)
    assert len(list(gate.release(lambda _p: 0))) == 1


def test_a_fence_never_answered_makes_the_worker_give_up(monkeypatch):
    monkeypatch.setattr(ordering, "FENCE_PATIENCE_S", 0.0)
    gate = ConsentGate(Fences())
    gate.hold({0: records(0, 1)})
    with pytest.raises(FenceUnansweredError):
        for _ in range(ordering.FENCE_ATTEMPTS + 1):
            list(gate.release(lambda _p: 0))


def test_clearing_a_partition_drops_its_held_events():
    gate = ConsentGate(Fences())
    gate.hold({0: records(0, 1), 1: records(1, 2)})
    gate.clear({0})
    assert gate.held(0) == 0 and gate.held(1) == 1
