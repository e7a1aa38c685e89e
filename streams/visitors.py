"""Daily visitor ids for traffic statistics, from salts that are destroyed after 48 hours.

As Plausible does: a visitor id is a keyed hash of IP, user agent and host with a random
salt per UTC day of the event. Within a day one visitor counts once; across days ids never
match; and 48 hours after a salt was made it is destroyed, so nobody, us included, can
recompute an id. Every worker process must use the same salt for a day, or one visitor counts
once per worker: a ``SaltLog`` lets them agree (``streams/worker/salt_log.py`` keeps it in a
compacted topic). An event arriving after its day's salt was destroyed gets a new salt for
that day, so it may count its visitor twice; nothing can link the two.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

SALT_LIFETIME_S = 48 * 3600


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
        self._salts: dict[str, tuple[bytes, float]] = {}  # day -> (salt, destroy at)

    def visitor_id(self, ip: Any, event: Mapping[str, Any]) -> str:
        """The visitor id of an event's IP on the event's day."""
        salt = self._salt(str(event["occurred_at"])[:10])
        context = event.get("context") or {}
        material = "\x00".join((str(ip), context.get("user_agent", ""), context.get("host", "")))
        return hashlib.blake2b(material.encode(), key=salt, digest_size=16).hexdigest()

    def days(self) -> list[str]:
        """The days whose salt this process still holds (expired ones are destroyed first)."""
        self.destroy_expired()
        return sorted(self._salts)

    def destroy_expired(self) -> None:
        """Destroy every salt past its lifetime, here and in the log."""
        now = self._clock()
        expired = [day for day, (_, destroy_at) in self._salts.items() if now >= destroy_at]
        for day in expired:
            del self._salts[day]
        if expired:
            self._log.destroy(expired)

    def _salt(self, day: str) -> bytes:
        entry = self._salts.get(day)
        if entry is not None and self._clock() < entry[1]:
            return entry[0]
        self.destroy_expired()
        salt, made_at = self._log.agree(day, secrets.token_bytes(32), self._clock())
        self._salts[day] = (salt, made_at + self.lifetime_s)
        return salt
