"""What a run has learnt about each user so far: seen, suppressed, opted out of marketing."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from usage_pipeline.producers.simulator.config import _NEVER


@dataclass(eq=False)
class _Audience:
    """Per-user state that decides who gets consent rows and who may get bulk mail."""

    seen: np.ndarray  # has had an event, so their initial consent is recorded
    suppressed: np.ndarray  # the provider stopped delivering: hard bounce or complaint
    marketing_off_ms: np.ndarray  # when they opted out of marketing mail; _NEVER if not

    @classmethod
    def of(cls, users: int) -> _Audience:
        """Nobody seen, suppressed or opted out yet."""
        return cls(
            seen=np.zeros(users, dtype=bool),
            suppressed=np.zeros(users, dtype=bool),
            marketing_off_ms=np.full(users, _NEVER, dtype=np.int64),
        )

    def bulk_mail_recipients(self, t0: int) -> np.ndarray:
        """The users a bulk campaign sent at ``t0`` may go to."""
        return np.flatnonzero(self.seen & ~self.suppressed & (self.marketing_off_ms > t0))
