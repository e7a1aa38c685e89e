"""Consent state of the subjects on the partitions this worker owns, rebuilt from raw.consent.

There is no changelog: the compacted consent partition *is* the state's log. When a worker
is given partition p, it reads consent partition p from its beginning. Records below the
group's committed offset were processed before (by this worker or another) and are replayed:
they change the state and produce nothing. From the committed offset on, records are new and
are processed like any event. State is kept per partition, so a revoked partition's subjects
are dropped at once and an aborted transaction is undone by rebuilding.

A million subjects must fit in a worker, so a state is kept packed into one integer: 64 bits
per purpose (the effective time, then the status and a presence bit), about 140 bytes a
subject with its key instead of about 460 for the dicts and lists it is unpacked to.
"""

from __future__ import annotations

from collections.abc import Callable

from usage_pipeline.streams.consent import GRANTED, WITHDRAWN, ConsentState

ConsentLookup = Callable[[str], ConsentState | None]
_SLOT = 64
_MASK = (1 << _SLOT) - 1
_EPOCH_SHIFT = 1 << 59  # effective times before 1970 stay positive: 2^59 us is 18,000 years


class ConsentStore:
    """subject -> consent state, one map per consent partition, and where each replay ends."""

    def __init__(self) -> None:
        self._states: dict[int, dict[str, int]] = {}
        self._lookups: dict[int, ConsentLookup] = {}  # made once per partition, read per event
        self._replay_until: dict[int, int] = {}
        self._purposes: dict[str, int] = {}  # purpose -> its slot in a packed state
        self._names: list[str] = []

    def start(self, partition: int, replay_until: int) -> None:
        """Begin (again) to build ``partition``: empty, replaying records below ``replay_until``."""
        states: dict[str, int] = {}
        unpack = self._unpack
        self._states[partition] = states
        self._lookups[partition] = lambda subject: unpack(states.get(subject))
        self._replay_until[partition] = replay_until

    def drop(self, partition: int) -> None:
        """Forget a partition this worker no longer owns."""
        self._states.pop(partition, None)
        self._lookups.pop(partition, None)
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
        return self._lookups[partition]

    def put(self, partition: int, subject: str, state: ConsentState | None) -> None:
        """Set a subject's state; None forgets the subject (an erasure)."""
        states = self._states[partition]
        if state:
            states[subject] = self._pack(state)
        else:
            states.pop(subject, None)

    def _pack(self, state: ConsentState) -> int:
        packed = 0
        for purpose, (status, effective_us) in state.items():
            slot = self._purposes.get(purpose)
            if slot is None:
                slot = self._purposes[purpose] = len(self._names)
                self._names.append(purpose)
            value = (effective_us + _EPOCH_SHIFT) << 2 | (status == GRANTED) << 1 | 1
            packed |= value << (_SLOT * slot)
        return packed

    def _unpack(self, packed: int | None) -> ConsentState | None:
        if packed is None:
            return None
        state: ConsentState = {}
        for slot, purpose in enumerate(self._names):
            value = (packed >> (_SLOT * slot)) & _MASK
            if value & 1:
                status = GRANTED if value & 2 else WITHDRAWN
                state[purpose] = [status, (value >> 2) - _EPOCH_SHIFT]
        return state

    def subjects(self) -> int:
        """How many subjects have a state here."""
        return sum(len(states) for states in self._states.values())
