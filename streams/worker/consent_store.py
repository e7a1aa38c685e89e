"""Consent state of the subjects on the partitions this worker owns, rebuilt from raw.consent.

There is no changelog: the compacted consent partition *is* the state's log. When a worker
is given partition p, it reads consent partition p from its beginning. Records below the
group's committed offset were processed before (by this worker or another) and are replayed:
they change the state and produce nothing. From the committed offset on, records are new and
are processed like any event. State is kept per partition, so a revoked partition's subjects
are dropped at once and an aborted transaction is undone by rebuilding.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.consent import ConsentState

ConsentLookup = Callable[[str], ConsentState | None]


class ConsentStore:
    """subject -> consent state, one map per consent partition, and where each replay ends."""

    def __init__(self) -> None:
        self._states: dict[int, dict[str, ConsentState]] = {}
        self._replay_until: dict[int, int] = {}

    def start(self, partition: int, replay_until: int) -> None:
        """Begin (again) to build ``partition``: empty, replaying records below ``replay_until``."""
        self._states[partition] = {}
        self._replay_until[partition] = replay_until

    def drop(self, partition: int) -> None:
        """Forget a partition this worker no longer owns."""
        self._states.pop(partition, None)
        self._replay_until.pop(partition, None)

    def owns(self, partition: int) -> bool:
        """Whether ``partition`` is being built or kept here."""
        return partition in self._states

    def is_replay(self, partition: int, offset: int) -> bool:
        """Whether the consent record at ``offset`` was processed before: apply, produce nothing."""
        return offset < self.replay_until(partition)

    def replay_until(self, partition: int) -> int:
        """The offset where ``partition``'s replay ends (its group offset when it was assigned)."""
        return self._replay_until.get(partition, 0)

    def rebuilding(self, positions: dict[int, int]) -> int:
        """How many partitions are still replaying, given the consumer's consent positions."""
        return sum(
            positions.get(partition, 0) < until for partition, until in self._replay_until.items()
        )

    def lookup(self, partition: int) -> ConsentLookup:
        """The consent lookup of the subjects on ``partition``."""
        return self._states[partition].get

    def put(self, partition: int, subject: str, state: ConsentState | None) -> None:
        """Set a subject's state; None forgets the subject (an erasure)."""
        states = self._states[partition]
        if state:
            states[subject] = state
        else:
            states.pop(subject, None)

    def subjects(self) -> int:
        """How many subjects have a state here."""
        return sum(len(states) for states in self._states.values())
