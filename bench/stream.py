"""Benchmark: the transactional stream worker against a plain at-least-once loop, same run.

Every run reads the same N simulated events (published once per run into a namespace of its
own, so no run reads another's derived consent records) and runs the same ``Processor``:

  baseline     consume(num_messages=5000) -> Processor.process -> produce; commit offsets
               after each flush (at least once, no transactions), one process
               (every run is timed from the spawn of its processes: start-up counts)
  1 worker     `usage-pipeline stream` (Kafka transactions), timed until the group's lag is 0
  2 workers    two `usage-pipeline stream` processes in one group

Then the consent rebuild: C consent records (one per subject) published to a namespace, a
worker started on it, timed until it has replayed them all; its resident memory against a
worker with no consent state gives the memory per million subjects.

Usage: python bench/stream.py [--events 200000] [--consent 1000000] [--json results.json]
Uses KAFKA_BOOTSTRAP_SERVERS if set, else starts (or reuses) the local broker.
"""

from __future__ import annotations

import datetime as dt
import secrets
import tempfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import harness
import orjson
from confluent_kafka import Consumer, Producer

from usage_pipeline.broker.admin import topic_sizes
from usage_pipeline.broker.clients import produce_blocking, producer_config
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.schemas.keys import consent_key, partition_for
from usage_pipeline.schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.deadletter import Source
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import ensure_stream_topics

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "config" / "anonymization.yaml"


def prepare(bootstrap: str, namespace: str, events: int) -> None:
    """Create a namespace's topics and publish the simulated events into it."""
    settings = load_settings()
    topics = settings.topics.model_copy(update={"namespace": namespace})
    ensure_raw_topics(bootstrap, topics)
    ensure_stream_topics(bootstrap, load_policy(POLICY), topics)
    if events:
        config = SimulationConfig(events=events, days=30, seed=11, until=dt.date(2026, 11, 1))
        with EventPublisher(bootstrap, namespace=namespace) as publisher:
            for event in simulate(config):
                publisher.publish(event)


def run_baseline(bootstrap: str, namespace: str, key: bytes) -> dict:
    """The plain at-least-once loop over ``namespace``, writing into ``<namespace>baseline.``."""
    settings = load_settings()
    out_namespace = f"{namespace}baseline."
    prepare(bootstrap, out_namespace, 0)
    processor = Processor(
        Anonymizer(load_policy(POLICY), Pseudonymizer(key, "bench")),
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
            "enable.partition.eof": True,
        }
    )
    producer = Producer(producer_config(bootstrap, settings.producer, "bench-baseline"))
    consumer.subscribe(list(raw_topics(namespace)))
    consent: dict = {}
    total = sum(topic_sizes(bootstrap, list(raw_topics(namespace))).values())
    done, start = 0, time.perf_counter()
    at_end: set[tuple[str, int]] = set()
    # Offsets count transaction markers too (the worker writes raw.consent transactionally):
    # the loop also ends once every assigned partition is read to its end.
    while done < total and not (
        done and at_end >= {(p.topic, p.partition) for p in consumer.assignment()}
    ):
        messages = consumer.consume(num_messages=5000, timeout=1.0)
        before = done
        for message in messages:
            place = (message.topic(), message.partition())
            if message.error() is not None:
                at_end.add(place)
                continue
            at_end.discard(place)
            done += 1
            source = Source(message.topic(), message.partition(), message.offset())
            outcome = processor.process(message.value(), source, consent.get)
            if outcome.consent_update is not None:
                consent[outcome.consent_update[0]] = outcome.consent_update[1]
            for out in outcome.outputs:
                kwargs = {} if out.partition is None else {"partition": out.partition}
                produce_blocking(
                    producer, out.topic, out.value, key=out.key, headers=out.headers, **kwargs
                )
            producer.poll(0)
        producer.flush()
        if done > before:  # committing with nothing consumed yet fails (_NO_OFFSET)
            consumer.commit(asynchronous=False)
    seconds = time.perf_counter() - start
    consumer.close()
    return {"events": done, "seconds": seconds, "peak_rss_mib": harness.peak_rss_mib()}


def run_workers(
    bootstrap: str, namespace: str, events: int, key_file: Path, count: int, logs: Path
) -> dict:
    """``count`` worker processes in one group over ``namespace``, timed until lag 0."""
    env = {
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file),
    }
    group = namespace + load_settings().stream.app_id
    workers = [
        WorkerProcess(
            bootstrap,
            group,
            namespace,
            logs / f"{namespace}worker-{i}.log",
            {**env, "USAGE_PIPELINE_STREAM__INSTANCE_ID": f"bench-{i}"},
            cwd=REPO,
        )
        for i in range(count)
    ]
    samples: list[tuple[float, int]] = []
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    peaks = [0.0] * count
    try:
        workers[0].wait_until_caught_up(
            timeout_s=max(600.0, events / 500),
            poll_s=0.25,
            on_lag=lambda lag: (
                samples.append((time.perf_counter(), lag)),
                peaks.__setitem__(slice(None), [w.peak_rss_mib() for w in workers]),
            ),
        )
        seconds = time.perf_counter() - start
    finally:
        for worker in workers:
            worker.stop()
    # Steady state: between 10% and 90% of the work done.
    t1, lag1 = next((s for s in samples if s[1] <= 0.9 * events), samples[0])
    t2, lag2 = next((s for s in samples if s[1] <= 0.1 * events), samples[-1])
    steady = (lag1 - lag2) / (t2 - t1) if t2 > t1 else float("nan")
    return {
        "events": events,
        "seconds": seconds,
        "steady_events_per_s": steady,
        "peak_rss_mib": peaks,
    }


def publish_consent(bootstrap: str, namespace: str, subjects: int, partitions: int) -> None:
    """One granted analytics decision per subject (``usr_bench<9 digits>``), placed on
    ``partitions`` as the producer library places it."""
    topic = raw_topic(CONSENT_FAMILY, namespace)
    producer = Producer(producer_config(bootstrap, load_settings().producer, "bench-consent"))
    for i in range(subjects):
        user = f"usr_bench{i:09d}"
        event = {
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "event_type": "consent.changed",
            "schema_version": 1,
            "occurred_at": "2026-11-01T00:00:00Z",
            "source": "bench",
            "subject": {"account_id": "acct_bench", "user_id": user},
            "properties": {
                "purpose": "analytics",
                "status": "granted",
                "source": "import",
                "effective_at": "2026-11-01T00:00:00Z",
            },
        }
        produce_blocking(
            producer, topic, orjson.dumps(event), key=consent_key(user, "analytics").encode(),
            partition=partition_for(user, partitions),
        )  # fmt: skip
        producer.poll(0)
    producer.flush()


def health(port: int) -> dict:
    """A worker's /healthz body (empty while it does not answer yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return orjson.loads(answer.read())
    except OSError:
        return {}


def consent_subjects(port: int) -> int:
    """The worker's consent_subjects gauge."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("usage_pipeline_stream_consent_subjects "):
                return int(float(line.split()[1]))
    return 0


def time_rebuild(bootstrap: str, namespace: str, key_file: Path, logs: Path) -> dict:
    """Start a worker on ``namespace`` and time it until every consent record is replayed."""
    port = harness.free_port()
    env = {
        "USAGE_PIPELINE_TOPICS__NAMESPACE": namespace,
        "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(key_file),
        "USAGE_PIPELINE_STREAM__METRICS_PORT": str(port),
        "USAGE_PIPELINE_STREAM__INSTANCE_ID": "bench-rebuild",
    }
    group = namespace + load_settings().stream.app_id
    worker = WorkerProcess(bootstrap, group, namespace, logs / f"{namespace}rebuild.log", env)
    total = sum(topic_sizes(bootstrap, [raw_topic(CONSENT_FAMILY, namespace)]).values())
    start = time.perf_counter()
    with worker:
        while True:
            report = health(port)
            if report.get("state") == "running" and report.get("assigned_partitions"):
                subjects = consent_subjects(port)
                if subjects >= total:
                    break
            time.sleep(0.25)
        seconds = time.perf_counter() - start
        assert worker.process is not None
        rss, peak = resident_mib(worker.process.pid), worker.peak_rss_mib()
    return {
        "consent_records": total,
        "seconds": seconds,
        "subjects": subjects,
        "rss_mib": rss,
        "peak_rss_mib": peak,
    }


def resident_mib(pid: int) -> float:
    """A process's resident memory now (the state it holds, not a transient peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main() -> None:
    command_line = harness.parser(__doc__, "events", 200_000)
    command_line.add_argument("--consent", type=int, default=1_000_000)
    args = command_line.parse_args()
    _, bootstrap = harness.cluster()
    key = secrets.token_bytes(32)
    names = {run: harness.fresh_namespace() for run in ("one", "two", "rebuild", "empty")}
    print(f"publishing {args.events:,} simulated events twice ...", flush=True)
    prepare(bootstrap, names["one"], args.events)
    prepare(bootstrap, names["two"], args.events)
    with tempfile.TemporaryDirectory() as folder:
        key_file = Path(folder) / "key"
        key_file.write_bytes(key)
        logs = Path(folder)
        print("plain confluent-kafka loop (at least once) ...", flush=True)
        # Timed from the spawn of its process, as the workers are: start-up counts for both.
        spawned = time.perf_counter()
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            baseline = pool.submit(run_baseline, bootstrap, names["one"], key).result()
        baseline["loop_seconds"] = baseline["seconds"]
        baseline["seconds"] = time.perf_counter() - spawned
        baseline["peak_rss_mib"] = [baseline["peak_rss_mib"]]
        print("1 transactional worker ...", flush=True)
        one = run_workers(bootstrap, names["one"], args.events, key_file, 1, logs)
        print("2 transactional workers ...", flush=True)
        two = run_workers(bootstrap, names["two"], args.events, key_file, 2, logs)
        print(f"consent rebuild: publishing {args.consent:,} consent records ...", flush=True)
        prepare(bootstrap, names["rebuild"], 0)
        partitions = load_settings().topics.partitions
        publish_consent(bootstrap, names["rebuild"], args.consent, partitions)
        prepare(bootstrap, names["empty"], 0)
        empty = time_rebuild(bootstrap, names["empty"], key_file, logs)
        rebuild = time_rebuild(bootstrap, names["rebuild"], key_file, logs)
    for run in (baseline, one, two):
        run["events_per_s"] = run["events"] / run["seconds"]
    per_million = (rebuild["rss_mib"] - empty["rss_mib"]) / max(rebuild["subjects"], 1) * 1e6

    print(f"\n{args.events:,} events, broker {bootstrap}\n")
    print(f"{'run':<26}{'events/s':>12}{'steady/s':>12}{'seconds':>10}  peak RSS MiB")
    for label, run in (("plain loop (baseline)", baseline), ("1 worker", one), ("2 workers", two)):
        steady = run.get("steady_events_per_s")
        print(
            f"{label:<26}{run['events_per_s']:>12,.0f}"
            f"{'' if steady is None else f'{steady:,.0f}':>12}{run['seconds']:>10.1f}  "
            + ", ".join(f"{rss:.0f}" for rss in run["peak_rss_mib"])
        )
    ratios = {
        "1 worker / baseline": one["events_per_s"] / baseline["events_per_s"],
        "1 worker steady / baseline": one["steady_events_per_s"] / baseline["events_per_s"],
        "2 workers / baseline": two["events_per_s"] / baseline["events_per_s"],
        "2 workers / 1 worker": two["events_per_s"] / one["events_per_s"],
    }
    print(f"(the plain loop alone, without its start-up: {baseline['loop_seconds']:.1f} s)")
    print()
    for label, ratio in ratios.items():
        print(f"{label:<32}{ratio:>6.2f}")
    print(
        f"\nconsent rebuild: {rebuild['consent_records']:,} records replayed in "
        f"{rebuild['seconds']:.1f} s ({rebuild['consent_records'] / rebuild['seconds']:,.0f}/s); "
        f"worker RSS {rebuild['rss_mib']:.0f} MiB (peak {rebuild['peak_rss_mib']:.0f}) against "
        f"{empty['rss_mib']:.0f} MiB empty: about {per_million:,.0f} MiB per million subjects"
    )
    harness.save(
        args.json,
        {
            "baseline": baseline,
            "one_worker": one,
            "two_workers": two,
            "ratios": ratios,
            "rebuild": rebuild,
            "empty_worker": empty,
            "mib_per_million_subjects": per_million,
        },
    )
    for namespace in names.values():
        harness.delete_namespace(bootstrap, namespace)


if __name__ == "__main__":
    main()
