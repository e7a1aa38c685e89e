"""Drop events the stream delivered twice: the first row of an event id in a partition wins.

A repeated event keeps its ``event_id`` and ``occurred_at``, hence its event date and (keyed
by event id) its partition: duplicates can only meet in one topic-partition's files of one
day. The ids of each such group are read from the lake the first time it is needed and kept
in memory, least recently used first out beyond ``max_ids``.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from streams.sink.arrow_schema import EVENT_ID
from streams.sink.layout import LakeLayout

_READ_ATTEMPTS = 3  # `lake compact` may replace files between listing and reading them

GroupKey = tuple[str, int, dt.date]  # topic, partition, event date


class SeenIds:
    """Event ids already in the lake, per topic-partition and event date."""

    def __init__(self, layout: LakeLayout, max_ids: int) -> None:
        self.layout = layout
        self.max_ids = max_ids
        self._groups: OrderedDict[GroupKey, set[str]] = OrderedDict()

    def first_occurrences(
        self, purpose: str, topic: str, partition: int, event_ids: pa.Array, days: pa.Array
    ) -> pa.Array:
        """A mask keeping each row whose event id is neither in the lake nor earlier in it."""
        keep = np.ones(len(days), dtype=bool)
        for day in pc.unique(days).to_pylist():
            rows = np.flatnonzero(pc.equal(days, day).to_numpy(zero_copy_only=False))
            ids = pc.take(event_ids, rows).to_pylist()
            seen = self._group(purpose, (topic, partition, day))
            fresh = set(ids)
            if len(fresh) == len(ids) and fresh.isdisjoint(seen):  # the usual case, at C speed
                seen |= fresh
                continue
            for row, event_id in zip(rows, ids, strict=True):
                if event_id in seen:
                    keep[row] = False
                else:
                    seen.add(event_id)
        self._trim()
        return pa.array(keep)

    def forget(self, topic: str, partition: int) -> None:
        """Drop what is known of a topic-partition (it was revoked)."""
        for key in [k for k in self._groups if k[:2] == (topic, partition)]:
            del self._groups[key]

    def _group(self, purpose: str, key: GroupKey) -> set[str]:
        seen = self._groups.get(key)
        if seen is None:
            seen = self._groups[key] = self._read(purpose, key)
        self._groups.move_to_end(key)
        return seen

    def _read(self, purpose: str, key: GroupKey) -> set[str]:
        topic, partition, day = key
        for attempt in range(_READ_ATTEMPTS):
            files = [
                f.path
                for f in self.layout.files(self.layout.day_dir(purpose, day))
                if (f.offsets.topic, f.offsets.partition) == (topic, partition)
            ]
            try:
                return {
                    event_id
                    for path in files
                    for event_id in pq.read_table(path, columns=[EVENT_ID])[EVENT_ID].to_pylist()
                }
            except FileNotFoundError:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _trim(self) -> None:
        total = sum(len(ids) for ids in self._groups.values())
        while total > self.max_ids and len(self._groups) > 1:
            _, evicted = self._groups.popitem(last=False)
            total -= len(evicted)
