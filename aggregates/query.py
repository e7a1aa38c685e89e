"""Analysts' queries over the published aggregates, and writing their results to a file."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from usage_pipeline.aggregates.lake import connect


class Format(StrEnum):
    """File formats a query result can be written in."""

    csv = "csv"
    json = "json"
    parquet = "parquet"


def run_query(database: Path, sql: str) -> pa.Table:
    """Run one SQL statement, read-only, against the database of aggregate views."""
    if not Path(database).is_file():
        raise FileNotFoundError(
            f"{database}: no aggregates yet; run `usage-pipeline aggregate build`"
        )
    # A progress bar only where a person watches both streams: DuckDB draws it on stdout.
    terminal = sys.stdout.isatty() and sys.stderr.isatty()
    with connect(database, read_only=True, progress=terminal) as con:
        return con.sql(sql).to_arrow_table()


def write_result(table: pa.Table, fmt: Format, path: Path) -> None:
    """Write a query result as CSV (with header), JSON (an array of objects) or Parquet."""
    if fmt is Format.csv:
        pacsv.write_csv(table, path)
    elif fmt is Format.json:
        Path(path).write_bytes(orjson.dumps(table.to_pylist(), default=str))
    else:
        pq.write_table(table, path)
