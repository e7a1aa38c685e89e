"""Consent before the events it governs, whatever the worker's lag and whoever published it.

The check does not use the worker's code: it reads every consent decision from raw.consent
(derived unsubscribes included), the subject and time of every event from the raw topics,
and then every record the clean topics and the lake hold as `granted`. None may belong to a
subject whose latest decision at the event's time was a withdrawal.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import pytest
from confluent_kafka import Producer
from prometheus_client.parser import text_string_to_metric_families

from tests.bench import bench_module
from tests.conftest import free_port
from tests.streams.conftest import PARTITIONS, POLICY, StreamEnv
from tests.streams.pipeline_run import (
    cli,
    email_opened,
    envelope,
    granted,
    lake_env,
    publish,
)
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.schemas.keys import consent_key, partition_for, subject_id
from usage_pipeline.schemas.topics import CONSENT_FAMILY, raw_topic, raw_topics
from usage_pipeline.settings import load_settings
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.processor import REHOMED_HEADER
from usage_pipeline.streams.sink.arrow_schema import partitioning
from usage_pipeline.streams.sink.layout import DATA_DIR
from usage_pipeline.streams.topics import clean_topics

pytestmark = pytest.mark.kafka

MONTH = SimulationConfig(events=40_000, days=30, seed=41, until=dt.date(2026, 11, 20))
NEEDS_CONSENT = ("analytics", "marketing", "partner_sharing")
GRANTED = ds.field("consent") == "granted"

Decisions = dict[
    tuple[str, str], tuple[list[str], list[str]]
]  # (subject, purpose) -> times, statuses


def consent_decisions(env: StreamEnv) -> Decisions:
    """Every decision in raw.consent, per subject and purpose, sorted by effective time."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for record in read_topic(env.bootstrap, raw_topic(CONSENT_FAMILY, env.namespace)):
        if record.value() is None:
            continue
        event = orjson.loads(record.value())
        properties = event["properties"]
        key = (subject_id(event), properties["purpose"])
        found.setdefault(key, []).append((_utc(properties["effective_at"]), properties["status"]))
    return {key: tuple(map(list, zip(*sorted(items), strict=True))) for key, items in found.items()}


def withdrawn_at(decisions: Decisions, subject: str, purpose: str, moment: str) -> bool:
    """Whether the subject's latest decision for ``purpose`` at ``moment`` is a withdrawal."""
    times, statuses = decisions.get((subject, purpose), ([], []))
    position = bisect.bisect_right(times, _utc(moment))
    return position > 0 and statuses[position - 1] == "withdrawn"


def raw_events(env: StreamEnv) -> dict[str, tuple[str, str]]:
    """event id -> (subject, occurred_at) of every event in the raw topics."""
    events = {}
    for topic in raw_topics(env.namespace):
        for record in read_topic(env.bootstrap, topic):
            if record.value() is not None:
                event = orjson.loads(record.value())
                events[event["event_id"]] = (subject_id(event), event["occurred_at"])
    return events


def granted_records(env: StreamEnv, lake: Path) -> Iterable[tuple[str, str, str]]:
    """(where, purpose, event id) of every record served as granted, in topics and lake."""
    purposes = clean_topics(load_policy(POLICY), env.namespace)
    for topic, purpose in purposes.items():
        for record in read_topic(env.bootstrap, topic):
            clean = orjson.loads(record.value())
            if clean["consent"] == "granted":
                yield topic, purpose, clean["event_id"]
    for folder in sorted((lake / DATA_DIR).iterdir()):
        dataset = ds.dataset(folder, format="parquet", partitioning=partitioning())
        rows = dataset.to_table(columns=["kafka_topic", "event_id"], filter=GRANTED)
        for topic, event_id in zip(
            rows["kafka_topic"].to_pylist(), rows["event_id"].to_pylist(), strict=True
        ):
            yield "lake", purposes[topic], event_id


def assert_no_event_served_after_its_withdrawal(env: StreamEnv, lake: Path) -> int:
    """The check; returns how many granted records it looked at."""
    sink = cli("sink", "--until-caught-up", env=lake_env(env.bootstrap, env.namespace, lake))
    assert sink.returncode == 0, sink.stderr.decode()[-2000:]
    decisions, events = consent_decisions(env), raw_events(env)
    leaks, checked = [], 0
    for where, purpose, event_id in granted_records(env, lake):
        if purpose not in NEEDS_CONSENT:
            continue
        checked += 1
        subject, occurred = events[event_id]
        if withdrawn_at(decisions, subject, purpose, occurred):
            leaks.append((where, purpose, event_id, subject, occurred))
    assert not leaks, f"{len(leaks)} records served after a withdrawal, e.g. {leaks[:5]}"
    return checked


def test_withdrawals_published_in_a_burst_with_far_more_events_hold_while_catching_up(
    fresh_stream_env, tmp_path
):
    env = fresh_stream_env
    with env.worker("a") as worker:
        publish(env.bootstrap, env.namespace, list(simulate(MONTH)))  # far faster than it works
        worker.wait_until_caught_up(timeout_s=900)
    assert assert_no_event_served_after_its_withdrawal(env, tmp_path / "lake") > 1000


# A tiny hold pauses and resumes topic-partitions all the time: every record must still be
# read, and in order.
@pytest.mark.parametrize("hold", [1000, 20], ids=["default hold", "tiny hold"])
def test_withdrawals_published_before_any_worker_starts_hold_too(fresh_stream_env, tmp_path, hold):
    env = fresh_stream_env
    publish(env.bootstrap, env.namespace, list(simulate(MONTH)))
    with env.worker("a", hold_per_partition=hold) as worker:
        worker.wait_until_caught_up(timeout_s=900)
    assert assert_no_event_served_after_its_withdrawal(env, tmp_path / "lake") > 1000


def test_a_withdrawal_from_kafkas_console_producer_is_honoured_like_one_from_the_library(
    fresh_stream_env, tmp_path
):
    """A Java client with its default partitioner, keyed by the subject as docs/stream.md
    tells a service in another language to do."""
    env = fresh_stream_env
    user = f"usr_{uuid.uuid4().hex[:8]}"
    publish(env.bootstrap, env.namespace, [granted(user, "marketing")])
    withdrawal = envelope(
        "consent.changed",
        user,
        {
            "purpose": "marketing",
            "status": "withdrawn",
            "source": "preference_center",
            "effective_at": "2026-11-20T10:00:00Z",
        },
        "2026-11-20T10:00:00Z",
    )
    del withdrawal["context"]
    tools = bench_module("kafka_tools")
    consent_topic = raw_topic(CONSENT_FAMILY, env.namespace)
    tools.console_produce(
        tools.tool_jars(load_settings()),
        env.bootstrap,
        consent_topic,
        [(user, orjson.dumps(withdrawal).decode())],
    )
    after = email_opened(user)  # at 12:00, two hours after the withdrawal
    with EventPublisher(env.bootstrap, namespace=env.namespace) as publisher:
        publisher.publish(after)
    with env.worker("a") as worker:
        worker.wait_until_caught_up(timeout_s=300)
    marketing = [
        orjson.loads(r.value()) for r in env.read("clean.marketing") if r.value() is not None
    ]
    assert after["event_id"] not in {record["event_id"] for record in marketing}
    moved = [
        r
        for r in read_topic(env.bootstrap, consent_topic)
        if r.key() == f"{user}|marketing".encode() and (REHOMED_HEADER, b"1") in (r.headers() or [])
    ]
    assert len(moved) == 1, "the withdrawal was not copied under its compaction key"
    assert_no_event_served_after_its_withdrawal(env, tmp_path / "lake")


def _utc(moment: str) -> str:
    """An RFC 3339 UTC time in one sortable form."""
    return dt.datetime.fromisoformat(moment).astimezone(dt.UTC).isoformat()


def test_a_withdrawal_written_after_the_worker_read_an_event_it_precedes_is_applied_first(
    fresh_stream_env, tmp_path
):
    """Consent and events travel to the broker separately. Two withdrawals that took effect
    before an e-mail event reach the broker only after the worker has read the event: one
    was published before the event (a producer's batch for raw.consent sent after its batch
    for raw.email), one just after it by another service. Both are within the grace, so
    neither event may reach clean.marketing."""
    env = fresh_stream_env
    before, after = (f"usr_{uuid.uuid4().hex[:8]}" for _ in range(2))
    publish(env.bootstrap, env.namespace, [granted(user, "marketing") for user in (before, after)])
    port = free_port()
    with env.worker("a", consent_grace_s=10, metrics_port=port) as worker:
        worker.wait_until_caught_up(timeout_s=300)
        email_topic = env.topic("raw.email")
        read_before = _consumed(port, email_topic)
        published_at_ms = int(time.time() * 1000)
        events = [email_opened(before), email_opened(after)]
        publish(env.bootstrap, env.namespace, events)
        while _consumed(port, email_topic) < read_before + len(events):
            worker.check()
            time.sleep(0.2)
        producer = Producer({"bootstrap.servers": env.bootstrap})
        for user, timestamp in ((before, published_at_ms), (after, None)):
            producer.produce(
                raw_topic(CONSENT_FAMILY, env.namespace),
                orjson.dumps(_withdrawal(user, "2026-11-20T10:00:00Z")),
                consent_key(user, "marketing").encode(),
                partition=partition_for(user, PARTITIONS),
                **({} if timestamp is None else {"timestamp": timestamp}),
            )
        producer.flush(30)
        worker.wait_until_caught_up(timeout_s=300)
    served = {orjson.loads(r.value())["event_id"] for r in env.read("clean.marketing")}
    assert not served & {event["event_id"] for event in events}
    assert {orjson.loads(r.value())["event_id"] for r in env.read("clean.service")} >= {
        event["event_id"] for event in events
    }
    assert_no_event_served_after_its_withdrawal(env, tmp_path / "lake")


def _withdrawal(user: str, effective_at: str) -> dict:
    """``user`` withdraws marketing consent from ``effective_at``."""
    properties = {
        "purpose": "marketing",
        "status": "withdrawn",
        "source": "preference_center",
        "effective_at": effective_at,
    }
    withdrawal = envelope("consent.changed", user, properties, effective_at)
    del withdrawal["context"]
    return withdrawal


def _consumed(port: int, topic: str) -> float:
    """How many records of ``topic`` the worker serving metrics on ``port`` has read."""
    return _metric(port, "usage_pipeline_stream_records_consumed_total", topic=topic)


def _metric(port: int, name: str, **labels: str) -> float:
    """The sum of the samples ``name`` with ``labels`` of the worker serving metrics on
    ``port``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_consent_published_behind_an_open_transaction_still_precedes_the_events_after_it(
    fresh_stream_env, tmp_path
):
    """An open transaction on raw.consent (the worker's own derived withdrawals, another
    worker's moved copies) holds its last stable offset down, and a read-committed consumer
    reads nothing past it, not even the records other publishers appended meanwhile. A
    partition is therefore not known complete up to when its last stable offset was
    measured: a withdrawal and a first grant published then, each followed by an event of
    its subject, must still be applied before those events."""
    env = fresh_stream_env
    leaver, newcomer = (_user_on(0) for _ in range(2))
    publish(env.bootstrap, env.namespace, [granted(leaver, "marketing")])
    port = free_port()
    with env.worker("a", metrics_port=port) as worker:
        worker.wait_until_caught_up(timeout_s=300)
        consent_topic = raw_topic(CONSENT_FAMILY, env.namespace)
        holder = _user_on(0)
        pending = Producer({"bootstrap.servers": env.bootstrap, "transactional.id": holder})
        pending.init_transactions(30)
        pending.begin_transaction()
        pending.produce(
            consent_topic,
            orjson.dumps(granted(holder, "analytics")),
            consent_key(holder, "analytics").encode(),
            partition=0,
        )
        pending.flush(30)
        events = [email_opened(leaver), email_opened(newcomer)]
        publish(
            env.bootstrap,
            env.namespace,
            [
                _withdrawal(leaver, "2026-11-20T10:00:00Z"),
                events[0],
                granted(newcomer, "marketing"),
                events[1],
            ],
        )
        # Give the worker ample time to judge the events, as it did before this version
        # (no assertion on time: a worker that waits for the transaction passes either way).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _held(port) == 0:
            worker.check()
            time.sleep(0.2)
        while time.monotonic() < deadline and _held(port) > 0:
            worker.check()
            time.sleep(0.2)
        pending.commit_transaction(30)
        worker.wait_until_caught_up(timeout_s=300)
    served = {orjson.loads(r.value())["event_id"] for r in env.read("clean.marketing")}
    assert events[0]["event_id"] not in served, "served after the withdrawal"
    assert events[1]["event_id"] in served, "judged without the grant published before it"
    assert_no_event_served_after_its_withdrawal(env, tmp_path / "lake")


def _user_on(partition: int) -> str:
    """A new user id whose records go to ``partition``."""
    while partition_for(user := f"usr_{uuid.uuid4().hex[:8]}", PARTITIONS) != partition:
        pass
    return user


def _held(port: int) -> float:
    """How many records the worker serving metrics on ``port`` holds back now."""
    return _metric(port, "usage_pipeline_stream_held_records")
