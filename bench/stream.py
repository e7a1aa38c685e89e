"""Benchmark: events/s through one stream worker, against a plain confluent-kafka baseline.

Both read the same raw topics (N simulated events, published first) and run the same
``Processor`` (validation, consent, anonymization, routing):

  faust worker        `usage-pipeline stream` as its own process, timed until its lag is 0
  confluent baseline  consume(num_messages=2000) -> Processor.process -> produce, one process

Usage: python bench/stream.py [--events 200000] [--json results.json]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import harness
from confluent_kafka import Consumer, Producer

from broker.admin import consumer_lag, topic_sizes
from broker.clients import producer_config
from producers.publisher import EventPublisher
from producers.simulator import SimulationConfig, simulate
from producers.topics import ensure_raw_topics
from schemas.contracts import load_contracts
from schemas.topics import raw_topics
from streams.anonymize.pseudonym import Pseudonymizer
from streams.anonymizer import Anonymizer
from streams.deadletter import Source
from streams.output import send_output
from streams.policy.loader import load_policy
from streams.processor import Processor
from streams.topics import ensure_stream_topics
from usage_pipeline.settings import load_settings

REPO = Path(__file__).resolve().parent.parent


def publish(bootstrap: str, namespace: str, events: int) -> None:
    config = SimulationConfig(events=events, days=30, seed=11, until=dt.date(2026, 11, 1))
    with EventPublisher(bootstrap, namespace=namespace) as publisher:
        for event in simulate(config):
            publisher.publish(event)


def run_baseline(bootstrap: str, namespace: str, out_namespace: str, key: bytes) -> dict:
    settings = load_settings()
    policy = load_policy(REPO / "config" / "anonymization.yaml")
    processor = Processor(
        Anonymizer(policy, Pseudonymizer(key, "bench")),
        load_contracts(),
        namespace=out_namespace,
        consent_partitions=settings.topics.partitions,
    )
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{out_namespace}baseline",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    producer = Producer(producer_config(bootstrap, settings.producer, "bench-baseline"))
    consumer.subscribe(list(raw_topics(namespace)))
    consent: dict = {}
    total = sum(topic_sizes(bootstrap, list(raw_topics(namespace))).values())
    done, start = 0, time.perf_counter()
    while done < total:
        for message in consumer.consume(num_messages=2000, timeout=1.0):
            if message.error() is not None:
                continue
            done += 1
            source = Source(message.topic(), message.partition(), message.offset())
            outcome = processor.process(message.value(), source, consent.get)
            if outcome.consent_update is not None:
                consent[outcome.consent_update[0]] = outcome.consent_update[1]
            for out in outcome.outputs:
                send_output(producer, out)
            producer.poll(0)
        producer.flush()
        consumer.commit(asynchronous=False)
    seconds = time.perf_counter() - start
    consumer.close()
    return {"events": done, "seconds": seconds, "peak_rss_mib": harness.peak_rss_mib()}


def run_faust(bootstrap: str, namespace: str, events: int, key_file: Path) -> dict:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file),
    }
    group = namespace + load_settings().stream.app_id
    topics = list(raw_topics(namespace))
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "usage_pipeline", "stream"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    samples: list[tuple[float, int]] = []
    peak_kib = 0
    while True:
        lag = consumer_lag(bootstrap, group, topics)
        samples.append((time.perf_counter(), lag))
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak_kib = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1])
        if lag == 0:
            break
        time.sleep(0.25)
    seconds = time.perf_counter() - start
    process.terminate()
    process.wait(30)
    # Steady state: between 10% and 90% of the work done.
    t1, lag1 = next(s for s in samples if s[1] <= 0.9 * events)
    t2, lag2 = next(s for s in samples if s[1] <= 0.1 * events)
    steady = (lag1 - lag2) / (t2 - t1) if t2 > t1 else float("nan")
    return {
        "events": events,
        "seconds": seconds,
        "steady_events_per_s": steady,
        "peak_rss_mib": peak_kib / 1024,
    }


def main() -> None:
    args = harness.arguments(__doc__, "events", 200_000)
    settings, bootstrap = harness.cluster()
    namespace = harness.fresh_namespace()
    out_namespace = f"{namespace}baseline."
    policy = load_policy(REPO / "config" / "anonymization.yaml")
    for ns in (namespace, out_namespace):
        topics = settings.topics.model_copy(update={"namespace": ns})
        ensure_raw_topics(bootstrap, topics)
        ensure_stream_topics(bootstrap, policy, topics)
    print(f"publishing {args.events:,} simulated events ...", flush=True)
    publish(bootstrap, namespace, args.events)

    key = secrets.token_bytes(32)
    with tempfile.NamedTemporaryFile() as key_file:
        Path(key_file.name).write_bytes(key)
        print("faust worker ...", flush=True)
        faust = run_faust(bootstrap, namespace, args.events, Path(key_file.name))
    print("confluent-kafka baseline ...", flush=True)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        baseline = pool.submit(run_baseline, bootstrap, namespace, out_namespace, key).result()

    faust["events_per_s"] = faust["events"] / faust["seconds"]
    baseline["events_per_s"] = baseline["events"] / baseline["seconds"]
    print(f"\n{args.events:,} events, broker {bootstrap}\n")
    print(f"{'run':<22}{'events/s':>12}{'steady/s':>12}{'seconds':>10}{'peak RSS MiB':>14}")
    print(
        f"{'faust worker':<22}{faust['events_per_s']:>12,.0f}{faust['steady_events_per_s']:>12,.0f}"
        f"{faust['seconds']:>10.1f}{faust['peak_rss_mib']:>14.0f}"
    )
    print(
        f"{'confluent baseline':<22}{baseline['events_per_s']:>12,.0f}{'':>12}"
        f"{baseline['seconds']:>10.1f}{baseline['peak_rss_mib']:>14.0f}"
    )
    ratios = {
        "faust / baseline (end to end)": faust["events_per_s"] / baseline["events_per_s"],
        "faust steady / baseline": faust["steady_events_per_s"] / baseline["events_per_s"],
    }
    print()
    for label, ratio in ratios.items():
        print(f"{label:<32}{ratio:>6.2f}")
    harness.save(args.json, {"faust": faust, "baseline": baseline, "ratios": ratios})


if __name__ == "__main__":
    main()
