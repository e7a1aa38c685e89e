"""The period in chunks: seasonality, chunk bounds, each chunk's share of events, invoice runs."""

from __future__ import annotations

import datetime as dt
from typing import Final

import numpy as np

from usage_pipeline.producers.simulator.config import (
    _EPOCH,
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    SimulationConfig,
)
from usage_pipeline.producers.simulator.draws import _pick

# Hour-of-day curve (UTC; customers mostly in Europe and the Americas), weekday curve (Mon..Sun)
_HOUR_CURVE: Final = np.array(
    [0.32, 0.26, 0.22, 0.21, 0.24, 0.33, 0.50, 0.72, 0.92, 1.02, 1.08, 1.12,
     1.16, 1.22, 1.24, 1.20, 1.12, 1.02, 0.92, 0.82, 0.70, 0.58, 0.47, 0.38]
)  # fmt: skip
_WEEKDAY_CURVE: Final = np.array([1.00, 1.06, 1.06, 1.02, 0.93, 0.50, 0.44])
_GROWTH: Final = 0.20  # end of period vs start

# Chunk lengths to choose from: a run takes the longest whose expected rows stay within
# _ROWS_PER_CHUNK, so that memory stays flat and the numpy calls stay large.
_CHUNK_CHOICES_MS: Final = (
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    HOUR_MS, 2 * HOUR_MS, 3 * HOUR_MS, 4 * HOUR_MS, 6 * HOUR_MS, 8 * HOUR_MS, 12 * HOUR_MS,
    DAY_MS,
)  # fmt: skip
_ROWS_PER_CHUNK: Final = 15_000


class _Timeline:
    """When things happen in a run: its chunks, their share of the events, the invoice runs."""

    def __init__(self, config: SimulationConfig) -> None:
        self.start, self.until = config.start_ms, config.until_ms
        # Seasonality: one weight per hour of the period, then per chunk.
        hours = config.days * 24
        hour_index = np.arange(hours)
        weekday = ((self.start // DAY_MS + hour_index // 24) + 3) % 7  # 1970-01-01: Thursday
        self.hour_weight = (
            _HOUR_CURVE[hour_index % 24]
            * _WEEKDAY_CURVE[weekday]
            * (1 + _GROWTH * (hour_index + 0.5) / hours)
        )
        self.bounds = _chunk_bounds(config)
        self.chunk_count = len(self.bounds) - 1
        cumulative = np.concatenate([[0.0], np.cumsum(self.hour_weight)])
        at = (np.array(self.bounds) - self.start) / HOUR_MS
        whole = np.minimum(at.astype(np.int64), hours - 1)
        weight_until = cumulative[whole] + (at - whole) * self.hour_weight[whole]
        self.chunk_weight = np.diff(weight_until)
        self.weight_left = np.cumsum(self.chunk_weight[::-1])[::-1]
        self.invoice_times = _invoice_times(config)

    def session_starts(self, rng: np.random.Generator, s: int, e: int, n: int) -> np.ndarray:
        """Session start times in [s, e), following the hour-of-day curve."""
        if e - s <= HOUR_MS:
            return s + rng.integers(0, e - s, size=n)
        first = (s - self.start) // HOUR_MS  # chunks longer than an hour are whole hours
        hour = _pick(rng, self.hour_weight[first : first + (e - s) // HOUR_MS], n)
        return s + hour * HOUR_MS + rng.integers(0, HOUR_MS, size=n)


def _chunk_bounds(config: SimulationConfig) -> list[int]:
    """The start of every chunk, then the end of the period."""
    start, until = config.start_ms, config.until_ms
    span = config.days * DAY_MS
    chunk = _CHUNK_CHOICES_MS[0]
    for choice in _CHUNK_CHOICES_MS:
        if config.events * choice / span <= _ROWS_PER_CHUNK:
            chunk = choice
    # A regular grid, but the last long chunk is cut into hours and the last hour into 10
    # minutes, so that the exact total costs at most a few minutes of the period's end (the
    # last chunk is filled to the count, then cut).
    bounds = list(range(start, until - chunk + 1, chunk))
    if chunk > 10 * MINUTE_MS:
        tail = bounds.pop()
        step = HOUR_MS if chunk > HOUR_MS else 10 * MINUTE_MS
        bounds += range(tail, until - HOUR_MS, step)
        bounds += range(max(tail, until - HOUR_MS), until, 10 * MINUTE_MS)
    return [*bounds, until]


def _invoice_times(config: SimulationConfig) -> list[int]:
    """Monthly invoice runs in the period: the 1st of each month at 06:00 UTC."""
    times: list[int] = []
    day = config.until - dt.timedelta(days=config.days)
    while day < config.until:
        if day.day == 1:
            times.append((day - _EPOCH).days * DAY_MS + 6 * HOUR_MS)
        day += dt.timedelta(days=1)
    return times
