"""Build the aggregates from the lake: recompute what changed, suppress, publish, record.

A build compares the lake's partitions with the last build's state (``aggregates.state``).
A table with ``periods`` has only the periods of changed days recomputed (a day, its ISO
week, its month, as the table has them) and merged into its published rows; suppression
works within one period, so the merge equals a full build. Any other table reading a
changed source, or an aggregate that was recomputed, is recomputed whole; the rest are
kept. A different k, a changed definition, a missing table or an unreadable state makes a
full build.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from aggregates import disclosure, periods
from aggregates.disclosure import suppress, suppressed_count
from aggregates.lake import SOURCE_SCHEMAS, connect, register_sources, view_name
from aggregates.periods import Periods
from aggregates.publish import AGGREGATES_DIR, table_path, write_database, write_table
from aggregates.state import (
    FORMAT,
    BuildState,
    Partition,
    PartitionKey,
    changed_days,
    fingerprints,
    lake_summary,
    read_state,
    scan_lake,
    state_path,
    write_state,
)
from aggregates.tables import AGGREGATES, Aggregate

_LOCK_FILE = "_build.lock"
_PURPOSES = {view_name(purpose): purpose for purpose in SOURCE_SCHEMAS}


class Recomputed(StrEnum):
    """How much of a table a build recomputed."""

    all = "all"
    periods = "periods"  # only the periods holding changed days
    none = "none"  # unchanged: kept as published


@dataclass(frozen=True)
class Built:
    """One published aggregate: its rows and suppressed cells (None when it has no such mark)."""

    name: str
    rows: int
    suppressed: int | None
    path: Path
    recomputed: Recomputed = Recomputed.all
    days: tuple[dt.date, ...] = ()  # the changed lake days behind a periods recompute


def build(
    lake_dir: Path,
    database: Path,
    k: int,
    on_built: Callable[[Built], None] | None = None,
    aggregates: tuple[Aggregate, ...] = AGGREGATES,
    *,
    full: bool = False,
) -> list[Built]:
    """Bring every aggregate up to date with ``lake_dir``, then the database and build state.

    Only what changed since the last build is recomputed, unless ``full``. One build at a
    time per lake: a second waits for the first.
    """
    lake_dir = Path(lake_dir)
    with _exclusive(lake_dir):
        partitions = scan_lake(lake_dir)
        current = fingerprints(partitions)
        definitions = _definitions(aggregates)
        changed = None if full else _changes(lake_dir, k, definitions, current, aggregates)
        if changed is None:
            # Tables of another k or definition are about to be written: should this build
            # stop half-way, the next must not take the old state for theirs.
            state_path(lake_dir).unlink(missing_ok=True)
        built: list[Built] = []
        with connect() as con:
            for aggregate in aggregates:
                built.append(_build_one(con, lake_dir, aggregate, k, partitions, changed, built))
                if on_built is not None:
                    on_built(built[-1])
        wrote = changed is None or any(b.recomputed is not Recomputed.none for b in built)
        if wrote or not Path(database).is_file():
            write_database(database, [(b.name, b.path) for b in built])
        if wrote:
            state = BuildState(
                k, definitions, dt.datetime.now(dt.UTC), current, lake_summary(partitions)
            )
            write_state(lake_dir, state)
    return built


def _changes(
    lake_dir: Path,
    k: int,
    definitions: str,
    current: Mapping[str, str],
    aggregates: tuple[Aggregate, ...],
) -> dict[str, set[dt.date]] | None:
    """Changed days per purpose since the last build; None when everything must be rebuilt."""
    state = read_state(lake_dir)
    if state is None or state.k != k or state.definitions != definitions:
        return None
    if not all(table_path(lake_dir, a.name).is_file() for a in aggregates):
        return None
    return changed_days(state.partitions, current)


def _build_one(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    changed: dict[str, set[dt.date]] | None,
    before: list[Built],
) -> Built:
    """Recompute one aggregate wholly, by periods or not at all, publish it, register its view."""
    path = table_path(lake_dir, aggregate.name)
    spec = aggregate.periods
    recomputed_before = {b.name for b in before if b.recomputed is not Recomputed.none}
    upstream = any(view in recomputed_before for view in aggregate.reads)
    purposes = [_PURPOSES[view] for view in aggregate.reads if view in _PURPOSES]
    days: tuple[dt.date, ...] = ()
    if changed is not None:
        days = tuple(sorted(set().union(*(changed.get(p, set()) for p in purposes))))
    if changed is None or upstream or (days and spec is None):
        table = _suppress(_query(con, lake_dir, aggregate, _files(partitions)), k, aggregate)
        recomputed, days = Recomputed.all, ()
    elif days and spec is not None:
        table = _recompute_periods(con, lake_dir, aggregate, spec, k, partitions, days, path)
        recomputed = Recomputed.periods
    else:
        table = pq.read_table(path)
        recomputed = Recomputed.none
    if recomputed is not Recomputed.none:
        write_table(table, path)
    # Later aggregates (trends) read what was published, not the lake.
    con.register(f"_{aggregate.name}", table)
    con.execute(f'create or replace view "{aggregate.name}" as select * from _{aggregate.name}')
    return Built(aggregate.name, table.num_rows, suppressed_count(table), path, recomputed, days)


def _recompute_periods(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    spec: Periods,
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    days: tuple[dt.date, ...],
    path: Path,
) -> pa.Table:
    """The published table with the periods holding ``days`` recomputed from all their days."""
    touched = spec.touched(days)
    fresh = _query(con, lake_dir, aggregate, _files(partitions, spec.inputs(touched)))
    # Periods the inputs only partly cover (a week across a month's edge) are dropped.
    fresh = _suppress(fresh.filter(spec.mask(fresh, touched)), k, aggregate)
    published = pq.read_table(path)
    kept = published.filter(pc.invert(spec.mask(published, touched))).cast(fresh.schema)
    merged = pa.concat_tables([kept, fresh])
    return merged.sort_by([(key, "ascending", "at_start") for key in _order(aggregate, spec)])


def _query(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    files: Mapping[str, list[Path]],
) -> pa.Table:
    """The aggregate's query over the given lake files."""
    register_sources(con, lake_dir, files)
    return con.sql(aggregate.sql).to_arrow_table()


def _suppress(table: pa.Table, k: int, aggregate: Aggregate) -> pa.Table:
    """The table as published: suppressed if the aggregate is."""
    if aggregate.disclosure is None:
        return table
    return suppress(table, k, aggregate.disclosure)


def _files(
    partitions: Mapping[PartitionKey, Partition], days: set[dt.date] | None = None
) -> dict[str, list[Path]]:
    """Each purpose's files, of every day or of ``days`` only."""
    files: dict[str, list[Path]] = {}
    for (purpose, day), part in sorted(partitions.items()):
        if days is None or day in days:
            files.setdefault(purpose, []).extend(part.files)
    return files


def _order(aggregate: Aggregate, spec: Periods) -> tuple[str, ...]:
    """The columns a dated table's query orders by, totals (NULL) first, as its SQL does."""
    if aggregate.disclosure is None:
        return (spec.start,)
    return (*aggregate.disclosure.fixed, *aggregate.disclosure.rollup)


def _definitions(aggregates: tuple[Aggregate, ...]) -> str:
    """A digest of what makes the published rows: the tables, suppression and periods code."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    for module in (disclosure, periods):
        digest.update(inspect.getsource(module).encode())
    for aggregate in aggregates:
        digest.update(repr(aggregate).encode())
    return digest.hexdigest()


@contextmanager
def _exclusive(lake_dir: Path) -> Iterator[None]:
    """Hold the lake's build lock: two builds merging into the same tables would lose rows."""
    folder = lake_dir / AGGREGATES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / _LOCK_FILE).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
