"""A per-IP token bucket for page views, bounded in memory.

Each client IP gets ``burst`` page views at once and ``rate`` more per second. When more
than ``max_ips`` buckets exist, the full ones (clients idle long enough to have refilled)
are dropped, and if that is not enough the oldest half goes: memory stays bounded whatever
addresses arrive, and a dropped bucket only forgets a client that was not limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    """Allow or refuse one more event per key (client IP)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        max_ips: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_ips = max_ips
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: str) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_ips:
            self._shrink(now)
        return allowed

    def retry_after_s(self) -> int:
        """Seconds until an emptied bucket holds one token again."""
        return max(1, round(1.0 / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)

    def _shrink(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        if len(self._buckets) > self.max_ips:
            keep = list(self._buckets.items())[len(self._buckets) // 2 :]
            self._buckets = dict(keep)
