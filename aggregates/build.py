"""Build the aggregates from the lake: recompute what changed, suppress, publish, record.

A build compares the lake's partitions with the last build's state (``aggregates.state``).
A table with ``periods`` has only the periods of changed days recomputed (a day, its ISO
week, its month, as the table has them) and merged into its published rows; suppression
works within one period, so the merge equals a full build. Any other table reading a
changed source, or an aggregate that was recomputed, is recomputed whole; the rest are
kept. A different k, a changed definition, a missing table or an unreadable state makes a
full build.

A dated table is computed a chunk of periods at a time even in a full build: a period's
rows come from its days alone, and a chunk's hash tables are a fraction of the lake's,
which keeps memory flat as the lake grows. A table with a ``daily`` query reads per-day
partials kept between builds (``aggregates.daily``) instead of the lake. Tables that read
only the lake are computed two at a time, each with its share of the cores.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_pipeline.aggregates import disclosure, periods
from usage_pipeline.aggregates.daily import register_partials, remove_stale
from usage_pipeline.aggregates.disclosure import suppress, suppressed_count
from usage_pipeline.aggregates.lake import CHUNK_BYTES, LAKE_VIEWS, connect, query_sources
from usage_pipeline.aggregates.periods import Periods, runs
from usage_pipeline.aggregates.publish import (
    AGGREGATES_DIR,
    database_begun,
    table_path,
    write_database,
    write_table,
)
from usage_pipeline.aggregates.state import (
    FORMAT,
    BuildState,
    Partition,
    PartitionKey,
    changed_days,
    day_sizes,
    files_of,
    fingerprints,
    lake_summary,
    read_state,
    scan_lake,
    state_path,
    write_state,
)
from usage_pipeline.aggregates.tables import AGGREGATES, Aggregate

_LOCK_FILE = "_build.lock"
# Tables computed at the same time, at most: each query's memory is bounded by its chunk
# (about 0.5 GiB at 100M rows); more cores go to each query's own threads.
SIDE_BY_SIDE = 2


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

    Only what changed since the last build is recomputed, unless ``full`` (which recomputes
    the per-day partials too). One build at a time per lake: a second waits for the first.
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
        # The first table recomputed has work of its own (none before it was recomputed):
        # whether a build writes anything is known before it starts.
        plans = (_plan(a, changed, set())[0] for a in aggregates)
        wrote = changed is None or any(plan is not Recomputed.none for plan in plans)
        publish = wrote or not Path(database).is_file()
        with database_begun(database, lake_dir) if publish else nullcontext() as begun:
            built = _build_all(lake_dir, aggregates, k, partitions, changed, full, on_built)
            remove_stale(lake_dir, aggregates, partitions)
            if publish:
                write_database(database, [(b.name, b.path) for b in built], lake_dir, begun)
        if wrote:
            state = BuildState(
                k, definitions, dt.datetime.now(dt.UTC), current, lake_summary(partitions)
            )
            write_state(lake_dir, state)
    return built


def _build_all(
    lake_dir: Path,
    aggregates: tuple[Aggregate, ...],
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    changed: dict[str, set[dt.date]] | None,
    fresh: bool,
    on_built: Callable[[Built], None] | None,
) -> list[Built]:
    """Build every aggregate, in order as published; ``on_built`` hears of each in turn.

    Tables that read only the lake do not wait for each other: those with work to do are
    computed side by side (up to SIDE_BY_SIDE), each on a connection of its own with its
    share of the cores. The others read published tables (trends), so they follow on one
    connection where those are registered.
    """
    plans = {a.name: _plan(a, changed, set())[0] for a in aggregates}
    alone = [a for a in aggregates if set(a.reads) <= LAKE_VIEWS]
    busy = sum(1 for a in alone if plans[a.name] is not Recomputed.none)
    workers = max(1, min(busy, _cores(), SIDE_BY_SIDE))
    # Tables recomputed whole read every day: started first, they end with the others.
    alone.sort(key=lambda a: plans[a.name] is not Recomputed.all)
    built: list[Built] = []
    pool = ThreadPoolExecutor(workers)
    try:
        threads = _cores() // workers
        pending = {
            a.name: pool.submit(_build_alone, lake_dir, a, k, partitions, changed, fresh, threads)
            for a in alone
        }
        with connect() as con:
            for aggregate in aggregates:
                if aggregate.name in pending:
                    item, table = pending[aggregate.name].result()
                else:
                    item, table = _build_one(
                        con, lake_dir, aggregate, k, partitions, changed, built, fresh
                    )
                con.register(f"_{item.name}", table)
                con.execute(f'create or replace view "{item.name}" as select * from _{item.name}')
                built.append(item)
                if on_built is not None:
                    on_built(item)
    finally:
        pool.shutdown(cancel_futures=True)
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


def _build_alone(
    lake_dir: Path,
    aggregate: Aggregate,
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    changed: dict[str, set[dt.date]] | None,
    fresh: bool,
    threads: int,
) -> tuple[Built, pa.Table]:
    """``_build_one`` of a table reading only the lake, on a connection of its own."""
    with connect() as con:
        con.execute(f"set threads = {max(1, threads)}")
        return _build_one(con, lake_dir, aggregate, k, partitions, changed, [], fresh)


def _build_one(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    changed: dict[str, set[dt.date]] | None,
    before: list[Built],
    fresh: bool,
) -> tuple[Built, pa.Table]:
    """Recompute one aggregate wholly, by periods or not at all, and publish it.

    ``fresh`` computes its per-day partials again rather than reading those kept.
    """
    path = table_path(lake_dir, aggregate.name)
    recomputed_before = {b.name for b in before if b.recomputed is not Recomputed.none}
    recomputed, days = _plan(aggregate, changed, recomputed_before)
    if recomputed is Recomputed.all:
        table = _suppress(_compute(con, lake_dir, aggregate, partitions, None, fresh), k, aggregate)
    elif recomputed is Recomputed.periods:
        table = _recompute_periods(con, lake_dir, aggregate, k, partitions, days, path)
    else:
        table = pq.read_table(path)
    if recomputed is not Recomputed.none:
        write_table(table, path)
    built = Built(aggregate.name, table.num_rows, suppressed_count(table), path, recomputed, days)
    return built, table


def _plan(
    aggregate: Aggregate,
    changed: dict[str, set[dt.date]] | None,
    recomputed_before: set[str],
) -> tuple[Recomputed, tuple[dt.date, ...]]:
    """How much of ``aggregate`` to recompute, and the changed days behind a periods one."""
    if changed is None or any(view in recomputed_before for view in aggregate.reads):
        return Recomputed.all, ()
    days = tuple(sorted(set().union(*(changed.get(p, set()) for p in aggregate.purposes))))
    if not days:
        return Recomputed.none, ()
    if aggregate.periods is None:
        return Recomputed.all, ()
    return Recomputed.periods, days


def _cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0))


def _recompute_periods(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    k: int,
    partitions: Mapping[PartitionKey, Partition],
    days: tuple[dt.date, ...],
    path: Path,
) -> pa.Table:
    """The published table with the periods holding ``days`` recomputed from all their days."""
    spec = aggregate.periods
    assert spec is not None, "only a dated table has periods"
    touched = spec.touched(days)
    fresh = _suppress(_compute(con, lake_dir, aggregate, partitions, touched), k, aggregate)
    published = pq.read_table(path)
    kept = published.filter(pc.invert(spec.mask(published, touched))).cast(fresh.schema)
    return _sorted(pa.concat_tables([kept, fresh]), aggregate, spec)


def _compute(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    partitions: Mapping[PartitionKey, Partition],
    touched: dict[str, set[dt.date]] | None,
    fresh: bool = False,
) -> pa.Table:
    """The aggregate's rows before suppression: all, or those of the ``touched`` periods."""
    spec = aggregate.periods
    if spec is None:
        if aggregate.daily is not None:
            days = {day for _, day in partitions}
            register_partials(con, lake_dir, aggregate, partitions, days, fresh=fresh)
            return con.sql(aggregate.sql).to_arrow_table()
        return _query(con, lake_dir, aggregate, files_of(partitions, aggregate.purposes))
    if touched is None:
        touched = spec.touched({day for _, day in partitions})
    if aggregate.daily is not None:
        register_partials(con, lake_dir, aggregate, partitions, spec.inputs(touched), fresh=fresh)
        rows = con.sql(aggregate.sql).to_arrow_table()
        # Periods the inputs only partly cover (a week across a month's edge) are dropped.
        return rows.filter(spec.mask(rows, touched))
    # A few periods at a time, each from its own days; a chunk's query also makes rows of
    # the periods its days only partly cover (a week across a month's edge): dropped here.
    chunks = []
    for chunk in _chunks(spec, touched, partitions):
        files = files_of(partitions, aggregate.purposes, spec.inputs(chunk))
        rows = _query(con, lake_dir, aggregate, files)
        chunks.append(rows.filter(spec.mask(rows, chunk)))
    if not chunks:
        return _query(con, lake_dir, aggregate, {})
    return _sorted(pa.concat_tables(chunks), aggregate, spec)


def _chunks(
    spec: Periods,
    touched: dict[str, set[dt.date]],
    partitions: Mapping[PartitionKey, Partition],
) -> Iterator[dict[str, set[dt.date]]]:
    """The touched periods in runs whose lake files add up to about CHUNK_BYTES."""
    sizes = day_sizes(partitions)
    for unit, starts in sorted(touched.items()):

        def size(start: dt.date, unit: str = unit) -> int:
            return sum(sizes.get(day, 0) for day in spec.inputs({unit: {start}}))

        for run in runs(starts, size, CHUNK_BYTES):
            yield {unit: set(run)}


def _query(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    aggregate: Aggregate,
    files: Mapping[str, list[Path]],
) -> pa.Table:
    """The aggregate's query over the given lake files."""
    return query_sources(con, lake_dir, files, aggregate.sql)


def _suppress(table: pa.Table, k: int, aggregate: Aggregate) -> pa.Table:
    """The table as published: suppressed if the aggregate is."""
    if aggregate.disclosure is None:
        return table
    return suppress(table, k, aggregate.disclosure)


def _sorted(table: pa.Table, aggregate: Aggregate, spec: Periods) -> pa.Table:
    """A dated table's rows in the order of its query: by its columns, totals (NULL) first."""
    if aggregate.disclosure is None:
        keys: tuple[str, ...] = (spec.start,)
    else:
        keys = (*aggregate.disclosure.fixed, *aggregate.disclosure.rollup)
    return table.sort_by([(key, "ascending", "at_start") for key in keys])


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
