"""Consent before the events it governs, even when the worker is far behind.

A consumer that is behind fetches its partitions in no particular order, so an event can
overtake a consent decision published long before it. The gate prevents that: the events of
partition p fetched in one round are held until consent partition p has been read up to its
last stable offset measured *after* they were fetched (the fence). Every consent record
committed to partition p before those events were fetched lies below the fence, so it is
applied first. Fences are measured with one ListOffsets request per round, read-committed,
and answered while the worker goes on consuming; held events keep the commit from passing
them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field

from confluent_kafka import Message

# partitions -> a future LSO of each one's consent partition
FenceRequest = Callable[[set[int]], dict[int, Future]]
FENCE_PATIENCE_S = 10.0  # a fence unanswered this long is asked for again
FENCE_ATTEMPTS = 6  # ... this many times; then the worker gives up (and is restarted)


class FenceUnansweredError(RuntimeError):
    """The broker answered no ListOffsets request for a consent partition for a minute."""


@dataclass
class _Chunk:
    """Event records of one partition fetched in one round, and their fence."""

    records: list[Message]
    fence: Future | None
    asked_at: float = field(default_factory=time.monotonic)
    attempts: int = 1

    def unanswered(self) -> bool:
        """Whether the fence must be asked for again: failed, or unanswered for too long."""
        if self.fence is None:
            return True
        if self.fence.done():
            return self.fence.exception() is not None
        return time.monotonic() - self.asked_at > FENCE_PATIENCE_S


class ConsentGate:
    """Event records held per partition until their consent partition is read to their fence."""

    def __init__(self, request_fences: FenceRequest) -> None:
        self._request_fences = request_fences
        self._held: dict[int, deque[_Chunk]] = {}

    def hold(self, records: dict[int, list[Message]]) -> None:
        """Hold this round's event records (by partition) and ask for their fences."""
        fences = self._request_fences(set(records))
        for partition, chunk in records.items():
            self._held.setdefault(partition, deque()).append(_Chunk(chunk, fences[partition]))

    def release(self, read_to: Callable[[int], int]) -> Iterator[Message]:
        """The held records whose consent partition is read past their fence, in fetch order.

        ``read_to(p)`` is the consumer's position in consent partition p. A fence that could
        not be measured (the broker was away) is asked for again.
        """
        unmeasured: list[tuple[int, _Chunk]] = []
        for partition, chunks in self._held.items():
            while chunks:
                chunk = chunks[0]
                if chunk.unanswered():
                    unmeasured.append((partition, chunk))
                    break
                if not chunk.fence.done() or read_to(partition) < chunk.fence.result().offset:
                    break
                chunks.popleft()
                yield from chunk.records
        if unmeasured:
            fences = self._request_fences({partition for partition, _ in unmeasured})
            for partition, chunk in unmeasured:
                if chunk.attempts >= FENCE_ATTEMPTS:
                    raise FenceUnansweredError(
                        f"no last stable offset of consent partition {partition} after "
                        f"{FENCE_ATTEMPTS} requests"
                    )
                chunk.fence, chunk.asked_at = fences[partition], time.monotonic()
                chunk.attempts += 1

    def held(self, partition: int) -> int:
        """How many records of ``partition`` are held."""
        return sum(len(chunk.records) for chunk in self._held.get(partition, ()))

    def first_held(self) -> dict[tuple[str, int], int]:
        """The lowest held offset of each topic-partition: the commit must not pass it."""
        first: dict[tuple[str, int], int] = {}
        for chunks in self._held.values():
            for chunk in chunks:  # fetch order: a topic-partition's first record is its lowest
                for record in chunk.records:
                    first.setdefault((record.topic(), record.partition()), record.offset())
        return first

    def clear(self, partitions: set[int] | None = None) -> None:
        """Drop the held records of ``partitions`` (all when None): they will be read again."""
        for partition in list(self._held) if partitions is None else partitions:
            self._held.pop(partition, None)
