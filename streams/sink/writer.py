"""Durable, all-or-nothing Parquet files: temporary file, fsync, intent, atomic rename, fsync.

A flush of one topic-partition can write several files (one per event date), and a crash
must never leave only some of them: the sink resumes after the highest offset in the
lake's file names, so a missing sibling would be lost. Each flush therefore writes its
files under ``_sink/tmp/``, then an intent listing the renames it will make, then renames.
``recover`` finishes an interrupted flush from its intent, or, without one, deletes the
temporary files: the offsets they held were never committed and are read again. Files that
several flushes append to (``OpenFiles``) are temporary files too until one flush publishes
them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from usage_pipeline.streams.sink.layout import OFFSET_WIDTH, LakeLayout, OffsetRange

COMPRESSION = "zstd"
# Pieces of open files are read back once, by this process: lz4 costs little and keeps the
# temporary folder a few times smaller than plain Arrow.
_PIECE_CODEC = "lz4"
# Dates of a partition written at once when its open files are published (all partitions'
# at the end of fast input): one date's fsync and folder updates overlap another's encoding.
# The dates share the partition's rows, so memory stays within one partition's open rows.
CLOSE_THREADS = 2


@contextmanager
def durable_file(path: Path) -> Iterator[BinaryIO]:
    """A new file open for writing, flushed and fsynced when the block ends without error."""
    ensure_dir(path.parent)
    with path.open("wb") as sink:
        yield sink
        sink.flush()
        os.fsync(sink.fileno())


def parquet_options(schema: pa.Schema) -> dict[str, Any]:
    """How every lake file is written: zstd, min/max statistics of the top-level scalar columns.

    Readers prune files and row groups by the envelope's columns (``occurred_at``,
    ``event_type``, ``kafka_offset``); the min and max of a struct's leaves (URLs, user
    agents, pseudonyms) prune nothing, and computing them took a fifth of the writing.
    """
    scalars = [field.name for field in schema if not pa.types.is_nested(field.type)]
    return {"compression": COMPRESSION, "write_statistics": scalars}


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` as Parquet (``parquet_options``) and fsync it."""
    with durable_file(path) as sink:
        pq.write_table(table, sink, **parquet_options(table.schema))


def publish(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target`` atomically and make the rename durable."""
    ensure_dir(target.parent)
    source.replace(target)
    fsync_dir(target.parent)


def write_files(
    layout: LakeLayout, offsets: OffsetRange, files: Iterable[tuple[Path, pa.Table | Path]]
) -> None:
    """Publish one flush's data files all or nothing (see the module's docstring); ``files``
    may be a generator, so that only one file's table need be in memory at a time. Each
    final path comes with a table to write or with a temporary file already written and
    fsynced (``OpenFiles.close``)."""
    renames = []
    for final, source in files:
        if isinstance(source, Path):
            temporary = source
        else:
            temporary = layout.tmp_dir / f"{offsets.file_name}.{final.parent.name}.tmp"
            write_parquet(source, temporary)
        renames.append((temporary, final))
    if not renames:
        return
    intent = layout.intent_path(offsets.topic, offsets.partition)
    relative = [[str(p.relative_to(layout.root)) for p in pair] for pair in renames]
    _write_atomically(intent, orjson.dumps(relative))
    _apply(renames)
    intent.unlink()


class OpenFiles:
    """One partition's files still being written: each flush's rows of each event date are
    appended to the partition's one temporary file under ``_sink/tmp/`` as Arrow IPC record
    batch messages, each lz4-compressed whole (no Parquet encoding; in memory only where each
    lies and the schema they share); ``close`` turns each date's batches into one Parquet
    file, one row group, for ``write_files`` to publish. No intent names that file: after a
    crash ``recover`` deletes it, and its offsets, never committed, are read again."""

    def __init__(self, layout: LakeLayout, topic: str, partition: int, start: int) -> None:
        self.layout = layout
        self.prefix = f"{topic}+{partition}+{start:0{OFFSET_WIDTH}d}-open"
        self.path = layout.tmp_dir / f"{self.prefix}.pieces.tmp"
        self._file: BinaryIO | None = None
        self._schema: pa.Schema | None = None  # every append's: one topic's output schema
        self._size = 0
        self._pieces: dict[Path, list[_Piece]] = {}  # day folder -> its pieces, in order

    def __len__(self) -> int:
        return len(self._pieces)

    def append(self, folder: Path, table: pa.Table) -> None:
        """Keep ``table``'s rows for the file of the day folder ``folder``."""
        if self._schema is None:
            self._schema = table.schema
        elif not table.schema.equals(self._schema):
            raise ValueError(f"{self.prefix}: a table of another schema than the open files'")
        if self._file is None:
            ensure_dir(self.path.parent)
            self._file = self.path.open("w+b")
        pieces = self._pieces.setdefault(folder, [])
        for batch in table.to_batches():
            # A bare record batch message, read back against the schema kept here: an IPC
            # stream per piece repeats the schema, whose parsing was most of the reading.
            # One compression of the whole message: IPC's own compresses each column's
            # buffers apart, which cost three times the writing and saved little.
            data = batch.serialize()
            compressed = pa.compress(data, codec=_PIECE_CODEC, asbytes=False)
            self._file.write(compressed)
            pieces.append(_Piece(self._size, compressed.size, data.size))
            self._size += compressed.size

    def close(self, name: str) -> Iterator[tuple[Path, Path]]:
        """Each date's file, written and fsynced: (final path named ``name``, temporary file);
        ``CLOSE_THREADS`` dates at a time, each one date's rows in memory."""
        if self._file is not None:
            self._file.flush()
        folders = list(self._pieces)
        with ThreadPoolExecutor(CLOSE_THREADS, thread_name_prefix="lake-close") as pool:
            for folder, temporary in zip(folders, pool.map(self._write_day, folders), strict=True):
                yield folder / name, temporary
        self.discard()

    def _write_day(self, folder: Path) -> Path:
        batches = [self._read(piece) for piece in self._pieces[folder]]
        temporary = self.layout.tmp_dir / f"{self.prefix}.{folder.name}.tmp"
        # One contiguous table: the Parquet writer's cost per chunk and column, over a few
        # dozen small flushes, was more than the copy.
        write_parquet(pa.Table.from_batches(batches, self._schema).combine_chunks(), temporary)
        return temporary

    def discard(self) -> None:
        """Delete the partition's temporary file (its offsets were never committed)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)
        self._pieces.clear()
        self._schema = None
        self._size = 0

    def _read(self, piece: _Piece) -> pa.RecordBatch:
        assert self._file is not None
        compressed = os.pread(self._file.fileno(), piece.size, piece.offset)
        data = pa.decompress(
            compressed, decompressed_size=piece.decompressed, codec=_PIECE_CODEC, asbytes=False
        )
        return pa.ipc.read_record_batch(data, self._schema)


@dataclass(frozen=True)
class _Piece:
    """Where one record batch of one flush's rows of one date lies in a partition's open file."""

    offset: int
    size: int
    decompressed: int


def recover(layout: LakeLayout, topic: str, partition: int) -> None:
    """Finish or undo the flush of one topic-partition that a crash interrupted."""
    intent = layout.intent_path(topic, partition)
    if intent.exists():
        pairs = orjson.loads(intent.read_bytes())
        _apply([(layout.root / source, layout.root / target) for source, target in pairs])
        intent.unlink()
    _temporary(intent).unlink(missing_ok=True)
    if layout.tmp_dir.is_dir():
        for leftover in layout.tmp_dir.glob(f"{topic}+{partition}+*.tmp"):
            leftover.unlink()


def ensure_dir(path: Path) -> None:
    """Create ``path`` and its missing parents, each creation made durable in its parent."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    path.mkdir(exist_ok=True)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the entries of a folder (creations, renames, deletions) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _apply(renames: list[tuple[Path, Path]]) -> None:
    """Rename each temporary file still there (a rename done before a crash is skipped)."""
    for source, target in renames:
        if source.exists():
            publish(source, target)


def _temporary(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = _temporary(path)
    with durable_file(temporary) as sink:
        sink.write(data)
    publish(temporary, path)
