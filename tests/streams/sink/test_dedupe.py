"""The sink's duplicate filter: the first row of an event id in a topic-partition and day wins."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usage_pipeline.streams.sink.dedupe import SeenIds
from usage_pipeline.streams.sink.errors import RecordError
from usage_pipeline.streams.sink.layout import LakeLayout, OffsetRange
from usage_pipeline.streams.sink.writer import write_parquet

DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(3)]
IDS = [str(uuid.UUID(int=n + 1, version=4)) for n in range(12)]


def mask(seen: SeenIds, ids: list[str], days: list[dt.date], partition: int = 0) -> list[bool]:
    event_ids = pa.chunked_array([pa.array(ids, pa.string())])
    return seen.first_occurrences("p", "t", partition, event_ids, pa.array(days, pa.date32()))


def write_lake_file(layout: LakeLayout, day: dt.date, ids: list[str], start: int) -> None:
    offsets = OffsetRange("t", 0, start, start + len(ids) - 1)
    table = pa.table({"event_id": pa.array(ids, pa.string())})
    write_parquet(table, layout.data_path("p", day, offsets))


flushes = st.lists(
    st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(DAYS)), min_size=1, max_size=40),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(flushes=flushes, max_ids=st.integers(1, 30))
def test_keeps_exactly_the_first_row_of_each_id_per_day_whatever_the_flushes(
    tmp_path_factory, flushes, max_ids
):
    # A model: what was written (and so is in the lake) per day. Flushes are written to the
    # lake as the sink does, so a group evicted from memory is read back from its files.
    layout = LakeLayout(tmp_path_factory.mktemp("lake"))
    seen = SeenIds(layout, max_ids)
    written: dict[dt.date, set[str]] = {day: set() for day in DAYS}
    offset = 0
    for flush in flushes:
        ids, days = [i for i, _ in flush], [d for _, d in flush]
        expected = []
        for event_id, day in flush:
            expected.append(event_id not in written[day])
            written[day].add(event_id)
        assert mask(seen, ids, days).to_pylist() == expected
        for day in DAYS:
            kept = [i for (i, d), keep in zip(flush, expected, strict=True) if keep and d == day]
            if kept:
                write_lake_file(layout, day, kept, offset)
                offset += len(kept)


def test_ids_already_in_the_lake_are_dropped_even_after_being_evicted(tmp_path):
    layout = LakeLayout(tmp_path)
    write_lake_file(layout, DAYS[0], IDS[:3], 0)
    seen = SeenIds(layout, max_ids=2)
    assert mask(seen, IDS[2:5], [DAYS[0]] * 3) == pa.array([False, True, True])
    assert mask(seen, IDS[:1], [DAYS[1]]) == pa.array([True])  # evicts DAYS[0]'s ids
    assert mask(seen, IDS[:2], [DAYS[0]] * 2) == pa.array([False, False])


def test_the_same_id_on_another_partition_or_day_is_not_a_duplicate(tmp_path):
    seen = SeenIds(LakeLayout(tmp_path), max_ids=100)
    assert mask(seen, IDS[:1], DAYS[:1]) == pa.array([True])
    assert mask(seen, IDS[:1], DAYS[1:2]) == pa.array([True])
    assert mask(seen, IDS[:1], DAYS[:1], partition=1) == pa.array([True])
    assert mask(seen, IDS[:1], DAYS[:1]) == pa.array([False])


def test_ids_differing_only_in_case_are_different_ids(tmp_path):
    seen = SeenIds(LakeLayout(tmp_path), max_ids=100)
    lower = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert mask(seen, [lower, lower.upper()], DAYS[:1] * 2) == pa.array([True, True])


def test_forgetting_a_partition_reads_its_ids_from_the_lake_again(tmp_path):
    layout = LakeLayout(tmp_path)
    seen = SeenIds(layout, max_ids=100)
    assert mask(seen, IDS[:2], DAYS[:1] * 2) == pa.array([True, True])
    seen.forget("t", 0)  # nothing of it was written: the lake does not hold these ids
    assert mask(seen, IDS[:2], DAYS[:1] * 2) == pa.array([True, True])


@pytest.mark.parametrize("bad", ["not-a-uuid", IDS[0] + "0", None])
def test_an_event_id_that_is_not_a_36_character_uuid_stops_the_sink(tmp_path, bad):
    seen = SeenIds(LakeLayout(tmp_path), max_ids=100)
    with pytest.raises(RecordError, match="event_id"):
        mask(seen, [IDS[0], bad], DAYS[:1] * 2)
