"""Delete each purpose's event-date partitions once they are older than its retention.

A partition is kept while its date is at least ``today - retention_days``. Deleting moves
the whole folder out of the lake with one rename (readers see all of it or none of it),
then removes it. The sink resumes after the larger of the lake's highest offset and the
committed offset, so deleting the newest files of a topic-partition does not make it read
their records again.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from usage_pipeline.streams.sink.layout import LakeLayout
from usage_pipeline.streams.sink.lock import lake_lock
from usage_pipeline.streams.sink.writer import ensure_dir, fsync_dir


class RetentionError(ValueError):
    """A purpose has no retention period."""


@dataclass(frozen=True)
class ExpiredPartition:
    """One purpose's event-date folder past its retention."""

    purpose: str
    day: dt.date
    path: Path


def expired_partitions(
    layout: LakeLayout,
    purposes: Iterable[str],
    retention_days: Mapping[str, int],
    today: dt.date,
) -> list[ExpiredPartition]:
    """The partitions of ``purposes`` that retention deletes on ``today``, oldest first."""
    purposes = list(purposes)
    missing = sorted(set(purposes) - set(retention_days))
    if missing:
        raise RetentionError(
            f"no retention for {', '.join(missing)}: set sink.retention_days for each purpose"
        )
    return sorted(
        (
            ExpiredPartition(purpose, day, folder)
            for purpose in purposes
            for day, folder in layout.days(purpose)
            if day < today - dt.timedelta(days=retention_days[purpose])
        ),
        key=lambda p: (p.day, p.purpose),
    )


def delete_partition(layout: LakeLayout, partition: ExpiredPartition) -> None:
    """Take one partition out of the lake atomically, then delete its files."""
    ensure_dir(layout.trash_dir)
    doomed = layout.trash_dir / f"{partition.purpose}.{partition.path.name}.{uuid.uuid4().hex}"
    with lake_lock(layout):  # an erasure must not rename a file back into a folder gone
        partition.path.replace(doomed)
        fsync_dir(partition.path.parent)
    shutil.rmtree(doomed)


def empty_trash(layout: LakeLayout) -> None:
    """Delete what an interrupted retention run had taken out of the lake."""
    if layout.trash_dir.is_dir():
        for leftover in layout.trash_dir.iterdir():
            shutil.rmtree(leftover)
