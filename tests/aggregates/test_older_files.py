"""Files written before a policy change added a field or a column read as if it were NULL."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_pipeline.aggregates.lake import SOURCE_SCHEMAS

from .conftest import Lake, used

DAY = dt.date(2026, 3, 2)


def _without(schema: pa.Schema, dropped: str) -> pa.Schema:
    """``schema`` without a column (``subject``) or a struct field (``properties.feature``)."""
    column, _, field = dropped.partition(".")
    index = schema.get_field_index(column)
    if not field:
        return schema.remove(index)
    kind = schema.field(index).type
    kept = [kind.field(i) for i in range(kind.num_fields) if kind.field(i).name != field]
    return schema.set(index, pa.field(column, pa.struct(kept)))


def _rows(users: range, feature: str) -> list[dict]:
    return [used(f"{DAY}T{9 + user % 8:02d}:00", f"u{user}", feature) for user in users]


def _older_file(lake: Lake, rows: list[dict], dropped: str) -> None:
    """Add ``rows`` to the analytics day as a file that has no ``dropped`` at all."""
    schema = SOURCE_SCHEMAS["analytics"]
    schema = _without(schema.remove(schema.get_field_index("event_date")), dropped)
    column, _, field = dropped.partition(".")
    for row in rows:
        row["purpose"] = "analytics"
        if field:
            row[column].pop(field, None)
        else:
            row.pop(column, None)
    folder = lake.root / "clean" / "analytics" / f"event_date={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, folder / "clean.analytics+1+0000000000-0000000099.parquet")


def _blanked(rows: list[dict], dropped: str) -> list[dict]:
    """The same rows with ``dropped`` NULL, as a newer file would hold them."""
    column, _, field = dropped.partition(".")
    for row in rows:
        if field:
            row[column][field] = None
        else:
            row[column] = None
    return rows


@pytest.mark.parametrize("dropped", ["properties.feature", "subject"])
def test_a_file_without_a_field_or_column_counts_as_if_it_held_nulls(tmp_path, dropped):
    older, newer = Lake(tmp_path / "older"), Lake(tmp_path / "newer")
    for lake in (older, newer):
        lake.add("analytics", _rows(range(0, 30), "search"))
    _older_file(older, _rows(range(30, 45), "export"), dropped)
    newer.add("analytics", _blanked(_rows(range(30, 45), "export"), dropped))

    published = older.build()

    assert published == newer.build()
    days = [row for row in published["usage"] if row["service"] is None]
    assert [row["events"] for row in days] == [45]
