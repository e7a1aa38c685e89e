"""Drop events the stream delivered twice: the first row of an event id in a partition wins.

A repeated event keeps its ``event_id`` and ``occurred_at``, hence its event date and (keyed
by event id) its partition: duplicates can only meet in one topic-partition's files of one
day. The ids of each such group are read from the lake the first time it is needed and kept
in memory, least recently used first out beyond ``max_ids``.

Ids are kept as fixed-width bytes in sorted numpy arrays, 36 bytes an id (a Python set of
the same strings takes about 120), so that the default two million fit in the sink's memory
budget. Every event id is a UUID in its 36-character text form (the envelope's pattern);
ids are compared byte for byte, as before, never case-folded.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_pipeline.streams.sink.arrow_schema import EVENT_ID
from usage_pipeline.streams.sink.convert import date_of
from usage_pipeline.streams.sink.errors import RecordError
from usage_pipeline.streams.sink.layout import LakeLayout

ID_BYTES = 36  # a UUID's text form
_ID_TYPE = np.dtype(f"S{ID_BYTES}")
_READ_ATTEMPTS = 3  # `lake compact` may replace files between listing and reading them

GroupKey = tuple[str, int, dt.date]  # topic, partition, event date


class SeenIds:
    """Event ids already in the lake, per topic-partition and event date."""

    def __init__(self, layout: LakeLayout, max_ids: int) -> None:
        self.layout = layout
        self.max_ids = max_ids
        self._groups: OrderedDict[GroupKey, _SortedIds] = OrderedDict()
        self._held = 0  # ids in every group: summing them each time cost 4% of a demo's sink

    def first_occurrences(
        self,
        purpose: str,
        topic: str,
        partition: int,
        event_ids: pa.Array | pa.ChunkedArray,
        days: pa.Array,
    ) -> pa.Array:
        """A mask keeping each row whose event id is neither in the lake nor earlier in it."""
        ids = fixed_width_ids(event_ids)
        day_numbers = days.cast(pa.int32()).to_numpy()
        keep = np.ones(len(ids), dtype=bool)
        for day_number in np.unique(day_numbers).tolist():
            rows = np.flatnonzero(day_numbers == day_number)
            day = date_of(day_number)
            group = self._group(purpose, (topic, partition, day))
            before = group.size
            keep[rows] = group.add_new(ids[rows])
            self._held += group.size - before
        self._trim()
        return pa.array(keep)

    def forget(self, topic: str, partition: int) -> None:
        """Drop what is known of a topic-partition (it was revoked)."""
        for key in [k for k in self._groups if k[:2] == (topic, partition)]:
            self._held -= self._groups.pop(key).size

    def _group(self, purpose: str, key: GroupKey) -> _SortedIds:
        seen = self._groups.get(key)
        if seen is None:
            seen = self._groups[key] = _SortedIds()
            seen.add_new(self._read(purpose, key))
            self._held += seen.size
        self._groups.move_to_end(key)
        return seen

    def _read(self, purpose: str, key: GroupKey) -> np.ndarray:
        topic, partition, day = key
        for attempt in range(_READ_ATTEMPTS):
            files = [
                f.path
                for f in self.layout.files(self.layout.day_dir(purpose, day))
                if (f.offsets.topic, f.offsets.partition) == (topic, partition)
            ]
            try:
                columns = [pq.read_table(path, columns=[EVENT_ID])[EVENT_ID] for path in files]
            except FileNotFoundError:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
                continue
            return fixed_width_ids(pa.chunked_array(columns, pa.string()))
        raise AssertionError("unreachable")

    def _trim(self) -> None:
        while self._held > self.max_ids and len(self._groups) > 1:
            _, evicted = self._groups.popitem(last=False)
            self._held -= evicted.size


def fixed_width_ids(event_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Event ids as a numpy array of 36-byte strings (without a copy when they are contiguous)."""
    chunks = event_ids.chunks if isinstance(event_ids, pa.ChunkedArray) else [event_ids]
    parts = [_chunk_ids(chunk) for chunk in chunks if len(chunk)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=_ID_TYPE)


def _chunk_ids(ids: pa.Array) -> np.ndarray:
    lengths = pc.binary_length(ids)
    if ids.null_count or pc.min_max(lengths).as_py() != {"min": ID_BYTES, "max": ID_BYTES}:
        raise RecordError(f"every {EVENT_ID} must be a UUID of {ID_BYTES} characters")
    _, offsets, data = ids.buffers()
    start = np.frombuffer(offsets, dtype=np.int32, count=1, offset=ids.offset * 4)[0]
    return np.frombuffer(data, dtype=_ID_TYPE, count=len(ids), offset=int(start))


class _SortedIds:
    """A set of fixed-width ids as sorted, disjoint runs, merged like a binary counter (so an
    id is merged O(log n) times and a lookup searches O(log n) runs)."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self.size = 0

    def add_new(self, ids: np.ndarray) -> np.ndarray:
        """Add ``ids``; a mask of those that were not here yet and are first in ``ids``."""
        unique, first = np.unique(ids, return_index=True)
        fresh = np.ones(len(unique), dtype=bool)
        for run in self._runs:
            at = np.searchsorted(run, unique)
            fresh &= run[np.minimum(at, len(run) - 1)] != unique
        new = np.zeros(len(ids), dtype=bool)
        new[first[fresh]] = True
        self._append(unique[fresh])
        return new

    def _append(self, run: np.ndarray) -> None:
        if not len(run):
            return
        self.size += len(run)
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.sort(np.concatenate([self._runs.pop(), run]))
        self._runs.append(run)
