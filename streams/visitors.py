"""Daily visitor ids for traffic statistics, from salts that are destroyed after 48 hours.

As Plausible does: a visitor id is a keyed hash of IP, user agent and host with a random
salt per UTC day of the event. Within a day one visitor counts once; across days ids never
match; and 48 hours after a salt was made it is destroyed, so nobody, us included, can
recompute an id. Every worker process must use the same salt for a day, or one visitor counts
once per worker: a ``SaltLog`` lets them agree (``streams/worker/salt_log.py`` keeps it in a
compacted topic). An event arriving after its day's salt was destroyed gets a new salt for
that day, so it may count its visitor twice; nothing can link the two.

Visitors send many requests a day: the ids made with a day's salt are remembered with it,
and go when it goes. The bound is on all days together: a worker catching up on a month
holds a salt per day, and 16,384 ids per day took 55 MB at 30 days.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

SALT_LIFETIME_S = 48 * 3600
IDS_REMEMBERED = 16_384  # visitor ids remembered over every day's salt; all forgotten when full


class SaltLog(Protocol):
    """Where the salts of all workers meet."""

    def agree(self, day: str, salt: bytes, made_at: float) -> tuple[bytes, float]:
        """Offer ``salt`` for ``day``; returns the salt every worker uses and when it was made."""
        ...

    def destroy(self, days: list[str]) -> None:
        """Remove the salts of ``days`` for good."""
        ...


class PrivateSalts:
    """A SaltLog of one process: its own offer always wins (tests, dry runs, benchmarks)."""

    def agree(self, day: str, salt: bytes, made_at: float) -> tuple[bytes, float]:
        """The offered salt."""
        return salt, made_at

    def destroy(self, days: list[str]) -> None:
        """Nothing is kept outside the process."""


class _Day:
    """One day's salt, as a keyed hash, when it is destroyed, and the ids made with it."""

    __slots__ = ("destroy_at", "ids", "keyed")

    def __init__(self, salt: bytes, destroy_at: float) -> None:
        self.destroy_at = destroy_at
        self.keyed = hashlib.blake2b(key=salt, digest_size=16)
        self.ids: dict[str, str] = {}

    def new_id(self, material: str) -> str:
        """The id of ``material`` under this salt, computed and remembered."""
        digest = self.keyed.copy()  # the same digest as keying a new hash, for less
        digest.update(material.encode())
        found = self.ids[material] = digest.hexdigest()
        return found


class VisitorSalts:
    """One random salt per UTC day, destroyed ``lifetime_s`` after it was made."""

    def __init__(
        self,
        lifetime_s: float = SALT_LIFETIME_S,
        clock: Callable[[], float] = time.time,
        log: SaltLog | None = None,
    ) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._log = log or PrivateSalts()
        self._days: dict[str, _Day] = {}
        self._remembered = 0  # ids remembered by all days together

    def visitor_id(self, ip: Any, event: Mapping[str, Any]) -> str:
        """The visitor id of an event's IP on the event's day."""
        context = event.get("context") or {}
        # An f-string formats a str as str() does, in one step.
        material = f"{ip}\x00{context.get('user_agent', '')}\x00{context.get('host', '')}"
        day = str(event["occurred_at"])[:10]
        entry = self._days.get(day)
        if entry is None or self._clock() >= entry.destroy_at:
            entry = self._new_day(day)
        found = entry.ids.get(material)  # the usual case, without a call
        if found is not None:
            return found
        if self._remembered >= IDS_REMEMBERED:
            for held in self._days.values():
                held.ids.clear()
            self._remembered = 0
        self._remembered += 1
        return entry.new_id(material)

    def remembered(self) -> int:
        """How many visitor ids are remembered, over every day's salt."""
        return self._remembered

    def days(self) -> list[str]:
        """The days whose salt this process still holds (expired ones are destroyed first)."""
        self.destroy_expired()
        return sorted(self._days)

    def destroy_expired(self) -> None:
        """Destroy every salt past its lifetime, here and in the log."""
        now = self._clock()
        expired = [day for day, entry in self._days.items() if now >= entry.destroy_at]
        for day in expired:
            self._remembered -= len(self._days.pop(day).ids)
        if expired:
            self._log.destroy(expired)

    def _new_day(self, day: str) -> _Day:
        """``day``'s salt once this process has none, or its salt expired (destroyed here)."""
        self.destroy_expired()
        salt, made_at = self._log.agree(day, secrets.token_bytes(32), self._clock())
        entry = self._days[day] = _Day(salt, made_at + self.lifetime_s)
        return entry
