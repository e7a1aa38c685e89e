"""The worker's offset ledger: per partition, the offset below which every record was processed.

faust's own commit bookkeeping can run past records the worker never processed: it fills
offset jumps as if they were compaction gaps, and after a seek it keeps delivering records
it fetched before the seek (seen on a broker: 14 records of a raw topic committed, never
processed). So the worker commits only what this ledger vouches for. The ledger starts each
partition at the group's committed offset, moves forward over the records the worker has
processed and flushed, and reports every jump between what it expected and what arrived,
so the worker can read the skipped records back from the broker before it moves on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One raw record as the worker processes it, whether faust delivered it or it was read back."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``start`` up to (not including) ``end`` of a partition that the consumer skipped."""

    topic: str
    partition: int
    start: int
    end: int


class OffsetLedger:
    """Where processing stands in each partition, and which positions are safe to commit."""

    def __init__(self) -> None:
        self._next: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}

    def unknown(self, records: Iterable[SourceRecord]) -> set[Partition]:
        """Partitions of these records that the ledger has no position for."""
        return {(r.topic, r.partition) for r in records} - self._next.keys()

    def start_from(self, positions: Mapping[Partition, int]) -> None:
        """Take the group's committed positions as processed; known partitions keep theirs."""
        for partition, offset in positions.items():
            self._next.setdefault(partition, offset)
            self._committed.setdefault(partition, offset)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Drop partitions the worker lost: another worker may move them on meanwhile."""
        for partition in partitions:
            self._next.pop(partition, None)
            self._committed.pop(partition, None)

    def gaps(self, records: Iterable[SourceRecord]) -> list[Gap]:
        """The ranges between what was processed and what these records bring, per partition.

        Records below the position are repeats and fine (at least once). Every partition
        must have a position (``start_from``): a guessed start could hide a gap.
        """
        offsets: dict[Partition, list[int]] = defaultdict(list)
        for record in records:
            offsets[(record.topic, record.partition)].append(record.offset)
        gaps = []
        for (topic, partition), seen in offsets.items():
            expected = self._next[(topic, partition)]
            for offset in sorted(seen):
                if offset > expected:
                    gaps.append(Gap(topic, partition, expected, offset))
                expected = max(expected, offset + 1)
        return gaps

    def advance(self, records: Iterable[SourceRecord], gaps: Iterable[Gap] = ()) -> None:
        """Mark these records, and the gaps read back for them, as processed and flushed."""
        for gap in gaps:
            self._move((gap.topic, gap.partition), gap.end)
        for record in records:
            self._move((record.topic, record.partition), record.offset + 1)

    def _move(self, partition: Partition, position: int) -> None:
        self._next[partition] = max(self._next.get(partition, position), position)

    def committable(self) -> dict[Partition, int]:
        """Positions that moved since they were last committed."""
        return {
            partition: position
            for partition, position in self._next.items()
            if position > self._committed.get(partition, -1)
        }

    def committed(self, positions: Mapping[Partition, int]) -> None:
        """Record that the broker accepted these positions."""
        self._committed.update(positions)
