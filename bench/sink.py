"""Benchmark: rows/s from the clean topics into the Parquet lake, against consume-only.

N synthetic clean records (real records of the stream's Processor, repeated with fresh event
ids) are published to the clean topics of a fresh namespace first. Then, each in its own
process so that peak RSS is its own:

  consume only   consume(num_messages=10000), read each value's size, discard: the ceiling
  lake sink      LakeSink.run(until_caught_up=True): parse, dedupe, Parquet zstd, fsync, commit

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
from confluent_kafka import Consumer, Producer

from broker.clients import produce_blocking, producer_config
from producers.simulator import SimulationConfig, simulate
from schemas.contracts import load_contracts
from streams.anonymize.pseudonym import Pseudonymizer
from streams.anonymizer import Anonymizer
from streams.deadletter import Source
from streams.policy.loader import load_policy
from streams.processor import Processor
from streams.sink.sink import CONSUME_BATCH, LakeSink, sink_topics
from streams.topics import ensure_stream_topics
from usage_pipeline.settings import SinkSettings, load_settings

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
    clean = set(sink_topics(policy, namespace))
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


def consume_only(bootstrap: str, namespace: str, records: int) -> dict:
    topics = sorted(sink_topics(load_policy(POLICY_FILE), namespace))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{namespace}consume-only",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(topics)
    done, size, start = 0, 0, time.perf_counter()
    while done < records:
        for message in consumer.consume(num_messages=CONSUME_BATCH, timeout=1.0):
            error = message.error()
            if error is not None:
                raise RuntimeError(error.str())
            done += 1
            size += len(message.value())
    seconds = time.perf_counter() - start
    consumer.close()
    return {
        "records": done,
        "seconds": seconds,
        "mib": size / 2**20,
        "peak_rss_mib": harness.peak_rss_mib(),
    }


def lake_sink(bootstrap: str, namespace: str, lake: Path) -> dict:
    base = load_settings()
    settings = base.model_copy(
        update={
            "topics": base.topics.model_copy(update={"namespace": namespace}),
            "sink": SinkSettings(lake_dir=lake),
        }
    )
    sink = LakeSink(bootstrap, settings, load_policy(POLICY_FILE))
    start = time.perf_counter()
    stats = sink.run(until_caught_up=True)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
    return {
        "records": stats.records,
        "rows": stats.rows,
        "files": stats.files,
        "seconds": seconds,
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
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            print("consume only ...", flush=True)
            baseline = pool.submit(consume_only, bootstrap, namespace, args.records).result()
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            print("lake sink ...", flush=True)
            sink = pool.submit(lake_sink, bootstrap, namespace, lake).result()
    finally:
        shutil.rmtree(lake, ignore_errors=True)

    for run in (baseline, sink):
        run["rows_per_s"] = run["records"] / run["seconds"]
    print(f"\n{args.records:,} records ({baseline['mib']:,.0f} MiB of JSON), broker {bootstrap}\n")
    print(f"{'run':<16}{'rows/s':>12}{'seconds':>10}{'peak RSS MiB':>14}")
    for name, run in (("consume only", baseline), ("lake sink", sink)):
        print(
            f"{name:<16}{run['rows_per_s']:>12,.0f}{run['seconds']:>10.1f}"
            f"{run['peak_rss_mib']:>14.0f}"
        )
    ratio = sink["rows_per_s"] / baseline["rows_per_s"]
    print(
        f"\nlake sink / consume only: {ratio:.2f}; {sink['files']} files, "
        f"{sink['parquet_mib']:,.1f} MiB of Parquet"
    )
    harness.save(
        args.json,
        {"records": args.records, "consume_only": baseline, "sink": sink, "ratio": ratio},
    )


if __name__ == "__main__":
    main()
