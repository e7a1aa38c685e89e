"""Link records: one identifier's pseudonyms under a previous key and under the current key.

The worker writes them only for purposes whose policy says ``key_rotation: link``, and only
while it holds a previous key (docs/keys.md). The topic is compacted and keyed by the pair,
so a pair written twice (a restart, a second worker) is kept once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import orjson

REMEMBERED_LINKS = 100_000


@dataclass(frozen=True)
class KeyLink:
    """One identifier of ``kind`` in ``purpose``: its ``previous`` and its ``current`` pseudonym."""

    purpose: str
    kind: str
    previous: str
    current: str

    @property
    def key(self) -> bytes:
        """The record key: the pair, so compaction keeps every distinct link once."""
        return f"{self.previous} {self.current}".encode()

    def to_json(self) -> bytes:
        """The record value."""
        return orjson.dumps(asdict(self))


class RecentLinks:
    """Links written lately, so each one is written once per identifier and rotation.

    Bounded: when full it forgets everything, and a few links are written again, which the
    compacted topic absorbs.
    """

    def __init__(self, capacity: int = REMEMBERED_LINKS) -> None:
        self.capacity = capacity
        self._seen: set[bytes] = set()

    def first_time(self, link: KeyLink) -> bool:
        """True the first time ``link`` is seen (since the last reset)."""
        if link.key in self._seen:
            return False
        if len(self._seen) >= self.capacity:
            self._seen.clear()
        self._seen.add(link.key)
        return True
