"""File names record topic, partition and offsets; the lake's folders record purpose and day."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from usage_pipeline.streams.sink.layout import (
    LakeLayout,
    OffsetRange,
    parse_day_dir,
    parse_file_name,
)

topics = st.from_regex(r"[A-Za-z0-9-][A-Za-z0-9._-]{0,59}", fullmatch=True)
offsets = st.integers(min_value=0, max_value=2**63 - 1)


@given(topics, st.integers(0, 100_000), offsets, offsets)
def test_file_name_round_trips(topic, partition, start, end):
    offsets = OffsetRange(topic, partition, start, end)
    assert parse_file_name(offsets.file_name) == offsets


def test_file_names_sort_by_start_offset():
    names = [OffsetRange("clean.service", 0, s, s + 9).file_name for s in (5, 100, 20, 1000)]
    parsed = [parse_file_name(n).start for n in sorted(names)]
    assert parsed == [5, 20, 100, 1000]


def test_temporary_and_foreign_names_are_not_data_files():
    name = OffsetRange("clean.traffic", 2, 0, 99).file_name
    for other in (
        f"{name}.event_date=2026-11-24.tmp",
        f".{name}",
        "_SUCCESS",
        "part-0.parquet",
        "clean.traffic+2+0-99.parquet.crc",
    ):
        assert parse_file_name(other) is None


def test_path_is_hive_partitioned_by_purpose_and_event_date(tmp_path):
    layout = LakeLayout(tmp_path / "lake")
    day = dt.date(2026, 11, 24)
    path = layout.data_path("analytics", day, OffsetRange("clean.analytics", 3, 7, 42))
    assert path == (
        tmp_path / "lake/clean/analytics/event_date=2026-11-24"
        / "clean.analytics+3+0000000007-0000000042.parquet"
    )  # fmt: skip
    assert parse_day_dir(path.parent.name) == day
    assert parse_day_dir("event_date=2026-02-30") is None


def test_last_offset_is_the_highest_end_in_any_day(tmp_path):
    layout = LakeLayout(tmp_path)
    for day, (start, end) in [(1, (0, 9)), (3, (10, 19)), (2, (20, 29))]:
        for topic in ("a", "b"):
            path = layout.data_path("p", dt.date(2026, 1, day), OffsetRange(topic, 0, start, end))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    assert layout.last_offset("p", "a", 0) == 29
    assert layout.last_offset("p", "a", 1) is None


def test_a_range_contains_only_ranges_of_its_own_partition():
    merged = OffsetRange("t", 0, 0, 99)
    assert merged.contains(OffsetRange("t", 0, 10, 20))
    assert merged.contains(merged)
    assert not merged.contains(OffsetRange("t", 1, 10, 20))
    assert not merged.contains(OffsetRange("t", 0, 90, 100))
