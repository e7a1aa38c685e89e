"""Build every aggregate from the lake: query, suppress, publish, and report what was built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aggregates.disclosure import suppress, suppressed_count
from aggregates.lake import connect, register_sources
from aggregates.publish import table_path, write_database, write_table
from aggregates.tables import AGGREGATES, Aggregate


@dataclass(frozen=True)
class Built:
    """One published aggregate: its rows and suppressed cells (None when it has no such mark)."""

    name: str
    rows: int
    suppressed: int | None
    path: Path


def build(
    lake_dir: Path,
    database: Path,
    k: int,
    on_built: Callable[[Built], None] | None = None,
    aggregates: tuple[Aggregate, ...] = AGGREGATES,
) -> list[Built]:
    """Compute every aggregate from ``lake_dir``, write its Parquet file, then the database."""
    built: list[Built] = []
    with connect() as con:
        register_sources(con, lake_dir)
        for aggregate in aggregates:
            table = con.sql(aggregate.sql).to_arrow_table()
            if aggregate.disclosure is not None:
                table = suppress(table, k, aggregate.disclosure)
            path = write_table(table, table_path(lake_dir, aggregate.name))
            # Later aggregates (trends) read what was published, not the lake.
            con.register(f"_{aggregate.name}", table)
            con.execute(
                f'create or replace view "{aggregate.name}" as select * from _{aggregate.name}'
            )
            built.append(Built(aggregate.name, table.num_rows, suppressed_count(table), path))
            if on_built is not None:
                on_built(built[-1])
    write_database(database, [(b.name, b.path) for b in built])
    return built
