"""One flush's files: written from a generator, one table in memory at a time, all or nothing;
and how they are encoded."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from usage_pipeline.streams.sink.layout import LakeLayout, OffsetRange
from usage_pipeline.streams.sink.writer import OpenFiles, recover, write_files, write_parquet

OFFSETS = OffsetRange("clean.traffic", 0, 10, 19)
DAYS = (dt.date(2026, 12, 6), dt.date(2026, 12, 7))


def test_files_from_a_generator_all_land_and_leave_no_state(tmp_path):
    layout = LakeLayout(tmp_path)
    made = []

    def files():
        for number, day in enumerate(DAYS):
            made.append(day)
            yield layout.data_path("traffic", day, OFFSETS), pa.table({"n": [number]})

    write_files(layout, OFFSETS, files())
    assert made == list(DAYS)
    for number, day in enumerate(DAYS):
        assert pq.read_table(layout.data_path("traffic", day, OFFSETS))["n"].to_pylist() == [number]
    assert not list(layout.tmp_dir.glob("*")) and not list(layout.intent_dir.glob("*"))


def test_a_flush_without_files_writes_nothing(tmp_path):
    layout = LakeLayout(tmp_path)
    write_files(layout, OFFSETS, iter(()))
    assert not list(tmp_path.rglob("*.parquet")) and not list(tmp_path.rglob("*.json"))


def test_files_keep_min_max_statistics_of_the_top_level_columns_only(tmp_path):
    path = tmp_path / "data.parquet"
    context = pa.array([{"url": "https://a.example/x"}, {"url": "https://b.example/y"}])
    write_parquet(pa.table({"kafka_offset": [10, 11], "context": context}), path)
    columns = pq.ParquetFile(path).metadata.row_group(0)
    stats = {columns.column(i).path_in_schema: columns.column(i).statistics for i in range(2)}
    assert (stats["kafka_offset"].min, stats["kafka_offset"].max) == (10, 11)
    assert stats["context.url"] is None
    assert columns.column(0).compression == "ZSTD"


def test_open_files_publish_every_append_of_a_day_in_one_file_under_one_range(tmp_path):
    layout = LakeLayout(tmp_path)
    files = OpenFiles(layout, OFFSETS.topic, OFFSETS.partition, OFFSETS.start)
    folders = [layout.day_dir("traffic", day) for day in DAYS]
    files.append(folders[0], pa.table({"n": [1, 2]}))
    files.append(folders[1], pa.table({"n": [3]}))
    files.append(folders[0], pa.table({"n": [4]}))
    assert len(files) == 2
    assert not list(tmp_path.rglob("*.parquet")), "open files are not in the lake"
    write_files(layout, OFFSETS, files.close(OFFSETS.file_name))
    first = pq.ParquetFile(layout.data_path("traffic", DAYS[0], OFFSETS))
    assert first.read()["n"].to_pylist() == [1, 2, 4]
    assert first.metadata.num_row_groups == 1
    assert pq.read_table(layout.data_path("traffic", DAYS[1], OFFSETS))["n"].to_pylist() == [3]
    assert not list(layout.tmp_dir.glob("*")) and not list(layout.intent_dir.glob("*"))


def test_open_files_publish_a_table_of_several_chunks_as_one_row_group_in_order(tmp_path):
    layout = LakeLayout(tmp_path)
    files = OpenFiles(layout, OFFSETS.topic, OFFSETS.partition, OFFSETS.start)
    folder = layout.day_dir("traffic", DAYS[0])
    files.append(folder, pa.concat_tables([pa.table({"n": [1, 2]}), pa.table({"n": [3]})]))
    files.append(folder, pa.table({"n": [4]}))
    write_files(layout, OFFSETS, files.close(OFFSETS.file_name))
    published = pq.ParquetFile(layout.data_path("traffic", DAYS[0], OFFSETS))
    assert published.read()["n"].to_pylist() == [1, 2, 3, 4]
    assert published.metadata.num_row_groups == 1


def test_open_files_refuse_a_table_of_another_schema(tmp_path):
    layout = LakeLayout(tmp_path)
    files = OpenFiles(layout, OFFSETS.topic, OFFSETS.partition, OFFSETS.start)
    files.append(layout.day_dir("traffic", DAYS[0]), pa.table({"n": [1]}))
    with pytest.raises(ValueError, match="another schema"):
        files.append(layout.day_dir("traffic", DAYS[0]), pa.table({"n": ["one"]}))
    files.discard()


def test_open_files_a_crash_leaves_are_deleted_on_recovery_and_discard_deletes_them(tmp_path):
    layout = LakeLayout(tmp_path)
    for discard in (False, True):
        files = OpenFiles(layout, OFFSETS.topic, OFFSETS.partition, OFFSETS.start)
        files.append(layout.day_dir("traffic", DAYS[0]), pa.table({"n": [1]}))
        assert list(layout.tmp_dir.glob("*.tmp"))
        if discard:
            files.discard()
        else:
            recover(layout, OFFSETS.topic, OFFSETS.partition)
        assert not list(layout.tmp_dir.glob("*.tmp"))
        assert not list(tmp_path.rglob("*.parquet"))
