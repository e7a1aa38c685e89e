"""Wire one worker process: its clients, processor, salts, health server; run until stopped.

Snuba-style: the whole consumer is assembled here in one short function, so what a worker is
made of can be read in one place.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

from confluent_kafka import Consumer, Producer

from usage_pipeline.broker.admin import admin_client, describe_cluster
from usage_pipeline.broker.clients import producer_config
from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.security import Cluster, connection_config
from usage_pipeline.schemas.contracts import load_contracts
from usage_pipeline.streams.anonymize.pseudonym import Pseudonymizer
from usage_pipeline.streams.anonymizer import Anonymizer
from usage_pipeline.streams.gc_rare import rare_collections
from usage_pipeline.streams.policy.model import Policy
from usage_pipeline.streams.processor import Processor
from usage_pipeline.streams.visitors import VisitorSalts
from usage_pipeline.streams.worker.client_errors import ClientErrors
from usage_pipeline.streams.worker.config import WorkerConfig
from usage_pipeline.streams.worker.health import Health, HealthServer, StreamMetrics, Watchdog
from usage_pipeline.streams.worker.loop import StreamLoop
from usage_pipeline.streams.worker.salt_log import KafkaSaltLog
from usage_pipeline.streams.worker.transaction import Transactions

log = logging.getLogger(__name__)


MAX_LINGER_S = 0.5


class TopicLayoutError(RuntimeError):
    """The raw topics are missing or do not have one partition count between them."""


class _StopFlag:
    """Set by SIGTERM or SIGINT; the loop finishes its round, commits and leaves."""

    def __init__(self) -> None:
        self.set = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: committing and stopping", signal.Signals(signum).name)
        self.set = True

    def __call__(self) -> bool:
        return self.set


def consent_partitions(cluster: Cluster, raw_topics: tuple[str, ...]) -> int:
    """The raw topics' common partition count; raises TopicLayoutError when they differ."""
    counts = describe_cluster(cluster).topics
    missing = [topic for topic in raw_topics if topic not in counts]
    if missing:
        raise TopicLayoutError(f"raw topics missing: {', '.join(missing)}")
    found = {counts[topic] for topic in raw_topics}
    if len(found) != 1:
        layout = ", ".join(f"{topic}={counts[topic]}" for topic in raw_topics)
        raise TopicLayoutError(
            "the raw topics must have one partition count, so that partition p of each holds "
            f"the same subjects: {layout}"
        )
    return found.pop()


def _linger_ms(commit_interval_s: float) -> int:
    """How long the producer lets outputs wait: up to the commit interval, at most 0.5 s.

    Outputs become visible at the commit, whose flush sends at once whatever lingers, so
    waiting costs no latency; batches of a few records per partition (at 20 ms) grow, and
    librdkafka's threads use about a third of the CPU per record. Past 0.5 s batches gain
    little, outputs would only wait in memory, and librdkafka requires the linger to stay below
    the delivery timeout.
    """
    return int(min(commit_interval_s, MAX_LINGER_S) * 1000)


def run_worker(
    config: WorkerConfig,
    cluster: Cluster,
    producer_settings: ProducerSettings,
    policy: Policy,
    pseudonymizer: Pseudonymizer,
) -> None:
    """Run one transactional worker until SIGTERM or SIGINT."""
    stopping = _StopFlag()
    partitions = consent_partitions(cluster, config.loop.raw_topics)
    connection = connection_config(cluster)
    client_id = config.member_id
    errors = ClientErrors()
    consumer = Consumer(
        {
            **connection,
            "error_cb": errors,
            "client.id": client_id,
            "group.id": config.group,
            "group.instance.id": config.member_id,
            # Partition p of every raw topic on one member: events meet their consent.
            "partition.assignment.strategy": "range",
            "isolation.level": "read_committed",
            # The end of a partition lies past its transaction markers: it is reported.
            "enable.partition.eof": True,
            # librdkafka's default (1 s) leaves a partition unfetched that long after its
            # queue drained.
            "fetch.queue.backoff.ms": 20,
            # Prefetch at most 16 MiB (librdkafka's default is 64): memory stays flat.
            "queued.max.messages.kbytes": 16384,
            # A fetch hands over up to this much of one topic-partition at once (compressed:
            # about 450 of our records; librdkafka's default, 1 MiB, is about 7,000). Records
            # a partition's other topics have not caught up with are held (``ordering``):
            # small fetches keep the topics of a partition close in time, so fewer wait.
            # 1M events caught up: 260k held and 594 MiB peak at the default, 59k and 339 MiB.
            "max.partition.fetch.bytes": 65536,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": config.session_timeout_ms,
        }
    )
    producer = Producer(
        {
            **producer_config(cluster, producer_settings, client_id),
            "error_cb": errors,
            "transactional.id": config.member_id,
            "transaction.timeout.ms": int(config.transaction_timeout_s * 1000),
            # librdkafka requires it: an output must be delivered within its transaction.
            "delivery.timeout.ms": int(config.transaction_timeout_s * 1000),
            "linger.ms": max(
                producer_settings.linger_ms, _linger_ms(config.loop.commit_interval_s)
            ),
        }
    )
    salt_log = KafkaSaltLog(
        config.salts_topic,
        {**connection, "group.id": f"{config.group}-salts", "isolation.level": "read_committed"},
        producer_config(cluster, producer_settings, f"{client_id}-salts"),
        config.salt_lifetime_s,
    )
    salts = VisitorSalts(config.salt_lifetime_s, log=salt_log)
    processor = Processor(
        Anonymizer(policy, pseudonymizer, salts),
        load_contracts(),
        namespace=config.namespace,
        consent_partitions=partitions,
        max_event_bytes=producer_settings.max_event_bytes,
    )
    health, metrics = Health(config.liveness_timeout_s), StreamMetrics()
    server = None
    if config.metrics_address is not None:
        server = HealthServer(*config.metrics_address, health, metrics)
        server.start()
    Watchdog(health).start()
    transactions = Transactions(producer, consumer, config.transaction_timeout_s)
    loop = StreamLoop(
        config.loop, consumer, transactions, admin_client(cluster), processor, salts, health,
        metrics, errors,
    )  # fmt: skip
    log.info(
        "worker %s in group %s: %d partitions per raw topic, transactional id %s",
        config.instance, config.group, partitions, config.member_id,
    )  # fmt: skip
    try:
        with rare_collections():
            loop.run(stopping)
    finally:
        salt_log.close()
        if server is not None:
            server.stop()
