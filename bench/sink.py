"""Benchmark: rows/s from the clean topics into the Parquet lake, against consume-only.

N synthetic clean records (real records of the stream's Processor, repeated with fresh event
ids) are published to the clean topics of a fresh namespace first. Then, each in its own
process so that peak RSS is its own:

  consume only        the sink's own consumer settings (streams.sink.sink.consumer_config),
                      consume(num_messages=10000), read each value's size, discard: the ceiling
  consume, defaults   the same with librdkafka's default fetch settings (earlier baseline)
  lake sink           LakeSink.run(until_caught_up=True): parse, dedupe, Parquet zstd, fsync,
                      commit

CPU us/row is the process's CPU time (every thread) per record: on a shared machine it moves
less than the wall-clock rates do. "of it, loop" is the consuming thread's own share (the
sink's is consume and buffering; the rest is its writer threads and librdkafka's).

Usage: python bench/sink.py [--records 1000000] [--json results.json]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import harness
import orjson
from confluent_kafka import Consumer, KafkaError, Producer

from usage_pipeline.broker.clients import produce_blocking, producer_config
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.settings import Settings, load_settings
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.sink.malloc_arenas import cap_malloc_arenas
from usage_pipeline.streams.sink.sink import CONSUME_BATCH, LakeSink, consumer_config
from usage_pipeline.streams.topics import clean_topics, ensure_stream_topics

REPO = Path(__file__).resolve().parent.parent
POLICY_FILE = REPO / "config" / "anonymization.yaml"
TEMPLATES = 5_000
GRANTED = {p: ["granted", 0] for p in ("analytics", "marketing", "partner_sharing")}


def templates(namespace: str) -> list[tuple[str, bytes, str]]:
    """(topic, value, event id) of real clean records over the last 3 days."""
    policy = load_policy(POLICY_FILE)
    processor = Processor(
        Anonymizer(policy, Pseudonymizer(b"b" * 32, "bench")), load_contracts(), namespace=namespace
    )
    clean = set(clean_topics(policy, namespace))
    today = dt.datetime.now(dt.UTC).date()
    found = []
    for event in simulate(SimulationConfig(events=TEMPLATES, days=3, seed=3, until=today)):
        outcome = processor.process(orjson.dumps(event), Source("raw", 0, 0), GRANTED.get)
        found.extend(
            (o.topic, o.value, event["event_id"]) for o in outcome.outputs if o.topic in clean
        )
    return found


def publish(bootstrap: str, namespace: str, records: int) -> None:
    settings = load_settings()
    producer = Producer(producer_config(bootstrap, settings.producer, "bench-sink"))
    pattern = templates(namespace)
    for i in range(records):
        topic, value, event_id = pattern[i % len(pattern)]
        fresh = str(uuid.UUID(int=i + 1, version=4))
        value = value.replace(event_id.encode(), fresh.encode())
        produce_blocking(producer, topic, value, key=fresh.encode())
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush()


def consume_only(bootstrap: str, namespace: str, records: int, tuned: bool) -> dict:
    group = "consume-only" if tuned else "consume-defaults"
    settings = sink_settings(namespace, Path("unused"), group_id=group)
    config = consumer_config(bootstrap, settings.sink, settings.topics.namespace)
    if not tuned:
        for name in ("queued.max.messages.kbytes", "fetch.queue.backoff.ms"):
            del config[name]
    consumer = Consumer(config)
    consumer.subscribe(sorted(clean_topics(load_policy(POLICY_FILE), namespace)))
    done, size, start, cpu = 0, 0, time.perf_counter(), harness.cpu_seconds()
    thread = time.thread_time()
    while done < records:
        for message in consumer.consume(num_messages=CONSUME_BATCH, timeout=1.0):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(error.str())
            done += 1
            size += len(message.value())
    seconds = time.perf_counter() - start
    cpu = harness.cpu_seconds() - cpu
    thread = time.thread_time() - thread
    consumer.close()
    return {
        "records": done,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "thread_cpu_seconds": thread,
        "mib": size / 2**20,
        "peak_rss_mib": harness.peak_rss_mib(),
    }


def sink_settings(namespace: str, lake: Path, **sink: object) -> Settings:
    """The loaded settings with a namespace and a lake of this run."""
    base = load_settings()
    return base.model_copy(
        update={
            "topics": base.topics.model_copy(update={"namespace": namespace}),
            "sink": SinkSettings(lake_dir=lake, **sink),
        }
    )


def lake_sink(bootstrap: str, namespace: str, lake: Path) -> dict:
    cap_malloc_arenas()  # as `usage-pipeline sink` does first
    settings = sink_settings(namespace, lake)
    sink = LakeSink(
        bootstrap, settings.sink, load_policy(POLICY_FILE), namespace=settings.topics.namespace
    )
    start, cpu, thread = time.perf_counter(), harness.cpu_seconds(), time.thread_time()
    stats = sink.run(until_caught_up=True)
    seconds = time.perf_counter() - start
    cpu, thread = harness.cpu_seconds() - cpu, time.thread_time() - thread
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    return {
        "records": stats.records,
        "rows": stats.rows,
        "files": stats.files,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "thread_cpu_seconds": thread,
        "parquet_mib": size / 2**20,
        "peak_rss_mib": harness.peak_rss_mib(),
    }


def main() -> None:
    args = harness.arguments(__doc__, "records", 1_000_000)
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    topics = settings.topics.model_copy(update={"namespace": namespace})
    ensure_stream_topics(bootstrap, load_policy(POLICY_FILE), topics)
    print(f"publishing {args.records:,} clean records to {namespace}clean.* ...", flush=True)
    publish(bootstrap, namespace, args.records)

    lake = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    runs = {}
    try:
        for name, function, arguments in (
            ("consume only", consume_only, (args.records, True)),
            ("consume, defaults", consume_only, (args.records, False)),
            ("lake sink", lake_sink, (lake,)),
        ):
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                print(f"{name} ...", flush=True)
                runs[name] = pool.submit(function, bootstrap, namespace, *arguments).result()
    finally:
        shutil.rmtree(lake, ignore_errors=True)

    for run in runs.values():
        run["rows_per_s"] = run["records"] / run["seconds"]
    baseline, sink = runs["consume only"], runs["lake sink"]
    print(f"\n{args.records:,} records ({baseline['mib']:,.0f} MiB of JSON), broker {bootstrap}\n")
    print(
        f"{'run':<20}{'rows/s':>12}{'seconds':>10}{'CPU us/row':>12}{'of it, loop':>13}"
        f"{'peak RSS MiB':>14}"
    )
    for name, run in runs.items():
        per_row = {k: run[k] / run["records"] * 1e6 for k in ("cpu_seconds", "thread_cpu_seconds")}
        print(
            f"{name:<20}{run['rows_per_s']:>12,.0f}{run['seconds']:>10.1f}"
            f"{per_row['cpu_seconds']:>12.1f}{per_row['thread_cpu_seconds']:>13.1f}"
            f"{run['peak_rss_mib']:>14.0f}"
        )
    ratios = {
        "lake sink / consume only": sink["rows_per_s"] / baseline["rows_per_s"],
        "lake sink / consume, defaults": sink["rows_per_s"]
        / runs["consume, defaults"]["rows_per_s"],
    }
    print()
    for label, ratio in ratios.items():
        print(f"{label:<32}{ratio:>6.2f}")
    print(f"{sink['files']} files, {sink['parquet_mib']:,.1f} MiB of Parquet")
    harness.save(args.json, {"records": args.records, "runs": runs, "ratios": ratios})


if __name__ == "__main__":
    main()
