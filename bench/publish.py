"""Benchmark: simulate and publish N events, against baselines measured in the same run.

Each stage runs in its own process (so its peak RSS is its own) against the same broker:

  generate             the simulator alone
  generate+validate    plus the JSON Schema check
  publisher            EventPublisher.publish of already generated events (a sample, cycled):
                       validate, serialize, key, produce, flush; the library path
  simulate+publish     what `usage-pipeline simulate` does (producers.simulated)
  client baseline      confluent-kafka alone producing pre-serialized events (same config)
  ProducerPerformance  Kafka's Java tool, N records drawn from our serialized events, our
                       producer's settings (acks=all, idempotent, lz4, linger, batch)

CPU us/ev counts every thread of the stage's process (librdkafka's too); main us/ev only the
Python thread that validates, serializes and produces: the steadier figure when other
processes share the cores.

Usage: python bench/publish.py [--events 1000000] [--json results.json]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker. Needs java
and mvn for ProducerPerformance (resolved from Maven Central once).
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import harness
import kafka_tools
import orjson
from confluent_kafka import Producer

from usage_pipeline.broker.admin import create_topics
from usage_pipeline.broker.clients import produce_blocking, producer_config
from usage_pipeline.producers.publisher import POLL_EVERY, EventPublisher
from usage_pipeline.producers.simulated import publish_simulation
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.schemas.keys import subject_id
from usage_pipeline.schemas.topics import TopicSpec, family_of, raw_topic
from usage_pipeline.settings import load_settings

UNTIL = dt.date(2026, 11, 1)
SAMPLE = 20_000


def _config(events: int, seed: int = 7) -> SimulationConfig:
    return SimulationConfig(events=events, days=30, seed=seed, until=UNTIL)


def stage_generate(events: int, bootstrap: str, namespace: str) -> int:
    return sum(1 for _ in simulate(_config(events)))


def stage_validate(events: int, bootstrap: str, namespace: str) -> int:
    contracts = load_contracts()
    count = 0
    for event in simulate(_config(events)):
        contracts.validate(event)
        count += 1
    return count


def stage_publisher(events: int, bootstrap: str, namespace: str) -> int:
    settings = load_settings()
    sample = list(simulate(_config(SAMPLE)))
    with EventPublisher(bootstrap, settings.producer, namespace=namespace) as publisher:
        for event in itertools.islice(itertools.cycle(sample), events):
            publisher.publish(event)
    return publisher.stats.delivered


def stage_simulate(events: int, bootstrap: str, namespace: str) -> int:
    settings = load_settings()
    with EventPublisher(bootstrap, settings.producer, namespace=namespace) as publisher:
        publish_simulation(publisher, _config(events))
    return publisher.stats.delivered


def stage_client_baseline(events: int, bootstrap: str, namespace: str) -> int:
    settings = load_settings()
    prepared = [
        (raw_topic(family_of(e["event_type"]), namespace), subject_id(e).encode(), orjson.dumps(e))
        for e in simulate(_config(SAMPLE))
        if not e["event_type"].startswith("consent")
    ]
    producer = Producer(producer_config(bootstrap, settings.producer, "bench-baseline"))
    for i, (topic, key, value) in enumerate(itertools.islice(itertools.cycle(prepared), events)):
        produce_blocking(producer, topic, value, key)
        if i % POLL_EVERY == 0:
            producer.poll(0)
    producer.flush()
    return events


STAGES: dict[str, Callable[[int, str, str], int]] = {
    "generate": stage_generate,
    "generate+validate": stage_validate,
    "publisher": stage_publisher,
    "simulate+publish": stage_simulate,
    "client baseline": stage_client_baseline,
}


def _run(name: str, events: int, bootstrap: str, namespace: str) -> dict:
    start, cpu, main = time.perf_counter(), harness.cpu_seconds(), time.thread_time()
    count = STAGES[name](events, bootstrap, namespace)
    return {
        "stage": name,
        "events": count,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": harness.cpu_seconds() - cpu,
        "main_thread_cpu_seconds": time.thread_time() - main,
        "peak_rss_mib": harness.peak_rss_mib(),
    }


def producer_performance(events: int, bootstrap: str, namespace: str) -> dict:
    """Kafka's ProducerPerformance over our serialized events, on a topic of its own."""
    settings = load_settings()
    jars = kafka_tools.tool_jars(settings)
    topic = f"{namespace}perf"
    create_topics(bootstrap, [TopicSpec(topic, settings.topics.partitions)])
    with tempfile.TemporaryDirectory() as scratch:
        payloads, mean_bytes = kafka_tools.payload_file(_config(SAMPLE, seed=5), Path(scratch))
        figures = kafka_tools.producer_performance(
            jars, bootstrap, topic, events, payloads, settings.producer
        )
    return {
        "stage": "ProducerPerformance",
        "events": figures["records"],
        "seconds": figures["records"] / figures["records_per_s"],
        "mean_record_bytes": mean_bytes,
        **figures,
    }


def main() -> None:
    args = harness.arguments(__doc__, "events", 1_000_000)
    try:
        kafka_tools.require_java_and_maven()
    except kafka_tools.ToolsUnavailableError as exc:
        sys.exit(f"error: {exc}")
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    ensure_raw_topics(bootstrap, settings.topics.model_copy(update={"namespace": namespace}))

    results = []
    try:
        for name in STAGES:
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                print(f"{name} ...", flush=True)
                results.append(pool.submit(_run, name, args.events, bootstrap, namespace).result())
        print("ProducerPerformance ...", flush=True)
        results.append(producer_performance(args.events, bootstrap, namespace))
    finally:
        harness.delete_namespace(bootstrap, namespace)

    by_stage = {r["stage"]: r for r in results}
    print(f"\n{args.events:,} events, broker {bootstrap}\n")
    print(
        f"{'stage':<20}{'events/s':>12}{'seconds':>10}{'CPU us/ev':>11}{'main us/ev':>12}"
        f"{'peak RSS MiB':>14}"
    )
    for r in results:
        r["events_per_s"] = r["events"] / r["seconds"]
        cpu, main = (
            r.get(name, float("nan")) / r["events"] * 1e6
            for name in ("cpu_seconds", "main_thread_cpu_seconds")
        )
        rss = r.get("peak_rss_mib", float("nan"))
        print(
            f"{r['stage']:<20}{r['events_per_s']:>12,.0f}{r['seconds']:>10.2f}{cpu:>11.1f}"
            f"{main:>12.1f}{rss:>14.0f}"
        )
    java = by_stage["ProducerPerformance"]["events_per_s"]
    ratios = {
        "simulate+publish / ProducerPerformance": by_stage["simulate+publish"]["events_per_s"]
        / java,
        "publisher / ProducerPerformance": by_stage["publisher"]["events_per_s"] / java,
        "client baseline / ProducerPerformance": by_stage["client baseline"]["events_per_s"] / java,
        "simulate+publish / generate": by_stage["simulate+publish"]["events_per_s"]
        / by_stage["generate"]["events_per_s"],
    }
    print()
    for label, ratio in ratios.items():
        print(f"{label:<42}{ratio:>6.2f}")
    harness.save(args.json, {"results": results, "ratios": ratios})


if __name__ == "__main__":
    main()
