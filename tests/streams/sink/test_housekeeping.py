"""`lake compact` and `lake retention` keep every row they should and none they should not."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

import usage_pipeline.streams.sink.compact as compact_module
from tests.streams.sink.conftest import POLICY, expected_rows, lake_rows
from tests.streams.sink.test_exactly_once import Crash, assert_lake_holds_exactly
from usage_pipeline.cli.main import app
from usage_pipeline.streams.sink.compact import compact_group, plan_compaction
from usage_pipeline.streams.sink.layout import LakeLayout, OffsetRange
from usage_pipeline.streams.sink.retention import delete_partition, expired_partitions
from usage_pipeline.streams.sink.writer import write_parquet

pytestmark = pytest.mark.kafka
TODAY = dt.datetime.now(dt.UTC).date()


def files_per_partition_day(lake) -> Counter:
    return Counter(
        (p.parent, p.name.rsplit("+", 1)[0]) for p in (lake / "clean").rglob("*.parquet")
    )


def last_offsets(layout: LakeLayout, env) -> dict:
    topics = {env.namespace + p.output: name for name, p in POLICY.purposes.items()}
    return {
        (t, n): layout.last_offset(purpose, t, n) for t, purpose in topics.items() for n in range(3)
    }


def compact_everything(layout: LakeLayout) -> int:
    groups = plan_compaction(layout, POLICY.purposes, lambda _day: True)
    for group in groups:
        compact_group(layout, group)
    return len(groups)


def test_compaction_merges_each_day_into_one_file_per_partition_and_resume_still_works(
    sink_env, make_outputs
):
    outputs = make_outputs(sink_env.namespace)
    produced = sink_env.produce(outputs)
    sink_env.run(flush_rows=100)
    layout = LakeLayout(sink_env.lake)
    before, ends = lake_rows(sink_env.rows()), last_offsets(layout, sink_env)
    assert max(files_per_partition_day(sink_env.lake).values()) > 1

    assert compact_everything(layout) > 0
    assert lake_rows(sink_env.rows()) == before
    assert set(files_per_partition_day(sink_env.lake).values()) == {1}
    assert last_offsets(layout, sink_env) == ends

    produced += sink_env.produce(outputs[:300] + make_outputs(sink_env.namespace, 300, seed=6))
    again = sink_env.run(flush_rows=100, group_id="a-new-group")  # resumes from disk alone
    assert again.duplicates == 300
    assert_lake_holds_exactly(sink_env, produced)


def test_an_interrupted_compaction_is_finished_by_the_next_one(sink_env, make_outputs, monkeypatch):
    produced = sink_env.produce(make_outputs(sink_env.namespace))
    sink_env.run(flush_rows=100)
    layout = LakeLayout(sink_env.lake)
    real = compact_module.publish

    def publish_then_die(source, target):
        real(source, target)
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(compact_module, "publish", publish_then_die)
        with pytest.raises(Crash):
            compact_everything(layout)
    assert len(sink_env.rows()) > len(expected_rows(produced))  # merged file and its sources
    compact_everything(layout)
    assert_lake_holds_exactly(sink_env, produced)


def test_compact_command_reports_what_it_merged(sink_env, make_outputs, monkeypatch):
    produced = sink_env.produce(make_outputs(sink_env.namespace, events=600))
    sink_env.run(flush_rows=50)
    for name, value in sink_env.process_env().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["lake", "compact", "--day", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "compacted" in result.output
    assert lake_rows(sink_env.rows()) == expected_rows(produced)


def tiny_partition(layout: LakeLayout, purpose: str, day: dt.date, rows: int) -> None:
    table = pa.table({"event_id": [f"{purpose}-{day}-{i}" for i in range(rows)]})
    path = layout.data_path(purpose, day, OffsetRange(f"clean.{purpose}", 0, 0, rows - 1))
    write_parquet(table, path)


def test_retention_deletes_only_partitions_older_than_each_purposes_retention(tmp_path):
    layout = LakeLayout(tmp_path / "lake")
    ages = (45, 31, 30, 29, 0)
    for purpose in ("traffic", "analytics"):
        for age in ages:
            tiny_partition(layout, purpose, TODAY - dt.timedelta(days=age), rows=age + 1)
    retention = {"traffic": 30, "analytics": 400}
    expired = expired_partitions(layout, ["traffic", "analytics"], retention, TODAY)
    assert [(p.purpose, (TODAY - p.day).days) for p in expired] == [
        ("traffic", 45),
        ("traffic", 31),
    ]
    for partition in expired:
        delete_partition(layout, partition)
    kept = ds.dataset(layout.root / "clean").to_table()["event_id"].to_pylist()
    expected = {
        f"{purpose}-{TODAY - dt.timedelta(days=age)}-{i}"
        for purpose in ("traffic", "analytics")
        for age in ages
        if purpose == "analytics" or age <= 30
        for i in range(age + 1)
    }
    assert sorted(kept) == sorted(expected)
    assert not any(layout.trash_dir.iterdir())


def traffic_days(table: pa.Table) -> list[dt.date]:
    pairs = zip(table["event_date"].to_pylist(), table["kafka_topic"].to_pylist(), strict=True)
    return [day for day, topic in pairs if topic.endswith("clean.traffic")]


def test_retention_command_and_the_sink_does_not_bring_deleted_rows_back(
    sink_env, make_outputs, monkeypatch
):
    sink_env.produce(make_outputs(sink_env.namespace))
    sink_env.run(flush_rows=500)
    rows = sink_env.rows()
    cutoff = TODAY - dt.timedelta(days=1)
    for name, value in sink_env.process_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("USAGE_PIPELINE_SINK__RETENTION_DAYS__TRAFFIC", "1")
    result = CliRunner().invoke(app, ["lake", "retention"])
    assert result.exit_code == 0, result.output
    expired = sum(day < cutoff for day in traffic_days(rows))
    assert expired > 0
    left = sink_env.rows()
    assert len(left) == len(rows) - expired
    assert min(traffic_days(left)) == cutoff
    assert sink_env.run(flush_rows=500).records == 0  # resumes after the committed offsets
    assert len(sink_env.rows()) == len(left)
