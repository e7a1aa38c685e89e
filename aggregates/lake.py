"""The lake as DuckDB sees it: one view per purpose, typed even before the sink wrote a file."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from usage_pipeline.schemas.lake import EVENT_DATE

CLEAN_DIR = "clean"
LAKE_SCHEMA = "clean"  # the database's schema of views over the lake: clean.analytics, ...
# About how much lake Parquet one query of a build reads: a day of a 100M-row lake, two
# weeks of a 10M-row one. A query's hash tables, and so memory, grow with its input.
CHUNK_BYTES = 64 * 2**20
# DuckDB's error when a file of a list lacks a column of the list's first file.
_SCHEMA_MISMATCH = "schema mismatch in glob"
_WRITING = threading.Lock()  # tables built side by side share _columns_file
TIMESTAMP = pa.timestamp("us", tz="UTC")
_TEXT = pa.string()

USER_AGENT = pa.struct(
    [(name, _TEXT) for name in ("browser_family", "browser_major", "os_family", "device_class")]
)
SUBJECT = pa.struct([("account_id", _TEXT), ("user_id", _TEXT)])
EMAIL_PROPERTIES = [
    ("action", _TEXT),
    ("campaign_id", _TEXT),
    ("campaign_kind", _TEXT),
    ("bounce_type", _TEXT),
    ("recipient", _TEXT),
]
USAGE_PROPERTIES = [
    ("service", _TEXT),
    ("feature", _TEXT),
    ("duration_ms", pa.int64()),
    ("program_id", _TEXT),
    ("program_title", _TEXT),
    ("mode", _TEXT),
    ("duration_s", pa.float64()),
    ("bytes", pa.int64()),
]
LICENSE_PROPERTIES = [
    ("license_id", _TEXT),
    ("product", _TEXT),
    ("result", _TEXT),
    ("quota_name", _TEXT),
    ("billing_period", _TEXT),
    ("seats", pa.int64()),
    ("quota_units", pa.float64()),
]
CONSENT_PROPERTIES = [
    ("purpose", _TEXT),
    ("status", _TEXT),
    ("source", _TEXT),
    ("effective_at", TIMESTAMP),
]
TRAFFIC_PROPERTIES = [
    ("method", _TEXT),
    ("status", pa.int64()),
    ("response_bytes", pa.int64()),
    ("duration_ms", pa.int64()),
    ("page_view", pa.bool_()),
]


def _schema(
    subject: bool,
    context: list[tuple[str, pa.DataType]],
    properties: list[tuple[str, pa.DataType]],
) -> pa.Schema:
    """The columns aggregates read from one output, in the lake's nested shape."""
    fields: list[tuple[str, pa.DataType]] = [
        ("event_id", _TEXT),
        ("event_type", _TEXT),
        ("occurred_at", TIMESTAMP),
    ]
    if subject:
        fields.append(("subject", SUBJECT))
    fields += [
        ("context", pa.struct([("host", _TEXT), *context])),
        ("properties", pa.struct(properties)),
        ("purpose", _TEXT),
        ("consent", _TEXT),
        (EVENT_DATE, pa.date32()),
    ]
    return pa.schema(fields)


# The columns the aggregates read from each purpose's output (a subset of what the sink
# writes, see docs/lake.md); a test checks them against the sink's schemas. The shared
# `action` of e-mail and license events is one column, as in the lake.
SOURCE_SCHEMAS: Mapping[str, pa.Schema] = {
    "service": _schema(
        True,
        [("user_agent", USER_AGENT)],
        [*EMAIL_PROPERTIES, *USAGE_PROPERTIES, *LICENSE_PROPERTIES, *CONSENT_PROPERTIES],
    ),
    "analytics": _schema(
        True, [("user_agent", USER_AGENT)], [*EMAIL_PROPERTIES, *USAGE_PROPERTIES]
    ),
    "partner_sharing": _schema(True, [], EMAIL_PROPERTIES),
    "traffic": _schema(
        False, [("user_agent", USER_AGENT), ("visitor_id", _TEXT)], TRAFFIC_PROPERTIES
    ),
}


def view_name(purpose: str) -> str:
    """The DuckDB view of one purpose's clean rows, e.g. ``clean_analytics``."""
    return f"{CLEAN_DIR}_{purpose}"


LAKE_VIEWS = frozenset(view_name(purpose) for purpose in SOURCE_SCHEMAS)


def connect(
    database: str | Path = ":memory:", read_only: bool = False, progress: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose dates, hours and weeks are UTC, whatever the machine's zone.

    DuckDB draws a progress bar on standard output for long queries, terminal or not: it
    stays off unless ``progress`` (for a person at a terminal), so logs, pipes and files
    written from standard output never get one.
    """
    con = duckdb.connect(str(database), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set enable_progress_bar = {str(progress).lower()}")
    return con


def register_sources(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    files: Mapping[str, Sequence[Path]] | None = None,
    *,
    union_by_name: bool = False,
) -> None:
    """Create one view per purpose over its Parquet files (an empty typed one without files).

    ``files`` restricts each purpose to the files listed for it (none when not listed);
    by default a view reads every file of the purpose. Files are read as if they had the
    columns the aggregates read (``SOURCE_SCHEMAS``), matched by name: a struct field a
    file lacks is NULL. A file that lacks one of those columns altogether fails the query
    unless ``union_by_name``; ``query_sources`` retries such a query with it.
    """
    for purpose, schema in SOURCE_SCHEMAS.items():
        folder = Path(lake_dir) / CLEAN_DIR / purpose
        columns = ", ".join(f'"{name}"' for name in schema.names)
        if files is None:
            paths = [str(folder / f"{EVENT_DATE}=*" / "*.parquet")]
            present = any(folder.glob(f"{EVENT_DATE}=*/*.parquet"))
        else:
            paths = [str(path) for path in files.get(purpose, ())]
            present = bool(paths)
        if present and union_by_name:
            listed = ", ".join(quote(path) for path in paths)
            source = f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"
        elif present:
            # DuckDB takes the columns of a list's first file for all of them: an empty file
            # with the columns wanted goes first.
            listed = ", ".join(quote(path) for path in [str(_columns_file(purpose)), *paths])
            source = f"read_parquet([{listed}], hive_partitioning = true)"
        else:
            con.register(f"_empty_{purpose}", schema.empty_table())
            source = f"_empty_{purpose}"
        con.execute(
            f"create or replace view {view_name(purpose)} as select {columns} from {source}"
        )


def query_sources(
    con: duckdb.DuckDBPyConnection,
    lake_dir: Path,
    files: Mapping[str, Sequence[Path]],
    sql: str,
) -> pa.Table:
    """The rows of ``sql`` over views of the given lake files (``register_sources``).

    ``union_by_name`` also fills a column that some files lack (written before a policy
    change added it) with NULL, but reads every file's footer when the view is bound and
    keeps them all until the query ends: about 130 KiB a file, 170 MiB for one purpose of
    the 1,000,000-event demo's lake of small files, and more CPU than the rows. So it is
    the fallback, for a query that meets such a file.
    """
    register_sources(con, lake_dir, files)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.InvalidInputException as exc:
        if _SCHEMA_MISMATCH not in str(exc):
            raise
    register_sources(con, lake_dir, files, union_by_name=True)
    return con.sql(sql).to_arrow_table()


def _columns_file(purpose: str) -> Path:
    """An empty Parquet file with the columns the aggregates read from ``purpose``, in a
    partition folder as the lake's files are (``read_parquet`` wants the same partition
    columns in each file's path). One per process, outside the lake, written again if a
    temporary-file cleaner removed it."""
    with _WRITING:
        path = _scratch() / purpose / f"{EVENT_DATE}=1970-01-01" / "columns.parquet"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            schema = SOURCE_SCHEMAS[purpose]
            tmp = path.with_suffix(".tmp")
            pq.write_table(schema.remove(schema.get_field_index(EVENT_DATE)).empty_table(), tmp)
            tmp.replace(path)
    return path


@functools.cache
def _scratch() -> Path:
    """This process's folder for ``_columns_file``, removed when it exits."""
    folder = Path(tempfile.mkdtemp(prefix="usage-pipeline-columns-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def create_lake_views(con: duckdb.DuckDBPyConnection, lake_dir: Path) -> None:
    """Persisted views ``clean.<purpose>`` over every column of each purpose's files, for
    analysts: queries name the views, never the lake's file layout, which can then change
    (object storage, a table format) without breaking them. A purpose the aggregates read
    that has no file yet gets an empty typed table, replaced by a view at the next build."""
    con.execute(f"create schema if not exists {LAKE_SCHEMA}")
    clean = Path(lake_dir).resolve() / CLEAN_DIR
    written = sorted(p.name for p in clean.glob("*") if any(p.glob("event_date=*/*.parquet")))
    for purpose in written:
        files = quote(str(clean / purpose / "event_date=*" / "*.parquet"))
        con.execute(
            f"create view {LAKE_SCHEMA}.{purpose} as select * from read_parquet({files}, "
            "hive_partitioning = true, union_by_name = true)"
        )
    for purpose, schema in SOURCE_SCHEMAS.items():
        if purpose not in written:
            con.register("_empty", schema.empty_table())
            con.execute(f"create table {LAKE_SCHEMA}.{purpose} as select * from _empty")
            con.unregister("_empty")


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
