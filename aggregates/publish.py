"""Publishing: each aggregate as one Parquet file; every aggregate, and every clean output of
the lake, as a view in one database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from usage_pipeline.aggregates.lake import connect, create_lake_views

AGGREGATES_DIR = "aggregates"
DATA_FILE = "data.parquet"
_TMP_DIR = "_tmp"  # beside the tables, same file system, outside every table's glob


def table_path(lake_dir: Path, name: str) -> Path:
    """Where one aggregate's Parquet file lives: ``<lake>/aggregates/<name>/data.parquet``."""
    return Path(lake_dir) / AGGREGATES_DIR / name / DATA_FILE


def write_table(table: pa.Table, path: Path, compression: str = "zstd") -> Path:
    """Write a Parquet file atomically: to a temporary file, fsynced, then renamed into place."""
    tmp = _tmp_file(path, path.parent.parent / _TMP_DIR)
    pq.write_table(table, tmp, compression=compression)
    return _move_into_place(tmp, path)


def write_file(data: bytes, path: Path) -> Path:
    """Write a small file of ``<lake>/aggregates/`` itself atomically, like ``write_table``."""
    tmp = _tmp_file(path, path.parent / _TMP_DIR)
    tmp.write_bytes(data)
    return _move_into_place(tmp, path)


def _tmp_file(path: Path, tmp_dir: Path) -> Path:
    """A fresh temporary name for ``path`` in ``tmp_dir``, on the same file system."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return tmp_dir / f"{path.parent.name}.{path.name}.{uuid.uuid4().hex}.tmp"


def _move_into_place(tmp: Path, path: Path) -> Path:
    """Fsync ``tmp``, rename it to ``path``, and make the rename durable."""
    _fsync(tmp)
    tmp.replace(path)
    _fsync(path.parent)
    return path


@contextmanager
def database_begun(database: Path, lake_dir: Path) -> Iterator[Path]:
    """A new DuckDB file beside ``database`` holding the lake's views ``clean.<purpose>``,
    for ``write_database`` to finish; removed unless it was renamed into place.

    Binding those views reads every lake file's footer at once (``create_lake_views``),
    about 90 KiB a file until the last view is made: a build begins its database before
    it computes any table, while the process holds little else, so that this does not add
    to the memory the tables take.
    """
    database = Path(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    tmp = database.with_name(f".{database.name}.{uuid.uuid4().hex}.tmp")
    try:
        with connect(tmp) as con:
            create_lake_views(con, lake_dir)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)  # nothing is left there once it is in place


def write_database(
    database: Path,
    tables: Iterable[tuple[str, Path]],
    lake_dir: Path,
    begun: Path | None = None,
) -> Path:
    """Replace the DuckDB file with one holding a view per aggregate over its Parquet file,
    and the lake's views ``clean.<purpose>`` (already in ``begun``, from ``database_begun``).

    The new file is built aside and renamed, so a reader holding the old one keeps a
    consistent database and a writer never waits for a reader's lock.
    """
    if begun is None:
        with database_begun(database, lake_dir) as tmp:
            return write_database(database, tables, lake_dir, tmp)
    with connect(begun) as con:
        for name, path in tables:
            literal = "'" + str(path.resolve()).replace("'", "''") + "'"
            con.execute(f'create view "{name}" as select * from read_parquet({literal})')
    _fsync(begun)
    begun.replace(database)
    return database


def _fsync(path: Path) -> None:
    """Flush a file's or folder's data to disk, so a rename never exposes a partial file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
