"""Where texts come from: Parquet files, a DuckDB database, a Kafka topic, text files.

Each source yields ``(Location, text)`` for the texts that might hold a leak (the
detector's cheap test, done in Arrow's compute kernels for columnar data), so that the
slow, precise detection only sees candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from usage_pipeline.aggregates.lake import LAKE_SCHEMA
from usage_pipeline.audit.detectors import CANDIDATE, Detector
from usage_pipeline.audit.report import Location
from usage_pipeline.broker.admin import admin_client, iter_topic
from usage_pipeline.broker.security import Cluster

Item = tuple[Location, str]
Advance = Callable[[int], None]
BATCH_ROWS = 65_536


def _noop(_: int) -> None:
    return None


def string_columns(
    name: str, array: pa.Array, rows: np.ndarray | None = None
) -> Iterator[tuple[str, pa.Array, np.ndarray | None]]:
    """Every string leaf of a column (structs, lists and maps opened), with row numbers.

    ``rows`` maps a leaf's positions to the top-level rows (None: the same positions).
    """
    kind = array.type
    if pa.types.is_dictionary(kind):
        yield from string_columns(name, array.dictionary_decode(), rows)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        yield name, array, rows
    elif pa.types.is_struct(kind):
        for index in range(kind.num_fields):
            child = array.field(index)
            yield from string_columns(f"{name}.{kind.field(index).name}", child, rows)
    elif pa.types.is_map(kind):
        parents = pc.list_parent_indices(array).to_numpy()
        parents = parents if rows is None else rows[parents]
        yield from string_columns(f"{name}.key", array.keys, parents)
        yield from string_columns(f"{name}.value", array.items, parents)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        parents = pc.list_parent_indices(array).to_numpy()
        parents = parents if rows is None else rows[parents]
        yield from string_columns(f"{name}[]", pc.list_flatten(array), parents)


def candidate_cells(
    batch: pa.RecordBatch | pa.Table, detector: Detector
) -> Iterator[tuple[str, int, str]]:
    """``(column, row, text)`` of each string cell of a batch that might hold a leak."""
    for column_name, column in zip(batch.column_names, batch.columns, strict=True):
        arrays = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        base = 0
        for chunk in arrays:
            for name, array, rows in string_columns(column_name, chunk):
                if len(array) == 0:
                    continue
                mask = pc.match_substring_regex(array, CANDIDATE)
                for canary in detector.canaries:
                    mask = pc.or_(mask, pc.match_substring(array, canary, ignore_case=True))
                for index in pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy():
                    row = int(index if rows is None else rows[index])
                    yield name, base + row, array[int(index)].as_py()
            base += len(chunk)


def parquet_file(
    path: Path, shown: str, detector: Detector, advance: Advance = _noop
) -> Iterator[Item]:
    """Candidates of every string column of a Parquet file; rows counted from 0."""
    parquet = pq.ParquetFile(path)
    base = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        for column, row, text in candidate_cells(batch, detector):
            yield Location("parquet", shown, column=column, row=base + row), text
        base += batch.num_rows
        advance(batch.num_rows)


def duckdb_database(path: Path, detector: Detector, advance: Advance = _noop) -> Iterator[Item]:
    """Candidates of every column holding strings of every table and view, opened read-only.

    The views of schema ``clean`` read the lake's files, which the audit scans as files (with
    their allowances): they are not read twice. Rows are numbered from 0 in the order a plain
    ``select`` returns them.
    """
    with duckdb.connect(str(path), read_only=True) as connection:
        columns = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_catalog = current_database() and data_type like '%VARCHAR%' "
            "and table_schema <> ? order by table_schema, table_name, ordinal_position",
            [LAKE_SCHEMA],
        ).fetchall()
        by_table: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in columns:
            by_table.setdefault((schema, table), []).append(column)
        for (schema, table), names in by_table.items():
            shown = f"{path}/{table}" if schema == "main" else f"{path}/{schema}.{table}"
            selected = ", ".join(_quote(n) for n in names)
            query = f"select {selected} from {_quote(schema)}.{_quote(table)}"
            reader = connection.sql(query).to_arrow_reader(BATCH_ROWS)
            base = 0
            for batch in reader:
                for column, row, text in candidate_cells(batch, detector):
                    yield Location("duckdb", shown, column=column, row=base + row), text
                base += batch.num_rows
            advance(1)


def topic_exists(cluster: Cluster, topic: str) -> bool:
    """Whether the cluster has the topic."""
    return topic in admin_client(cluster).list_topics(timeout=10).topics


def kafka_topic(
    cluster: Cluster, topic: str, detector: Detector, advance: Advance = _noop
) -> Iterator[Item]:
    """Candidates of every record of a topic from its beginning: key, headers and value.

    A JSON object value is opened: each string (and key) is reported with its field path.
    """
    for message in iter_topic(cluster, topic):
        place = {"partition": message.partition(), "offset": message.offset()}
        parts: list[tuple[str, bytes | str | None]] = [("key", message.key())]
        parts += [(f"header.{k}", v) for k, v in message.headers() or []]
        for field, raw in parts:
            text = _text(raw)
            if text and detector.might_hit(text):
                yield Location("kafka", topic, column=field, **place), text
        for field, text in _value_texts(message.value(), detector):
            if detector.might_hit(text):
                yield Location("kafka", topic, column=field, **place), text
        advance(1)


def text_file(
    path: Path, shown: str, detector: Detector, advance: Advance = _noop
) -> Iterator[Item]:
    """Candidate lines of a text file (undecodable bytes replaced); lines counted from 1."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            text = raw.decode("utf-8", errors="replace")
            if detector.might_hit(text):
                yield Location("log" if path.suffix == ".log" else "file", shown, line=number), text
            advance(len(raw))


def _value_texts(value: bytes | None, detector: Detector) -> Iterator[tuple[str, str]]:
    text = _text(value)
    if not text:
        return
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        yield "value", text
        return
    yield from _json_strings("value", document, detector)


def _json_strings(path: str, node: object, detector: Detector) -> Iterator[tuple[str, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, child in node.items():
            yield f"{path}{{key}}", key
            shown = key if _plain(key) and not detector.might_hit(key) else "?"
            yield from _json_strings(f"{path}.{shown}", child, detector)
    elif isinstance(node, list):
        for child in node:
            yield from _json_strings(f"{path}[]", child, detector)


def _plain(key: str) -> bool:
    """A field name that can be printed: short, no personal data look-alike."""
    return len(key) <= 64 and all(c.isalnum() or c in "_-" for c in key)


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
