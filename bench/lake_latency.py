"""Latency from publish to Parquet: sampled publish times joined with when rows reached the lake.

The benchmark notes the wall-clock time at which ``publish()`` returned for a sample of
event ids. A row becomes visible when the sink renames its file into the lake, and the
rename sets the file's inode change time (ctime), which no later step touches. After the run,
each lake file's ``event_id`` column is read and every sampled id found there gives one
latency: the file's ctime minus the id's publish time. An event that leaves for several
purposes gives one latency per purpose, since each is a row an analyst can query.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


class PublishClock:
    """Publish times of every ``every``-th event offered to it."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.published: dict[str, float] = {}
        self._offered = 0

    def offer(self, event_id: str) -> None:
        """Call right after publishing an event; keeps its time if it is in the sample."""
        if self._offered % self.every == 0:
            self.published[event_id] = time.time()
        self._offered += 1


def latencies(lake: Path, published: dict[str, float]) -> list[float]:
    """Seconds from publish to visibility in ``lake`` of each sampled row found there."""
    wanted = pa.array(list(published))
    found = []
    for path in sorted((lake / "clean").rglob("*.parquet")):
        visible = path.stat().st_ctime
        ids = pq.read_table(path, columns=["event_id"])["event_id"]
        for event_id in ids.filter(pc.is_in(ids, value_set=wanted)).to_pylist():
            found.append(visible - published[event_id])
    return found


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by the nearest-rank rule; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(values: list[float]) -> dict:
    """Count, p50, p99 and max of ``values`` (seconds)."""
    return {
        "rows": len(values),
        "p50_s": percentile(values, 0.50),
        "p99_s": percentile(values, 0.99),
        "max_s": max(values, default=math.nan),
    }
