"""Cluster administration on confluent-kafka: readiness, metadata and topic creation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

from usage_pipeline.broker.clients import LIBRDKAFKA_LOG
from usage_pipeline.broker.security import Cluster, address, connection_config
from usage_pipeline.schemas.topics import TopicSpec

T = TypeVar("T")

log = logging.getLogger(__name__)


class ClusterUnreachableError(RuntimeError):
    """No broker answered a metadata request in time."""


class LoginRefusedError(ClusterUnreachableError):
    """The broker answered but refused the client's SASL login (wrong user or password)."""


class TopicCreationError(RuntimeError):
    """The cluster refused to create a topic (e.g. more replicas than brokers); says why."""


@dataclass(frozen=True)
class ClusterInfo:
    """What a metadata request says about a cluster."""

    bootstrap_servers: str
    cluster_id: str | None
    broker_ids: tuple[int, ...]
    controller_id: int
    topics: dict[str, int]  # topic -> partition count, internal topics left out


def admin_client(
    cluster: Cluster, on_error: Callable[[KafkaError], None] | None = None
) -> AdminClient:
    """An AdminClient that fails fast instead of logging connection errors forever."""
    config: dict[str, object] = {
        **connection_config(cluster),
        "socket.connection.setup.timeout.ms": 2000,
        "reconnect.backoff.max.ms": 500,
        "log_level": 0,
    }
    if on_error is not None:
        config["error_cb"] = on_error
    return AdminClient(config)


def describe_cluster(cluster: Cluster, timeout_s: float = 5.0) -> ClusterInfo:
    """Send one metadata request; raises ClusterUnreachableError when nobody answers."""
    errors: list[KafkaError] = []
    admin = admin_client(cluster, errors.append)
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        admin.poll(0)  # serves error_cb
        refused = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        if refused:  # librdkafka's reason names the mechanism, never the password
            raise LoginRefusedError(f"{address(cluster)}: {refused[-1].str()}") from exc
        raise ClusterUnreachableError(
            f"no Kafka broker answered at {address(cluster)} within {timeout_s:g} s"
        ) from exc
    topics = {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__")
    }
    return ClusterInfo(
        bootstrap_servers=address(cluster),
        cluster_id=metadata.cluster_id,
        broker_ids=tuple(sorted(metadata.brokers)),
        controller_id=metadata.controller_id,
        topics=dict(sorted(topics.items())),
    )


def wait_until_ready(
    cluster: Cluster, timeout_s: float, still_starting: Callable[[], bool] | None = None
) -> ClusterInfo:
    """Repeat metadata requests until one succeeds, or raise after ``timeout_s``.

    ``still_starting`` is an optional callable; when it returns False (the broker process
    died) waiting stops at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return describe_cluster(cluster, timeout_s=1.0)
        except LoginRefusedError:
            raise
        except ClusterUnreachableError:
            gave_up = still_starting is not None and not still_starting()
            if gave_up or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def create_topics(cluster: Cluster, specs: list[TopicSpec], timeout_s: float = 30.0) -> None:
    """Create the topics that do not exist yet; existing topics are left as they are.

    Under ACLs only the admin may create pipeline topics: a service that is not allowed to
    leaves them to the admin (`usage-pipeline kafka setup`) and finds out when it uses them.
    """
    if not specs:
        return
    admin = admin_client(cluster)  # must outlive the futures
    futures = admin.create_topics(
        [NewTopic(s.name, s.partitions, s.replication_factor, config=s.config) for s in specs],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    denied = []
    for name, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == KafkaError.TOPIC_AUTHORIZATION_FAILED:
                denied.append(name)
            elif code != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicCreationError(
                    f"could not create topic {name!r}: {exc.args[0].str()}"
                ) from exc
    if denied:
        log.info("not allowed to create %d topic(s), left to the admin", len(denied))
    _wait_until_known(admin, [s.name for s in specs if s.name not in denied], timeout_s)


def _wait_until_known(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Return once every topic of ``names`` shows its partitions in the cluster's metadata.

    A topic is created before every broker's metadata knows it: a publisher asking at once
    was told it has no partitions, and took it for missing (seen in tests and benchmarks).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        known = admin.list_topics(timeout=timeout_s).topics
        missing = [name for name in names if name not in known or not known[name].partitions]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise TopicCreationError(
                f"topic {missing[0]!r} was created but the cluster's metadata does not show it "
                f"after {timeout_s:g} s"
            )
        time.sleep(0.05)


def topic_sizes(cluster: Cluster, topics: list[str], timeout_s: float = 10.0) -> dict[str, int]:
    """Records held by each topic now: the sum over partitions of high minus low watermark."""
    consumer = _inspector(cluster, "usage-pipeline-inspect")
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


def consumer_lag(cluster: Cluster, group: str, topics: list[str], timeout_s: float = 10.0) -> int:
    """Records in ``topics`` that ``group`` has not committed yet (all of them if it never did)."""
    progress = GroupProgress(cluster, group, topics)
    try:
        return progress.now(timeout_s)[1]
    finally:
        progress.close()


class GroupProgress:
    """Where a consumer group stands in some topics, looked at again and again through one
    client (a progress bar's poll should not cost a login each time)."""

    def __init__(self, cluster: Cluster, group: str, topics: list[str]) -> None:
        self.topics = topics
        self._consumer = _inspector(cluster, group)

    def now(self, timeout_s: float = 10.0) -> tuple[int, int]:
        """The sum of the group's resume positions (offsets: transaction markers count too)
        and its lag."""
        positions = _positions(self._consumer, self.topics, timeout_s).values()
        lag = sum(high - position for position, high in positions if high > position)
        return sum(position for position, _ in positions), lag

    def close(self) -> None:
        """Release the client."""
        self._consumer.close()


def committed_positions(
    cluster: Cluster, group: str, topics: list[str], timeout_s: float = 10.0
) -> dict[tuple[str, int], int]:
    """Per (topic, partition), where ``group`` resumes: its committed offset, else the log start."""
    consumer = _inspector(cluster, group)
    try:
        return {
            key: position for key, (position, _) in _positions(consumer, topics, timeout_s).items()
        }
    finally:
        consumer.close()


def _inspector(cluster: Cluster, group: str) -> Consumer:
    """A consumer that only looks at offsets: it subscribes to nothing and commits nothing;
    ``group`` is the group whose commits it reads."""
    return Consumer({**connection_config(cluster), "group.id": group, "logger": LIBRDKAFKA_LOG})


def _positions(
    consumer: Consumer, topics: list[str], timeout_s: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """Per partition of ``topics``: the group's resume position and the high watermark."""
    metadata = consumer.list_topics(timeout=timeout_s)
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        if topic in metadata.topics
        for p in metadata.topics[topic].partitions
    ]
    committed = _retrying(lambda: consumer.committed(partitions, timeout=timeout_s))
    positions = {}
    for tp in committed:
        low, high = _watermarks(consumer, tp, timeout_s)
        positions[(tp.topic, tp.partition)] = (max(tp.offset, low), high)
    return positions


def read_range(
    cluster: Cluster, topic: str, partition: int, start: int, end: int, group: str
) -> list[Message]:
    """The records a partition holds from offset ``start`` up to, not including, ``end``.

    A compacted topic may hold none of them. Records deleted by retention are not there to
    read: reading starts at the log start if that is later. ``group`` only names the client
    to the broker's ACLs; nothing is committed.
    """
    consumer = _reader(cluster, group)
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        records: list[Message] = []
        while True:
            message = consumer.poll(10.0)
            if message is None:
                raise KafkaException(
                    KafkaError(KafkaError._TIMED_OUT, f"reading {topic}[{partition}]")
                )
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                return records
            if error is not None:
                raise KafkaException(error)
            if message.offset() >= end:
                return records
            records.append(message)
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


def read_topic(
    cluster: Cluster, topic: str, timeout_s: float = 1.0, group: str = "usage-pipeline-reader"
) -> list[Message]:
    """Every record a topic holds now, from the start to the end of each partition.

    Nothing is committed; ``group`` only names the client to the broker's ACLs.
    """
    return list(iter_topic(cluster, topic, timeout_s, group))


def iter_topic(
    cluster: Cluster, topic: str, timeout_s: float = 1.0, group: str = "usage-pipeline-reader"
) -> Iterator[Message]:
    """The records of :func:`read_topic` one at a time, for topics too big to hold in memory."""
    consumer = _reader(cluster, group)
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics[topic]
        if metadata.error is not None:  # e.g. not allowed to see the topic
            raise KafkaException(metadata.error)
        partitions = metadata.partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end: set[int] = set()
        while len(at_end) < len(partitions):
            for message in consumer.consume(1000, timeout=timeout_s):
                error = message.error()
                if error is None:
                    yield message
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                else:
                    raise KafkaException(error)
    finally:
        consumer.close()


def _reader(cluster: Cluster, group: str) -> Consumer:
    """A consumer that reads assigned partitions to their end and commits nothing."""
    return Consumer(
        {
            **connection_config(cluster),
            "group.id": group,
            "enable.partition.eof": True,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # Only what committed transactions wrote: aborted outputs never count.
            "isolation.level": "read_committed",
            "logger": LIBRDKAFKA_LOG,
        }
    )
