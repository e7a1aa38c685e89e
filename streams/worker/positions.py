"""Where each assigned partition stands: what to accept next, what is done, what to commit.

The consumer's own position counts records it has handed over, processed or not (a batch
returned across a rebalance holds records nobody will process), so commits are computed
here from the records the worker really finished. Pure bookkeeping, without I/O.

Per topic-partition:

- ``next``: the offset the worker accepts next. A record below it was seen already (read
  again after a seek), a record of a partition without one is not the worker's: both are
  dropped.
- ``done``: one past the last record processed (or, for consent, applied).
- ``end``: where the consumer reported the partition's end. Transactions leave control
  markers between and after records; the end lies past them, so a partition whose records are
  all done can commit it and show no lag.
"""

from __future__ import annotations

from dataclasses import dataclass

Key = tuple[str, int]  # topic, partition


@dataclass
class _Position:
    next: int
    done: int
    end: int = 0


class Positions:
    """The worker's view of every partition it owns."""

    def __init__(self) -> None:
        self._positions: dict[Key, _Position] = {}
        self._committed: dict[Key, int] = {}

    def start(self, key: Key, offset: int, committed: int) -> None:
        """Own ``key`` and read it from ``offset`` on (0: its beginning): nothing before that
        is pending here. The group has ``committed`` (negative: nothing)."""
        self._positions[key] = _Position(next=offset, done=offset)
        self._committed[key] = committed

    def forget(self, key: Key) -> None:
        """No longer own ``key``."""
        self._positions.pop(key, None)
        self._committed.pop(key, None)

    def next_offsets(self) -> dict[Key, int]:
        """Where each owned partition must be read from for nothing to be skipped."""
        return {key: position.next for key, position in self._positions.items()}

    def accept(self, key: Key, offset: int) -> bool:
        """Whether a record read at ``offset`` is new and the worker's; it is then expected."""
        position = self._positions.get(key)
        if position is None or offset < position.next:
            return False
        position.next = offset + 1
        return True

    def at_end(self, key: Key, offset: int) -> None:
        """The consumer reached the end of ``key`` at ``offset``."""
        position = self._positions.get(key)
        if position is not None and offset >= position.next:
            position.next = position.end = offset

    def done(self, key: Key, offset: int) -> None:
        """The record at ``offset`` is processed."""
        position = self._positions.get(key)
        if position is not None:
            position.done = max(position.done, offset + 1)

    def read(self, key: Key) -> int:
        """How far ``key`` is read: the offset the worker accepts next (0 if not owned)."""
        position = self._positions.get(key)
        return 0 if position is None else position.next

    def read_to(self, key: Key) -> int:
        """One past the last record of ``key`` done, or its end when everything is."""
        position = self._positions.get(key)
        return 0 if position is None else max(position.done, position.end)

    def to_commit(self, first_held: dict[Key, int], floors: dict[Key, int]) -> dict[Key, int]:
        """The offset each owned partition resumes from: its first held record, else past what
        is done; never below its floor (a consent partition's replay end)."""
        return {
            key: max(first_held.get(key, self.read_to(key)), floors.get(key, 0))
            for key in self._positions
        }

    def moved(self, offsets: dict[Key, int]) -> bool:
        """Whether committing ``offsets`` would change anything."""
        return any(self._committed.get(key) != offset for key, offset in offsets.items())

    def committed(self, offsets: dict[Key, int]) -> None:
        """``offsets`` are the group's now."""
        self._committed.update({key: o for key, o in offsets.items() if key in self._positions})
