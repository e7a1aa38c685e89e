"""Benchmark: simulate and publish N events, against baselines measured in the same run.

Each stage runs in its own process (so its peak RSS is its own) against the same broker:

  generate            the simulator alone
  generate+validate   plus the JSON Schema check
  simulate+publish    the real path: generate, validate, serialize, key, produce, flush
  client baseline     confluent-kafka alone producing pre-serialized events (same config)

Usage: python bench/publish.py [--events 1000000] [--json results.json]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import harness
import orjson
from confluent_kafka import Producer

from broker.clients import produce_blocking, producer_config
from producers.publisher import EventPublisher
from producers.simulator import SimulationConfig, simulate
from producers.topics import ensure_raw_topics
from schemas.contracts import load_contracts
from schemas.keys import subject_id
from schemas.topics import family_of, raw_topic
from usage_pipeline.settings import load_settings

UNTIL = dt.date(2026, 11, 1)


def _config(events: int) -> SimulationConfig:
    return SimulationConfig(events=events, days=30, seed=7, until=UNTIL)


def stage_generate(events: int, bootstrap: str, namespace: str) -> int:
    return sum(1 for _ in simulate(_config(events)))


def stage_validate(events: int, bootstrap: str, namespace: str) -> int:
    contracts = load_contracts()
    count = 0
    for event in simulate(_config(events)):
        contracts.validate(event)
        count += 1
    return count


def stage_publish(events: int, bootstrap: str, namespace: str) -> int:
    settings = load_settings()
    with EventPublisher(bootstrap, settings.producer, namespace=namespace) as publisher:
        for event in simulate(_config(events)):
            publisher.publish(event)
    return publisher.stats.delivered


def stage_client_baseline(events: int, bootstrap: str, namespace: str) -> int:
    settings = load_settings()
    sample = list(itertools.islice(simulate(_config(20_000)), 20_000))
    prepared = [
        (raw_topic(family_of(e["event_type"]), namespace), subject_id(e).encode(), orjson.dumps(e))
        for e in sample
        if not e["event_type"].startswith("consent")
    ]
    producer = Producer(producer_config(bootstrap, settings.producer, "bench-baseline"))
    for topic, key, value in itertools.islice(itertools.cycle(prepared), events):
        produce_blocking(producer, topic, value, key=key)
        producer.poll(0)
    producer.flush()
    return events


STAGES: dict[str, Callable[[int, str, str], int]] = {
    "generate": stage_generate,
    "generate+validate": stage_validate,
    "simulate+publish": stage_publish,
    "client baseline": stage_client_baseline,
}


def _run(name: str, events: int, bootstrap: str, namespace: str) -> dict:
    start = time.perf_counter()
    count = STAGES[name](events, bootstrap, namespace)
    seconds = time.perf_counter() - start
    return {
        "stage": name,
        "events": count,
        "seconds": seconds,
        "peak_rss_mib": harness.peak_rss_mib(),
    }


def main() -> None:
    args = harness.arguments(__doc__, "events", 1_000_000)
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    ensure_raw_topics(bootstrap, settings.topics.model_copy(update={"namespace": namespace}))

    results = []
    for name in STAGES:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(_run, name, args.events, bootstrap, namespace).result())

    by_stage = {r["stage"]: r for r in results}
    print(f"\n{args.events:,} events, broker {bootstrap}\n")
    print(f"{'stage':<20}{'events/s':>12}{'seconds':>10}{'peak RSS MiB':>14}")
    for r in results:
        rate = r["events"] / r["seconds"]
        r["events_per_s"] = rate
        print(f"{r['stage']:<20}{rate:>12,.0f}{r['seconds']:>10.2f}{r['peak_rss_mib']:>14.0f}")
    publish = by_stage["simulate+publish"]["events_per_s"]
    ratios = {
        "publish / client baseline": publish / by_stage["client baseline"]["events_per_s"],
        "publish / generate": publish / by_stage["generate"]["events_per_s"],
    }
    print()
    for label, ratio in ratios.items():
        print(f"{label:<28}{ratio:>6.2f}")
    harness.save(args.json, {"results": results, "ratios": ratios})


if __name__ == "__main__":
    main()
