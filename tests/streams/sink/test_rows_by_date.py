"""A flush's rows split by event date: every row once, under its own date, in its order."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.sink.convert import rows_by_date

DATES = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2020, 1, 6))


@given(st.lists(DATES, max_size=60))
def test_each_date_gets_exactly_its_rows_in_their_order(days: list[dt.date]) -> None:
    table = pa.table({"row": list(range(len(days)))})
    pieces = rows_by_date(table, pa.array(days, pa.date32()))
    expected = {day: [i for i, d in enumerate(days) if d == day] for day in days}
    assert {day: piece["row"].to_pylist() for day, piece in pieces} == expected
    assert len(pieces) == len(expected)


def test_ascending_dates_are_sliced_without_a_copy() -> None:
    table = pa.table({"row": list(range(4))})
    days = pa.array([dt.date(2020, 1, 1)] * 2 + [dt.date(2020, 1, 2)] * 2, pa.date32())
    (_, first), (_, second) = rows_by_date(table, days)
    buffer = table["row"].chunks[0].buffers()[1]
    assert first["row"].chunks[0].buffers()[1].address == buffer.address
    assert second["row"].chunks[0].buffers()[1].address == buffer.address
