"""Where the lake keeps each file, and how a file's name records its offsets.

``<root>/clean/<purpose>/event_date=YYYY-MM-DD/<topic>+<partition>+<start>-<end>.parquet``
holds the rows of one topic-partition with offsets ``start`` to ``end`` (inclusive) whose
event date is that day. The sink's own state (temporary files, flush intents, deleted
partitions on their way out) lives under ``<root>/_sink/``, outside every reader's glob.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from usage_pipeline.schemas.lake import EVENT_DATE

DATA_DIR = "clean"
STATE_DIR = "_sink"
SUFFIX = ".parquet"
OFFSET_WIDTH = 10  # zero padding, as Confluent's connectors do, so names sort by offset

_FILE_NAME = re.compile(
    r"(?P<topic>[A-Za-z0-9-][A-Za-z0-9._-]*)\+(?P<partition>[0-9]+)\+(?P<start>[0-9]+)-(?P<end>[0-9]+)"
    + re.escape(SUFFIX)
)
_DAY_DIR = re.compile(EVENT_DATE + r"=(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})")


@dataclass(frozen=True, order=True)
class OffsetRange:
    """Offsets ``start`` to ``end`` (both included) of one topic-partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def file_name(self) -> str:
        """The data file name for this range."""
        return (
            f"{self.topic}+{self.partition}+{self.start:0{OFFSET_WIDTH}d}"
            f"-{self.end:0{OFFSET_WIDTH}d}{SUFFIX}"
        )

    def contains(self, other: OffsetRange) -> bool:
        """True when ``other`` is a range of the same topic-partition inside this one."""
        return (
            (self.topic, self.partition) == (other.topic, other.partition)
            and self.start <= other.start
            and other.end <= self.end
        )


def parse_file_name(name: str) -> OffsetRange | None:
    """The offset range a data file name records; None for any other name."""
    match = _FILE_NAME.fullmatch(name)
    if match is None:
        return None
    return OffsetRange(
        match["topic"], int(match["partition"]), int(match["start"]), int(match["end"])
    )


def parse_day_dir(name: str) -> dt.date | None:
    """The event date of an ``event_date=YYYY-MM-DD`` folder name; None for any other name."""
    match = _DAY_DIR.fullmatch(name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match["day"])
    except ValueError:
        return None


@dataclass(frozen=True)
class DataFile:
    """A data file of the lake with the offsets its name records."""

    path: Path
    offsets: OffsetRange


class LakeLayout:
    """Paths of one lake: data folders per purpose and day, and the sink's state folders."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def purpose_dir(self, purpose: str) -> Path:
        """The folder of one purpose's partitions."""
        return self.root / DATA_DIR / purpose

    def day_dir(self, purpose: str, day: dt.date) -> Path:
        """The Hive partition folder of one purpose and event date."""
        return self.purpose_dir(purpose) / f"{EVENT_DATE}={day.isoformat()}"

    def data_path(self, purpose: str, day: dt.date, offsets: OffsetRange) -> Path:
        """The final path of one data file."""
        return self.day_dir(purpose, day) / offsets.file_name

    @property
    def tmp_dir(self) -> Path:
        """Files being written; same file system as the data, invisible to readers."""
        return self.root / STATE_DIR / "tmp"

    @property
    def intent_dir(self) -> Path:
        """Flush intents: the renames a flush will make, written before the first one."""
        return self.root / STATE_DIR / "intents"

    @property
    def trash_dir(self) -> Path:
        """Partitions that retention took out of the lake, until they are deleted."""
        return self.root / STATE_DIR / "trash"

    def intent_path(self, topic: str, partition: int) -> Path:
        """The intent file of one topic-partition's flush in progress."""
        return self.intent_dir / f"{topic}+{partition}.json"

    def days(self, purpose: str) -> list[tuple[dt.date, Path]]:
        """Every event-date partition of a purpose, oldest first."""
        folder = self.purpose_dir(purpose)
        if not folder.is_dir():
            return []
        found = [(parse_day_dir(p.name), p) for p in folder.iterdir() if p.is_dir()]
        return sorted((day, path) for day, path in found if day is not None)

    def files(self, day_dir: Path) -> list[DataFile]:
        """The data files of one partition folder, by topic, partition and start offset."""
        try:
            names = [entry.name for entry in day_dir.iterdir()]
        except FileNotFoundError:
            return []
        found = [DataFile(day_dir / n, r) for n in names if (r := parse_file_name(n)) is not None]
        return sorted(found, key=lambda f: f.offsets)

    def partition_files(
        self, purpose: str, topic: str, partition: int
    ) -> Iterator[tuple[dt.date, DataFile]]:
        """Every data file of one topic-partition, in every day of its purpose."""
        for day, folder in self.days(purpose):
            for data_file in self.files(folder):
                if (data_file.offsets.topic, data_file.offsets.partition) == (topic, partition):
                    yield day, data_file

    def last_offset(self, purpose: str, topic: str, partition: int) -> int | None:
        """The highest offset of a topic-partition in the lake's file names; None if none."""
        ends = [f.offsets.end for _, f in self.partition_files(purpose, topic, partition)]
        return max(ends, default=None)
