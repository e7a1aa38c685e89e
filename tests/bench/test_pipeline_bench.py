"""bench/pipeline.py's measuring parts: Kafka's perf tools on the real broker, lake latency."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.bench import BENCH, bench_module
from usage_pipeline.settings import load_settings


@pytest.mark.kafka
def test_kafka_perf_tools_produce_and_consume_the_requested_records(
    kafka_bootstrap: str, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    tools = bench_module("kafka_tools")
    jars = tools.tool_jars(load_settings())
    topic = new_topic("perf", partitions=3)
    payloads = tmp_path / "payloads.jsonl"
    payloads.write_text('{"event_id": "a", "n": 1}\n{"event_id": "b", "n": 2}')

    produced = tools.producer_performance(
        jars, kafka_bootstrap, topic, 2_000, payloads, load_settings().producer
    )
    consumed = tools.consumer_performance(jars, kafka_bootstrap, topic, 2_000, f"{topic}.group")

    assert produced["records"] == 2_000
    assert produced["records_per_s"] > 0 and produced["latency_ms"]["p99"] >= 0
    assert consumed["records"] == 2_000
    assert consumed["records_per_s"] > 0 and consumed["mb_per_s"] > 0


def test_latency_is_from_publish_time_to_the_rename_of_each_file_holding_a_sampled_row(
    tmp_path: Path,
) -> None:
    latency = bench_module("lake_latency")
    for purpose, ids in (("analytics", ["a", "b", "c"]), ("traffic", ["a", "d"])):
        folder = tmp_path / "clean" / purpose / "event_date=2026-11-24"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"event_id": ids}), folder / "part.parquet")
    visible = {
        p.parent.parent.name: p.stat().st_ctime for p in (tmp_path / "clean").rglob("*.parquet")
    }
    published = {"a": visible["analytics"] - 3.0, "c": visible["analytics"] - 1.0, "z": 0.0}

    found = sorted(latency.latencies(tmp_path, published))

    # "a" left for two purposes, "c" for one; "z" never reached the lake.
    expected = sorted([3.0, 1.0, visible["traffic"] - published["a"]])
    assert found == pytest.approx(expected)
    assert latency.summary(found)["rows"] == 3


def test_percentiles_follow_the_nearest_rank_rule() -> None:
    latency = bench_module("lake_latency")
    values = [float(v) for v in range(1, 101)]

    assert latency.percentile(values, 0.50) == 50.0
    assert latency.percentile(values, 0.99) == 99.0
    assert latency.percentile([], 0.99) != latency.percentile([], 0.99)  # NaN


def test_pipeline_bench_stops_with_a_clear_message_without_java_or_maven(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no java, no mvn

    result = subprocess.run(
        [sys.executable, str(BENCH / "pipeline.py"), "--events", "10"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 1
    assert "java and mvn not on PATH" in result.stderr
    assert "Traceback" not in result.stderr
