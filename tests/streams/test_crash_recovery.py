"""Crash and restart: SIGKILL two workers and the sink, restart the broker, lose and repeat nothing.

Modelled on Kafka's transactions system test (100,000 messages copied while processes and
brokers are killed; zero duplicates, identical input and output sets). Two worker processes
share the group. Exactly once is checked in the clean topics themselves (read committed),
not only in the lake. Runs on a broker of its own, since it restarts it.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.conftest import free_port
from tests.streams.chaos import Chaos, PacedPublisher, Pipeline, payloads_by_id
from tests.streams.conftest import PARTITIONS, StreamEnv
from tests.streams.crash_workload import (
    Acked,
    ExpectedOutputs,
    RawRecord,
    Workload,
    build_workload,
    dead_letter_source,
    final_consent,
)
from tests.streams.sink.conftest import POLICY, SinkEnv, read_lake
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.broker.config import LocalBrokerSettings, ProducerSettings
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.producers.publisher import Delivery, EventPublisher
from usage_pipeline.producers.topics import ensure_raw_topics
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.schemas.topics import TopicSettings
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.config import StreamSettings
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.secret_key import load_pseudonymizer
from usage_pipeline.streams.sink.layout import DATA_DIR, parse_file_name
from usage_pipeline.streams.topics import clean_topics, ensure_stream_topics

pytestmark = pytest.mark.kafka

RECORDS = 100_000
BAD_EVERY = 100  # 1% of the records are bad and must be dead-lettered
SIMULATOR_SEED = 8
SEED = random.randrange(2**32)  # where the kills fall; printed with every failure
CHAOS_TIMEOUT_S = 900.0
CATCH_UP_TIMEOUT_S = 600.0


@dataclass
class CrashEnv:
    """A broker of this test's own, with a namespace of pipeline topics and a lake."""

    broker: LocalBroker
    stream: StreamEnv
    sink: SinkEnv


@pytest.fixture
def crash_env(tmp_path: Path) -> Iterator[CrashEnv]:
    """Its own broker on free ports in a temporary home, the pipeline's topics, a key."""
    settings = LocalBrokerSettings(port=free_port(), controller_port=free_port())
    broker = LocalBroker(settings, tmp_path / "home")
    broker.start()
    try:
        bootstrap, namespace = broker.bootstrap_servers, "crash."
        topics = TopicSettings(namespace=namespace, partitions=PARTITIONS)
        ensure_raw_topics(bootstrap, topics)
        ensure_stream_topics(bootstrap, POLICY, topics)
        key_file = tmp_path / "pseudonymization.key"
        key_file.write_bytes(secrets.token_bytes(32))
        yield CrashEnv(
            broker,
            StreamEnv(bootstrap, namespace, key_file, tmp_path / "worker.log"),
            SinkEnv(bootstrap, namespace, tmp_path / "lake", tmp_path / "sink.log"),
        )
    finally:
        broker.stop()


@pytest.mark.timeout(2400)
def test_kill_9_of_worker_and_sink_and_a_broker_restart_lose_and_repeat_nothing(crash_env):
    """Every acknowledged event is once in its clean topics and once in the lake per purpose.

    The lake and the clean topics are compared, by event id per purpose, with the stream's
    own Processor run here over the acknowledged records. The dead-letter topic must name
    exactly the expected bad records' source coordinates, each once. A delivery the producer
    saw fail may appear, at most once.
    """
    stream = crash_env.stream
    workload = build_workload(RECORDS, BAD_EVERY, SIMULATOR_SEED, stream.namespace)
    processor = stream_processor(crash_env)
    purposes = clean_topics(POLICY, stream.namespace)
    consent = publish_consent(stream.bootstrap, stream.namespace, workload)
    decisions = final_consent(processor, consent)
    expected = ExpectedOutputs(processor, purposes, decisions)
    expected.add(consent)

    pipeline = Pipeline(crash_env.broker, stream, crash_env.sink)
    publisher = PacedPublisher(stream.bootstrap, stream.namespace, workload)
    chaos = Chaos(pipeline, publisher, expected, len(consent), workload.size, random.Random(SEED))
    pipeline.start()
    publisher.start()
    try:
        chaos.run(CHAOS_TIMEOUT_S)
        publisher.join()
        assert publisher.error is None, f"publishing failed: {publisher.error!r}"
        pipeline.worker.wait_until_caught_up(timeout_s=CATCH_UP_TIMEOUT_S)
        pipeline.wait_for_sink(CATCH_UP_TIMEOUT_S)
        chaos.timeline.append(f"{chaos.elapsed():.0f}s caught up")
    except BaseException:
        print(f"chaos seed {SEED}; {chaos.timeline}{pipeline.logs()}")
        raise
    finally:
        pipeline.stop()
    chaos.absorb()
    may_appear = ExpectedOutputs(processor, purposes, expected.consent)
    may_appear.add(publisher.failed)
    print(
        f"chaos seed {SEED}: {chaos.timeline}; unplanned exits: {dict(pipeline.crashes)}; "
        f"failed deliveries: {dict(publisher.failures)}"
    )

    assert_clean_topics_hold_exactly(crash_env, purposes, expected, may_appear)
    assert_lake_holds_exactly(crash_env.sink.lake, purposes, expected, may_appear)
    assert_dead_letters(crash_env, workload, expected, may_appear)


def stream_processor(env: CrashEnv) -> Processor:
    """The Processor the worker runs: same policy, key, namespace and partitions."""
    settings = StreamSettings(pseudonymization_key_file=env.stream.key_file)
    return Processor(
        Anonymizer(POLICY, load_pseudonymizer(settings)),
        load_contracts(),
        namespace=env.stream.namespace,
        consent_partitions=PARTITIONS,
        max_event_bytes=ProducerSettings().max_event_bytes,
    )


def publish_consent(bootstrap: str, namespace: str, workload: Workload) -> list[Acked]:
    """Publish every consent decision before the worker starts; its replay then sees them all."""
    payloads = payloads_by_id(workload)
    acked: list[Acked] = []

    def delivered(delivery: Delivery) -> None:
        assert delivery.ok, delivery.error
        acked.append(
            Acked(delivery.topic, delivery.partition, delivery.offset, payloads[delivery.event_id])
        )

    with EventPublisher(bootstrap, namespace=namespace, on_delivery=delivered) as publisher:
        for event in workload.consent:
            publisher.publish(event)
    assert len(acked) == len(workload.consent)
    return acked


def assert_clean_topics_hold_exactly(
    env: CrashEnv, purposes: dict[str, str], expected: ExpectedOutputs, may_appear: ExpectedOutputs
) -> None:
    """Per clean topic, read committed: every expected event id exactly once."""
    found: dict[str, Counter[str]] = {}
    for topic, purpose in purposes.items():
        records = read_topic(env.stream.bootstrap, topic)
        found[purpose] = Counter(orjson.loads(r.value())["event_id"] for r in records)
    assert_exactly(found, expected, may_appear, "clean topics")


def assert_lake_holds_exactly(
    lake: Path, purposes: dict[str, str], expected: ExpectedOutputs, may_appear: ExpectedOutputs
) -> None:
    """Per purpose, the lake's event ids are the expected ones, each exactly once."""
    stray = [p for p in (lake / DATA_DIR).rglob("*") if p.is_file() and not parse_file_name(p.name)]
    assert stray == [], f"files that are not data files in the lake: {stray[:5]}"
    rows = read_lake(lake)
    found: dict[str, Counter[str]] = {purpose: Counter() for purpose in purposes.values()}
    for topic, event_id in zip(
        rows["kafka_topic"].to_pylist(), rows["event_id"].to_pylist(), strict=True
    ):
        found[purposes[topic]][event_id] += 1
    assert_exactly(found, expected, may_appear, "lake")


def assert_exactly(
    found: dict[str, Counter[str]],
    expected: ExpectedOutputs,
    may_appear: ExpectedOutputs,
    where: str,
) -> None:
    """Each purpose holds exactly the expected event ids, each once."""
    problems = []
    for purpose, counts in sorted(found.items()):
        want = expected.event_ids[purpose]
        repeated = {i: n for i, n in counts.items() if n > 1}
        missing = want - counts.keys()
        unexpected = counts.keys() - want - may_appear.event_ids[purpose]
        if repeated or missing or unexpected:
            problems.append(
                f"{purpose}: {len(want)} expected, {counts.total()} rows; "
                f"{len(missing)} missing, from {sorted(expected.origins[i] for i in missing)[:8]}, "
                f"{len(repeated)} repeated {dict(list(repeated.items())[:5])}, "
                f"{len(unexpected)} unexpected {sorted(unexpected)[:5]}"
            )
    assert problems == [], f"chaos seed {SEED}, {where}: " + "; ".join(problems)


def assert_dead_letters(
    env: CrashEnv, workload: Workload, expected: ExpectedOutputs, may_appear: ExpectedOutputs
) -> None:
    """The dead-letter topic names exactly the expected records, each once."""
    bad = sum(isinstance(record, RawRecord) for record in workload.events)
    assert len(expected.dead) + len(may_appear.dead) >= bad, "some bad records were not bad"
    letters = read_topic(env.stream.bootstrap, env.stream.topic("dead.letter"))
    found = Counter(dead_letter_source(message.value()) for message in letters)
    missing = expected.dead - found.keys()
    unexpected = found.keys() - expected.dead - may_appear.dead
    repeated = {source: n for source, n in found.items() if n > 1}
    assert not missing and not unexpected and not repeated, (
        f"chaos seed {SEED}: dead letters: {len(missing)} missing {sorted(missing)[:5]}, "
        f"{len(unexpected)} unexpected {sorted(unexpected)[:5]}, {len(repeated)} repeated"
    )
