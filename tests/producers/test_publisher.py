"""The producer library on the real broker: keys, partitions, validation, delivery reports."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.producers.publisher import Delivery, DeliveryFailedError, EventPublisher
from usage_pipeline.schemas.contracts import ContractViolation
from usage_pipeline.schemas.keys import consent_key, partition_for


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    messages: list = []
    for _ in range(int(timeout_s)):
        messages += [m for m in consumer.consume(1000, timeout=1.0) if m.error() is None]
        if len(messages) >= expected:
            break
    consumer.close()
    return messages


def test_every_published_event_is_consumed_keyed_by_subject_on_kafkas_partition(
    kafka_bootstrap, raw_namespace, example_event
):
    events = [example_event("usage.feature_used", user_id=f"user-{i}") for i in range(500)]
    with EventPublisher(kafka_bootstrap, namespace=raw_namespace) as publisher:
        for event in events:
            publisher.publish(event)
    assert publisher.stats.delivered == 500

    messages = consume_all(kafka_bootstrap, f"{raw_namespace}raw.usage", 500)
    assert len(messages) == 500
    for message in messages:
        subject = message.key().decode()
        assert message.partition() == partition_for(subject, 3)


def test_consent_and_usage_of_one_subject_share_a_partition_number(
    kafka_bootstrap, raw_namespace, example_event
):
    subjects = [f"person-{i}" for i in range(40)]
    with EventPublisher(kafka_bootstrap, namespace=raw_namespace) as publisher:
        for subject in subjects:
            publisher.publish(example_event("usage.media_played", user_id=subject))
            publisher.publish(example_event("consent.changed", user_id=subject))

    usage = consume_all(kafka_bootstrap, f"{raw_namespace}raw.usage", 40)
    consent = consume_all(kafka_bootstrap, f"{raw_namespace}raw.consent", 40)
    usage_partition = {m.key().decode(): m.partition() for m in usage}
    consent_partition = {m.key().decode(): m.partition() for m in consent}
    for subject in subjects:
        assert consent_partition[consent_key(subject, "marketing")] == usage_partition[subject]


def test_invalid_event_names_the_field_and_sends_nothing(
    kafka_bootstrap, raw_namespace, example_event
):
    event = example_event("usage.feature_used")
    event["context"]["ip"] = "010.1.2.3"
    publisher = EventPublisher(kafka_bootstrap, namespace=raw_namespace)
    with pytest.raises(ContractViolation) as caught:
        publisher.publish(event)
    assert caught.value.field == "context.ip"
    assert "010.1.2.3" not in str(caught.value)
    publisher.flush()
    assert publisher.stats.sent == 0


def wait_for_partitions(bootstrap: str, topic: str) -> None:
    """Until the broker's metadata lists the topic's partitions (just after its creation it
    may not, and the publisher places consent records by partition count)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if admin.list_topics(topic, timeout=10).topics[topic].partitions:
            return
        time.sleep(0.1)
    raise AssertionError(f"{topic} has no partitions in the metadata")


def test_a_batch_queues_its_valid_events_and_names_the_invalid_ones_by_index(
    kafka_bootstrap, raw_namespace, example_event
):
    bad_ip = example_event("usage.feature_used", user_id="u-bad")
    bad_ip["context"]["ip"] = "010.1.2.3"
    found_earlier = ContractViolation("$", "repeats a key")
    items = [
        example_event("usage.feature_used", user_id="u-0"),
        bad_ip,
        orjson.dumps(example_event("usage.media_played", user_id="u-2")),
        b'{"event_type": ',
        found_earlier,
        example_event("consent.changed", user_id="u-5"),
        ["not", "an", "event"],
    ]
    reports: list = []
    wait_for_partitions(kafka_bootstrap, f"{raw_namespace}raw.consent")
    with EventPublisher(
        kafka_bootstrap, namespace=raw_namespace, report_every_delivery=True
    ) as publisher:
        outcome = publisher.publish_batch(items, on_delivery=lambda e, m: reports.append(e))
    assert [index for index, _ in outcome.rejected] == [1, 3, 4, 6]
    assert outcome.rejected[0][1].field == "context.ip"
    assert outcome.rejected[2][1] is found_earlier
    assert "010.1.2.3" not in " ".join(str(v) for _, v in outcome.rejected)
    queued = {"usage.feature_used": 1, "usage.media_played": 1, "consent.changed": 1}
    assert outcome.queued == queued
    assert reports == [None, None, None]  # each queued event acknowledged, through the callback
    usage = consume_all(kafka_bootstrap, f"{raw_namespace}raw.usage", 2)
    consent = consume_all(kafka_bootstrap, f"{raw_namespace}raw.consent", 1)
    assert sorted(m.key().decode() for m in usage) == ["u-0", "u-2"]
    assert [m.key().decode() for m in consent] == [consent_key("u-5", "marketing")]
    assert consent[0].partition() == partition_for("u-5", 3)


def test_full_queue_blocks_instead_of_failing(kafka_bootstrap, raw_namespace, example_event):
    settings = ProducerSettings(queue_max_messages=5, linger_ms=5)
    with EventPublisher(kafka_bootstrap, settings, namespace=raw_namespace) as publisher:
        for i in range(300):
            publisher.publish(example_event("usage.feature_used", user_id=f"u{i}"))
    assert publisher.stats.delivered == 300


def shrink_max_message_bytes(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("max.message.bytes", "200", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result()
    # The change travels through the metadata log: wait until the broker applies it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = admin.describe_configs([ConfigResource("topic", topic)])
        configs = next(iter(described.values())).result()
        if configs["max.message.bytes"].value == "200":
            return
        time.sleep(0.2)
    raise AssertionError(f"max.message.bytes of {topic} never became 200")


def test_broker_rejection_reaches_the_delivery_callback(
    kafka_bootstrap, raw_namespace, example_event
):
    shrink_max_message_bytes(kafka_bootstrap, f"{raw_namespace}raw.usage")
    reports: list[Delivery] = []
    settings = ProducerSettings(delivery_timeout_ms=5000)
    with EventPublisher(
        kafka_bootstrap, settings, namespace=raw_namespace, on_delivery=reports.append
    ) as publisher:
        publisher.publish(example_event("usage.feature_used"))
    assert len(reports) == 1
    assert not reports[0].ok
    assert publisher.stats.failed == 1


def test_broker_rejection_without_callback_raises_on_flush(
    kafka_bootstrap, raw_namespace, example_event
):
    shrink_max_message_bytes(kafka_bootstrap, f"{raw_namespace}raw.usage")
    event = example_event("usage.feature_used")
    publisher = EventPublisher(
        kafka_bootstrap, ProducerSettings(delivery_timeout_ms=5000), namespace=raw_namespace
    )
    publisher.publish(event)
    with pytest.raises(DeliveryFailedError, match=event["event_id"]) as caught:
        publisher.flush()
    assert "jane.doe@example.com" not in str(caught.value)
