"""Reading positions and ranges back from the real broker, as the stream worker's ledger does."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from usage_pipeline.broker.admin import committed_positions, consumer_lag, read_range

pytestmark = pytest.mark.kafka


def publish(bootstrap: str, topic: str, count: int, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for n in range(count):
        producer.produce(topic, value=str(n).encode(), partition=partition)
    assert producer.flush(30) == 0


def commit(bootstrap: str, group: str, topic: str, offset: int, partition: int = 0) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        consumer.close()


def test_read_range_returns_exactly_the_records_between_start_and_end(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=1)
    publish(kafka_bootstrap, topic, 20)
    records = read_range(kafka_bootstrap, topic, 0, 5, 9, group="test-reader")
    assert [(r.offset(), r.value()) for r in records] == [(n, str(n).encode()) for n in range(5, 9)]


def test_read_range_stops_at_the_end_of_the_partition(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=1)
    publish(kafka_bootstrap, topic, 3)
    records = read_range(kafka_bootstrap, topic, 0, 1, 50, group="test-reader")
    assert [r.offset() for r in records] == [1, 2]


def test_committed_positions_give_the_commit_or_the_log_start(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=2)
    publish(kafka_bootstrap, topic, 10, partition=0)
    publish(kafka_bootstrap, topic, 4, partition=1)
    commit(kafka_bootstrap, "test-positions", topic, 7)
    positions = committed_positions(kafka_bootstrap, "test-positions", [topic])
    assert positions == {(topic, 0): 7, (topic, 1): 0}
    assert consumer_lag(kafka_bootstrap, "test-positions", [topic]) == 3 + 4
