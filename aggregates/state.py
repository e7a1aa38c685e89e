"""The build's record beside the published tables: k, definitions, time, and the lake it read.

``<lake>/aggregates/_build.json`` holds a fingerprint of every clean partition
(``clean/<purpose>/event_date=<day>/``) the last build read: its files' names, sizes,
modification times and inodes. Sink files are immutable, but compaction and erasure
rewrite a day's files, which changes their size, time or inode. The next build compares
fingerprints to find the days to recompute. The file is written last, so a build stopped
half-way recomputes the same days again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from usage_pipeline.aggregates.lake import CLEAN_DIR, SOURCE_SCHEMAS
from usage_pipeline.aggregates.publish import AGGREGATES_DIR, write_file

STATE_FILE = "_build.json"
FORMAT = 1
_PARTITION_PREFIX = "event_date="

PartitionKey = tuple[str, dt.date]  # (purpose, event_date)


@dataclass(frozen=True)
class Partition:
    """One purpose's files for one UTC day, and their fingerprint."""

    files: tuple[Path, ...]
    fingerprint: str
    size: int


@dataclass(frozen=True)
class BuildState:
    """What the last build used: its k, definitions digest, time, and partition fingerprints."""

    k: int
    definitions: str
    built_at: dt.datetime
    partitions: dict[str, str]  # "<purpose>/<YYYY-MM-DD>" -> fingerprint
    lake: dict[str, dict]  # per purpose: partitions, files, bytes, first and last day


def state_path(lake_dir: Path) -> Path:
    """Where the build state lives: ``<lake>/aggregates/_build.json``."""
    return Path(lake_dir) / AGGREGATES_DIR / STATE_FILE


def scan_lake(lake_dir: Path) -> dict[PartitionKey, Partition]:
    """Every non-empty clean partition the aggregates read, with its files' fingerprint."""
    partitions: dict[PartitionKey, Partition] = {}
    for purpose in SOURCE_SCHEMAS:
        folder = Path(lake_dir) / CLEAN_DIR / purpose
        if not folder.is_dir():
            continue
        for sub in folder.iterdir():
            day = _partition_day(sub.name)
            if day is None or not sub.is_dir():
                continue
            files = tuple(sorted(sub.glob("*.parquet")))
            stats = [(path.name, path.stat()) for path in files]
            if stats:
                digest = hashlib.sha256()
                for name, st in stats:
                    digest.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\n".encode())
                size = sum(st.st_size for _, st in stats)
                partitions[(purpose, day)] = Partition(files, digest.hexdigest(), size)
    return partitions


def fingerprints(partitions: Mapping[PartitionKey, Partition]) -> dict[str, str]:
    """The partitions' fingerprints keyed as in the state file."""
    return {_key(purpose, day): part.fingerprint for (purpose, day), part in partitions.items()}


def changed_days(before: Mapping[str, str], now: Mapping[str, str]) -> dict[str, set[dt.date]]:
    """Per purpose, the days whose partition is new, changed or gone since ``before``."""
    changed: dict[str, set[dt.date]] = defaultdict(set)
    for key in before.keys() | now.keys():
        if before.get(key) != now.get(key):
            purpose, _, day = key.partition("/")
            changed[purpose].add(dt.date.fromisoformat(day))
    return dict(changed)


def files_of(
    partitions: Mapping[PartitionKey, Partition],
    purposes: Iterable[str],
    days: Container[dt.date] | None = None,
) -> dict[str, list[Path]]:
    """The files of each of ``purposes``, of every day or of ``days`` only."""
    wanted = set(purposes)
    files: dict[str, list[Path]] = {purpose: [] for purpose in wanted}
    for (purpose, day), part in sorted(partitions.items()):
        if purpose in wanted and (days is None or day in days):
            files[purpose].extend(part.files)
    return files


def day_sizes(partitions: Mapping[PartitionKey, Partition]) -> dict[dt.date, int]:
    """Bytes of Parquet per lake day, every purpose together."""
    sizes: dict[dt.date, int] = defaultdict(int)
    for (_, day), part in partitions.items():
        sizes[day] += part.size
    return dict(sizes)


def lake_summary(partitions: Mapping[PartitionKey, Partition]) -> dict[str, dict]:
    """Per purpose: how many partitions, files and bytes, and the first and last day."""
    summary: dict[str, dict] = {}
    for (purpose, day), part in sorted(partitions.items()):
        entry = summary.setdefault(
            purpose, {"partitions": 0, "files": 0, "bytes": 0, "first_day": day.isoformat()}
        )
        entry["partitions"] += 1
        entry["files"] += len(part.files)
        entry["bytes"] += part.size
        entry["last_day"] = day.isoformat()
    return summary


def read_state(lake_dir: Path) -> BuildState | None:
    """The last build's state; None when there is none, or it is unreadable or of another format."""
    try:
        raw = orjson.loads(state_path(lake_dir).read_bytes())
        if raw["format"] != FORMAT:
            return None
        return BuildState(
            k=int(raw["k"]),
            definitions=str(raw["definitions"]),
            built_at=dt.datetime.fromisoformat(raw["built_at"]),
            partitions={str(key): str(value) for key, value in raw["partitions"].items()},
            lake=dict(raw["lake"]),
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_state(lake_dir: Path, state: BuildState) -> Path:
    """Write the build state atomically (temporary file, fsync, rename)."""
    document = {
        "format": FORMAT,
        "k": state.k,
        "definitions": state.definitions,
        "built_at": state.built_at.isoformat(),
        "lake": state.lake,
        "partitions": state.partitions,
    }
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    return write_file(data, state_path(lake_dir))


def _key(purpose: str, day: dt.date) -> str:
    return f"{purpose}/{day.isoformat()}"


def _partition_day(name: str) -> dt.date | None:
    """The day of an ``event_date=YYYY-MM-DD`` folder name; None for anything else."""
    if not name.startswith(_PARTITION_PREFIX):
        return None
    try:
        return dt.date.fromisoformat(name.removeprefix(_PARTITION_PREFIX))
    except ValueError:
        return None
