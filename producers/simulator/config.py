"""What to simulate (``SimulationConfig``), and the time units every part counts in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

import numpy as np

SECOND_MS: Final = 1_000
MINUTE_MS: Final = 60 * SECOND_MS
HOUR_MS: Final = 60 * MINUTE_MS
DAY_MS: Final = 24 * HOUR_MS
_EPOCH: Final = dt.date(1970, 1, 1)
_NEVER: Final = np.iinfo(np.int64).max  # a time after every event: "not scheduled", "not yet"


def _today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: how many events, over how many days before ``until``, from which seed."""

    events: int = 1_000_000
    days: int = 30
    seed: int = 42
    until: dt.date = field(default_factory=_today_utc)
    """Exclusive end day (UTC): events cover ``[until - days, until)``. Default: today (UTC)."""

    def __post_init__(self) -> None:
        if isinstance(self.until, dt.datetime):
            object.__setattr__(self, "until", self.until.date())
        if self.events < 0:
            raise ValueError("events must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")

    @property
    def start_ms(self) -> int:
        """First millisecond of the period (Unix epoch milliseconds, UTC)."""
        return self.until_ms - self.days * DAY_MS

    @property
    def until_ms(self) -> int:
        """First millisecond after the period (Unix epoch milliseconds, UTC)."""
        return (self.until - _EPOCH).days * DAY_MS
