"""Daily visitor ids for traffic statistics, from salts that are destroyed after 48 hours.

As Plausible does: a visitor id is a keyed hash of IP, user agent and host with a random
salt per UTC day of the event. Within a day one visitor counts once; across days ids never
match; and 48 hours after a salt was made it is destroyed, so nobody, us included, can
recompute an id. Salts live in memory only: a restart, or an event arriving after its day's
salt was destroyed, may count a visitor twice; nothing can link one.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

SALT_LIFETIME_S = 48 * 3600


class VisitorSalts:
    """One random salt per UTC day, destroyed ``lifetime_s`` after it was made."""

    def __init__(
        self, lifetime_s: float = SALT_LIFETIME_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._salts: dict[str, tuple[bytes, float]] = {}  # day -> (salt, destroy at)

    def visitor_id(self, ip: Any, event: Mapping[str, Any]) -> str:
        """The visitor id of an event's IP on the event's day."""
        salt = self._salt(str(event["occurred_at"])[:10])
        context = event.get("context") or {}
        material = "\x00".join((str(ip), context.get("user_agent", ""), context.get("host", "")))
        return hashlib.blake2b(material.encode(), key=salt, digest_size=16).hexdigest()

    def days(self) -> list[str]:
        """The days whose salt still exists."""
        self._destroy_expired()
        return sorted(self._salts)

    def _salt(self, day: str) -> bytes:
        entry = self._salts.get(day)
        now = self._clock()
        if entry is not None and now < entry[1]:
            return entry[0]
        self._destroy_expired()
        salt = secrets.token_bytes(32)
        self._salts[day] = (salt, now + self.lifetime_s)
        return salt

    def _destroy_expired(self) -> None:
        now = self._clock()
        for day in [d for d, (_, destroy_at) in self._salts.items() if now >= destroy_at]:
            del self._salts[day]
