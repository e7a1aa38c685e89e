"""Merge a day's small files into one file per topic-partition, losing and repeating nothing.

The merged file is named by the smallest start and the largest end offset of the files it
replaces, so the highest offset per topic-partition in the lake's names, where the sink
resumes, does not change. It is written and renamed like any sink file; then the files it
replaces are deleted. A crash in between leaves files whose range lies inside the merged
file's: they are superseded, and the next compaction deletes them before anything else.
Compaction never deduplicates: the sink wrote each row once already.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from usage_pipeline.streams.sink.errors import CompactionError
from usage_pipeline.streams.sink.layout import DataFile, LakeLayout, OffsetRange
from usage_pipeline.streams.sink.lock import lake_lock
from usage_pipeline.streams.sink.writer import durable_file, fsync_dir, parquet_options, publish

log = logging.getLogger(__name__)

ROW_GROUP_ROWS = 1_000_000


@dataclass(frozen=True)
class CompactionGroup:
    """The files of one topic-partition in one purpose's day, to be merged into one."""

    purpose: str
    day: dt.date
    files: tuple[DataFile, ...]

    @property
    def offsets(self) -> OffsetRange:
        """The range the merged file's name records."""
        first = self.files[0].offsets
        return OffsetRange(
            first.topic,
            first.partition,
            min(f.offsets.start for f in self.files),
            max(f.offsets.end for f in self.files),
        )


@dataclass(frozen=True)
class CompactionResult:
    """A merged file, or why a group was left as it was."""

    group: CompactionGroup
    path: Path | None
    rows: int
    skipped: str | None = None


def plan_compaction(
    layout: LakeLayout, purposes: Iterable[str], include: Callable[[dt.date], bool]
) -> list[CompactionGroup]:
    """Every topic-partition with two or more files in an included day, after removing
    files that an interrupted compaction left superseded."""
    remove_stale_temporaries(layout)
    groups = []
    for purpose in purposes:
        for day, folder in layout.days(purpose):
            if not include(day):
                continue
            remove_superseded(layout, folder)
            by_partition: dict[tuple[str, int], list[DataFile]] = {}
            for data_file in layout.files(folder):
                key = (data_file.offsets.topic, data_file.offsets.partition)
                by_partition.setdefault(key, []).append(data_file)
            groups.extend(
                CompactionGroup(purpose, day, tuple(files))
                for files in by_partition.values()
                if len(files) > 1
            )
    return groups


def compact_group(layout: LakeLayout, group: CompactionGroup) -> CompactionResult:
    """Merge one group's files, in offset order, into one file; then delete them."""
    with lake_lock(layout):  # never while an erasure rewrites these files
        schemas = [pq.read_schema(f.path) for f in group.files]
        if any(schema != schemas[0] for schema in schemas[1:]):
            return CompactionResult(group, None, 0, skipped="files have different schemas")
        target = layout.data_path(group.purpose, group.day, group.offsets)
        temporary = layout.tmp_dir / f"compact.{target.name}.{group.day.isoformat()}.tmp"
        expected = sum(pq.read_metadata(f.path).num_rows for f in group.files)
        written = _merge([f.path for f in group.files], schemas[0], temporary)
        if written != expected:
            temporary.unlink()
            raise CompactionError(f"{target.name}: merged {written} rows, expected {expected}")
        publish(temporary, target)
        for data_file in group.files:
            data_file.path.unlink(missing_ok=True)
        fsync_dir(target.parent)
        return CompactionResult(group, target, written)


def remove_superseded(layout: LakeLayout, folder: Path) -> list[Path]:
    """Delete the files whose offsets lie inside another file's of the same folder."""
    files = layout.files(folder)
    superseded = [
        f.path
        for f in files
        if any(g.path != f.path and g.offsets.contains(f.offsets) for g in files)
    ]
    for path in superseded:
        log.info("deleting %s: a merged file holds its rows", path)
        path.unlink(missing_ok=True)
    if superseded:
        fsync_dir(folder)
    return superseded


def remove_stale_temporaries(layout: LakeLayout) -> None:
    """Delete what an interrupted compaction was writing."""
    if layout.tmp_dir.is_dir():
        for leftover in layout.tmp_dir.glob("compact.*.tmp"):
            leftover.unlink()


def _merge(sources: list[Path], schema: pa.Schema, target: Path) -> int:
    """Copy ``sources`` into one Parquet file, in large row groups; returns the rows written."""
    rows = 0
    pending: list[pa.Table] = []
    with (
        durable_file(target) as sink,
        pq.ParquetWriter(sink, schema, **parquet_options(schema)) as out,
    ):
        for source in sources:
            pending.append(pq.read_table(source, schema=schema))
            if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                rows += _write(out, pending)
        rows += _write(out, pending)
    return rows


def _write(out: pq.ParquetWriter, pending: list[pa.Table]) -> int:
    if not pending:
        return 0
    table = pa.concat_tables(pending)
    out.write_table(table, row_group_size=ROW_GROUP_ROWS)
    pending.clear()
    return table.num_rows
