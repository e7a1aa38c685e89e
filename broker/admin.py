"""Cluster administration on confluent-kafka: readiness, metadata and topic creation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

T = TypeVar("T")


class ClusterUnreachableError(RuntimeError):
    """No broker answered a metadata request in time."""


@dataclass(frozen=True)
class ClusterInfo:
    """What a metadata request says about a cluster."""

    bootstrap_servers: str
    cluster_id: str | None
    broker_ids: tuple[int, ...]
    controller_id: int
    topics: dict[str, int]  # topic -> partition count, internal topics left out


@dataclass(frozen=True)
class TopicSpec:
    """A topic the pipeline needs, with its partition count and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    replication_factor: int = 1


def admin_client(bootstrap_servers: str) -> AdminClient:
    """An AdminClient that fails fast instead of logging connection errors forever."""
    return AdminClient(
        {
            "bootstrap.servers": bootstrap_servers,
            "socket.connection.setup.timeout.ms": 2000,
            "reconnect.backoff.max.ms": 500,
            "log_level": 0,
        }
    )


def describe_cluster(bootstrap_servers: str, timeout_s: float = 5.0) -> ClusterInfo:
    """Send one metadata request; raises ClusterUnreachableError when nobody answers."""
    try:
        metadata = admin_client(bootstrap_servers).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ClusterUnreachableError(
            f"no Kafka broker answered at {bootstrap_servers} within {timeout_s:g} s"
        ) from exc
    topics = {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__")
    }
    return ClusterInfo(
        bootstrap_servers=bootstrap_servers,
        cluster_id=metadata.cluster_id,
        broker_ids=tuple(sorted(metadata.brokers)),
        controller_id=metadata.controller_id,
        topics=dict(sorted(topics.items())),
    )


def wait_until_ready(
    bootstrap_servers: str, timeout_s: float, still_starting: Callable[[], bool] | None = None
) -> ClusterInfo:
    """Repeat metadata requests until one succeeds, or raise after ``timeout_s``.

    ``still_starting`` is an optional callable; when it returns False (the broker process
    died) waiting stops at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return describe_cluster(bootstrap_servers, timeout_s=1.0)
        except ClusterUnreachableError:
            gave_up = still_starting is not None and not still_starting()
            if gave_up or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def create_topics(bootstrap_servers: str, specs: list[TopicSpec], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist yet; existing topics are left as they are."""
    if not specs:
        return
    admin = admin_client(bootstrap_servers)  # must outlive the futures
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication_factor, config=s.config) for s in specs],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"could not create topic {name!r}: {exc.args[0].str()}") from exc


def topic_sizes(
    bootstrap_servers: str, topics: list[str], timeout_s: float = 10.0
) -> dict[str, int]:
    """Records held by each topic now: the sum over partitions of high minus low watermark."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": "usage-pipeline-inspect"}
    )
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        sizes = {}
        for topic in topics:
            partitions = metadata.topics.get(topic)
            total = 0
            for partition in partitions.partitions if partitions else ():
                low, high = _watermarks(consumer, TopicPartition(topic, partition), timeout_s)
                total += high - low
            sizes[topic] = total
        return sizes
    finally:
        consumer.close()


def consumer_lag(
    bootstrap_servers: str, group: str, topics: list[str], timeout_s: float = 10.0
) -> int:
    """Records in ``topics`` that ``group`` has not committed yet (all of them if it never did)."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": group})
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            if topic in metadata.topics
            for p in metadata.topics[topic].partitions
        ]
        committed = _retrying(lambda: consumer.committed(partitions, timeout=timeout_s))
        lag = 0
        for tp in committed:
            low, high = _watermarks(consumer, tp, timeout_s)
            position = tp.offset if tp.offset >= 0 else low
            lag += max(0, high - position)
        return lag
    finally:
        consumer.close()


def _watermarks(consumer: Consumer, partition: TopicPartition, timeout_s: float) -> tuple[int, int]:
    """Low and high watermark of one partition, retried while leadership settles."""
    return _retrying(lambda: consumer.get_watermark_offsets(partition, timeout=timeout_s))


_TRANSIENT = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError._TIMED_OUT,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
}


def _retrying(call: Callable[[], T], attempts: int = 20, pause_s: float = 0.5) -> T:
    """Call again while the broker answers with a retriable error (e.g. coordinator loading)."""
    for attempt in range(attempts):
        try:
            return call()
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() in _TRANSIENT) or attempt == attempts - 1:
                raise
            time.sleep(pause_s)
    raise AssertionError("unreachable")


def read_topic(bootstrap_servers: str, topic: str, timeout_s: float = 1.0) -> list[Message]:
    """Every record a topic holds now, from the start to the end of each partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "usage-pipeline-reader",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        at_end: set[int] = set()
        while len(at_end) < len(partitions):
            for message in consumer.consume(1000, timeout=timeout_s):
                error = message.error()
                if error is None:
                    messages.append(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                else:
                    raise KafkaException(error)
        return messages
    finally:
        consumer.close()
