"""Per-day partials kept between builds, so that a new day's rows are read once.

A table with a ``DAILY`` query first reduces each lake day to a partial (its distinct
subjects of the day, its events per campaign and recipient, ...), written to
``<lake>/aggregates/_daily/<table>/<day>.<key>.parquet``; its ``SQL`` then reads the view
``daily`` over the partials of the days it needs. The key is a digest of the ``DAILY``
query, the columns it reads and the fingerprints of that day's partitions
(``aggregates.state``): a partial is valid exactly as long as its inputs are unchanged, so
a day rewritten by erasure or compaction gets a new one, and every build removes the
partials that no current day has (with whatever pseudonyms they held).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import pyarrow.compute as pc

from usage_pipeline.aggregates.lake import (
    CHUNK_BYTES,
    SOURCE_SCHEMAS,
    query_sources,
    quote,
    register_sources,
)
from usage_pipeline.aggregates.periods import runs
from usage_pipeline.aggregates.publish import AGGREGATES_DIR, write_table
from usage_pipeline.aggregates.state import Partition, PartitionKey, day_sizes, files_of
from usage_pipeline.aggregates.tables import Aggregate
from usage_pipeline.schemas.lake import EVENT_DATE  # every partial has it: its lake day

DAILY_DIR = "_daily"
DAILY_VIEW = "daily"


def partial_path(
    lake_dir: Path,
    aggregate: Aggregate,
    day: dt.date,
    partitions: Mapping[PartitionKey, Partition],
) -> Path | None:
    """Where ``aggregate``'s partial of ``day`` is kept; None when the day has no input."""
    parts = [(p, partitions[(p, day)]) for p in aggregate.purposes if (p, day) in partitions]
    if aggregate.daily is None or not parts:
        return None
    digest = hashlib.sha256(aggregate.daily.encode())
    for purpose, part in parts:
        digest.update(f"\n{purpose}\n{SOURCE_SCHEMAS[purpose]}\n{part.fingerprint}".encode())
    folder = Path(lake_dir) / AGGREGATES_DIR / DAILY_DIR / aggregate.name
    return folder / f"{day.isoformat()}.{digest.hexdigest()[:20]}.parquet"


def register_partials(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    partitions: Mapping[PartitionKey, Partition],
    days: Iterable[dt.date],
    *,
    fresh: bool = False,
) -> None:
    """Make the view ``daily`` over the partials of ``days``, computing those not kept yet.

    ``fresh`` computes every one of them again, kept or not.
    """
    wanted = {day: partial_path(lake_dir, aggregate, day, partitions) for day in set(days)}
    paths = {day: path for day, path in wanted.items() if path is not None}
    missing = [day for day, path in paths.items() if fresh or not path.is_file()]
    sizes = day_sizes(partitions)
    # Several days a query, split by day: one query a day costs more than it reads on a
    # small lake.
    for run in runs(missing, lambda day: sizes.get(day, 0), CHUNK_BYTES):
        files = files_of(partitions, aggregate.purposes, set(run))
        rows = query_sources(con, lake_dir, files, aggregate.daily)
        for day in run:
            # lz4: twice as fast to write as zstd, as fast to read, files twice the size.
            write_table(rows.filter(pc.equal(rows[EVENT_DATE], day)), paths[day], "lz4")
    if paths:
        listed = ", ".join(quote(str(path)) for _, path in sorted(paths.items()))
        source = f"read_parquet([{listed}])"
    else:
        # No day has input: the partials' columns come from the query over empty sources.
        register_sources(con, lake_dir, {})
        con.register(f"_empty_{DAILY_VIEW}", con.sql(aggregate.daily).to_arrow_table())
        source = f"_empty_{DAILY_VIEW}"
    con.execute(f"create or replace view {DAILY_VIEW} as select * from {source}")


def remove_stale(
    lake_dir: Path,
    aggregates: Iterable[Aggregate],
    partitions: Mapping[PartitionKey, Partition],
) -> None:
    """Delete every partial that is not that of a current day of a table.

    Files a stopped build left half-written go too: they may hold erased pseudonyms.
    """
    root = Path(lake_dir) / AGGREGATES_DIR / DAILY_DIR
    if not root.is_dir():
        return
    days = sorted({day for _, day in partitions})
    keep: dict[str, set[Path]] = {}
    for aggregate in aggregates:
        if aggregate.daily is not None:
            paths = (partial_path(lake_dir, aggregate, day, partitions) for day in days)
            keep[aggregate.name] = {path for path in paths if path is not None}
    for folder in root.iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
            continue
        for path in folder.iterdir():
            if path not in keep[folder.name]:
                path.unlink()
