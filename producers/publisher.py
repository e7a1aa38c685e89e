"""The producer library services embed: validate, serialize, key by subject, send, report.

confluent-kafka underneath: idempotent (acks=all), batched and compressed, murmur2
partitioning like Kafka's Java client, a bounded queue that blocks when full, and
delivery failures that reach the caller instead of vanishing.

Publishing is two steps. ``EventPreparer`` does everything before the client: one contract
check (a compiled validator; error text only for an invalid event), one serialization, the
topic and the key. ``EventPublisher`` hands the prepared record to librdkafka, which reports
back failures only, unless the caller asked to hear of every delivery.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import orjson
from confluent_kafka import KafkaError, Message, Producer

from usage_pipeline.broker.clients import PARTITION_UA, produce_blocking, producer_config
from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.security import Cluster
from usage_pipeline.schemas.contracts import (
    DEFAULT_MAX_EVENT_BYTES,
    ROOT,
    Contracts,
    ContractViolation,
    load_contracts,
)
from usage_pipeline.schemas.keys import consent_key, partition_for, subject_id
from usage_pipeline.schemas.topics import CONSENT_FAMILY, family_of, raw_topic

log = logging.getLogger(__name__)

POLL_EVERY = 1000
# librdkafka's per-event delivery report: (error or None, the produced message).
EventCallback = Callable[[KafkaError | None, Message], None]


@dataclass(frozen=True)
class Delivery:
    """The broker's answer for one event: where it landed, or why it failed."""

    event_id: str
    topic: str
    partition: int
    offset: int
    error: str | None

    @property
    def ok(self) -> bool:
        """True when the broker acknowledged the event."""
        return self.error is None


class DeliveryFailedError(RuntimeError):
    """Some events were not acknowledged; carries their deliveries (ids and reasons only)."""

    def __init__(self, failures: list[Delivery]) -> None:
        self.failures = failures
        first = failures[0]
        super().__init__(
            f"{len(failures)} event(s) were not delivered; first: event {first.event_id} "
            f"to {first.topic}: {first.error}"
        )


@dataclass
class PublishStats:
    """Counters of one publisher's life: queued, acknowledged, failed; queued by topic."""

    sent: int = 0
    delivered: int = 0
    failed: int = 0
    sent_by_topic: dict[str, int] = field(default_factory=dict)


@dataclass
class BatchOutcome:
    """What ``publish_batch`` did: events queued by type, and the rejected ones by index."""

    queued: Counter[str] = field(default_factory=Counter)
    rejected: list[tuple[int, ContractViolation]] = field(default_factory=list)


Prepared = tuple[str, bytes, bytes, str | None]
"""An event ready for the client: topic, key, JSON value, and, for a consent record, the
subject whose partition it must take (None: the partitioner places it by its key)."""


class EventPreparer:
    """Validate, serialize and route events: all of publishing that needs no client."""

    def __init__(
        self,
        contracts: Contracts,
        namespace: str = "",
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.contracts = contracts
        self.max_event_bytes = max_event_bytes
        consent_topic = raw_topic(CONSENT_FAMILY, namespace)
        self._routes = {
            event_type: (topic, topic == consent_topic)
            for event_type in contracts.event_types
            for topic in [raw_topic(family_of(event_type), namespace)]
        }

    def prepare(self, event: Mapping[str, Any]) -> Prepared:
        """Check ``event`` against its contract and serialize it once; raise if invalid."""
        self.contracts.validate(event)
        return self._route(event, orjson.dumps(event))

    def prepare_json(self, payload: bytes | str) -> tuple[dict, Prepared]:
        """Parse, size-check and validate one JSON document; the event and its record (the
        document as given, not serialized again)."""
        event = self.contracts.parse(payload, max_bytes=self.max_event_bytes)
        return event, self._route(event, payload.encode() if isinstance(payload, str) else payload)

    def _route(self, event: Mapping[str, Any], value: bytes) -> Prepared:
        if len(value) > self.max_event_bytes:
            raise ContractViolation(
                ROOT, f"event is {len(value)} bytes, over the {self.max_event_bytes} limit"
            )
        subject = subject_id(event)
        topic, consent = self._routes[event["event_type"]]
        if consent:
            key = consent_key(subject, event["properties"]["purpose"])
            return topic, key.encode(), value, subject
        return topic, subject.encode(), value, None


class EventPublisher:
    """Publish contract-checked events to their raw topics.

    Invalid events raise ``ContractViolation`` and nothing of them is sent. Delivery
    outcomes go to ``on_delivery`` if given; otherwise failures are kept and ``flush``
    raises ``DeliveryFailedError``.
    """

    def __init__(
        self,
        cluster: Cluster,
        settings: ProducerSettings | None = None,
        *,
        contracts: Contracts | None = None,
        on_delivery: Callable[[Delivery], None] | None = None,
        client_id: str = "usage-pipeline-producer",
        namespace: str = "",
        report_every_delivery: bool = False,
    ) -> None:
        self.settings = settings or ProducerSettings()
        self.contracts = contracts or load_contracts()
        self.preparer = EventPreparer(self.contracts, namespace, self.settings.max_event_bytes)
        self._sent = 0
        self._sent_by_topic: Counter[str] = Counter()
        self._failed = 0
        self._on_delivery = on_delivery
        self._failures: list[Delivery] = []
        config = producer_config(cluster, self.settings, client_id)
        config["on_delivery"] = self._delivered
        if on_delivery is None and not report_every_delivery:
            # A report per acknowledged event costs a Python call each (about 10% of
            # publishing); without a caller to tell, only failures are reported.
            config["delivery.report.only.error"] = True
        self._producer = Producer(config)
        self._partition_counts: dict[str, int] = {}

    @property
    def stats(self) -> PublishStats:
        """The counters now; an event is delivered once acknowledged and no longer queued."""
        pending = len(self._producer)  # queued, in flight, or reported but not yet served
        delivered = self._sent - self._failed - pending
        return PublishStats(self._sent, delivered, self._failed, dict(self._sent_by_topic))

    def publish(self, event: Mapping[str, Any], on_delivery: EventCallback | None = None) -> None:
        """Validate ``event`` and queue it; blocks while the queue is full.

        ``on_delivery``, when given, hears this event's outcome instead of the publisher's own
        accounting (``stats``, ``flush`` raising): the caller then owns the outcome. It needs a
        publisher made with ``report_every_delivery``.
        """
        self._send(*self.preparer.prepare(event), on_delivery)

    def publish_json(self, payload: bytes | str, on_delivery: EventCallback | None = None) -> dict:
        """Parse, size-check and validate one JSON document, then queue it; returns the event."""
        event, prepared = self.preparer.prepare_json(payload)
        self._send(*prepared, on_delivery)
        return event

    def publish_batch(
        self, items: Iterable[object], on_delivery: EventCallback | None = None
    ) -> BatchOutcome:
        """Validate and queue each event of a batch in one pass; the invalid ones are named in
        the outcome by index and nothing of them is sent.

        An item is an event (a mapping), one JSON document (bytes: parsed as by
        ``publish_json``), or a ``ContractViolation`` already found for it (by strict decoding
        of the batch), which is passed through as its rejection.
        """
        outcome = BatchOutcome()
        queued, rejected = outcome.queued, outcome.rejected
        prepare, prepare_json, send = self.preparer.prepare, self.preparer.prepare_json, self._send
        for index, item in enumerate(items):
            try:
                if isinstance(item, ContractViolation):
                    raise item
                if isinstance(item, bytes):
                    event, prepared = prepare_json(item)
                else:
                    event, prepared = item, prepare(item)  # type: ignore[arg-type]
            except ContractViolation as violation:
                rejected.append((index, violation))
                continue
            send(*prepared, on_delivery)
            queued[event["event_type"]] += 1
        return outcome

    @property
    def queued(self) -> int:
        """Events waiting for the broker's acknowledgement (librdkafka's queue)."""
        return len(self._producer)

    def poll(self, timeout_s: float = 0.0) -> int:
        """Serve delivery reports for up to ``timeout_s``; returns how many were served."""
        return self._producer.poll(timeout_s)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until every queued event is acknowledged or failed; raise if any failed."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise TimeoutError(f"{remaining} event(s) still unacknowledged after {timeout_s:g} s")
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryFailedError(failures)

    def close(self) -> None:
        """Flush; the publisher is not used afterwards."""
        self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self,
        topic: str,
        key: bytes,
        value: bytes,
        placement: str | None,
        on_delivery: EventCallback | None = None,
    ) -> None:
        partition = (
            PARTITION_UA if placement is None else partition_for(placement, self._partitions(topic))
        )
        # The usual case without produce_blocking's extra call per event, and without an
        # on_delivery keyword when there is none (parsing it costs a third of the call).
        try:
            if on_delivery is None:
                self._producer.produce(topic, value, key, partition)
            else:
                self._producer.produce(topic, value, key, partition, on_delivery=on_delivery)
        except BufferError:
            produce_blocking(self._producer, topic, value, key, partition, on_delivery=on_delivery)
        sent = self._sent = self._sent + 1
        self._sent_by_topic[topic] += 1
        if sent % POLL_EVERY == 0:  # serving reports per event costs more than sending
            self._producer.poll(0)

    def _partitions(self, topic: str) -> int:
        count = self._partition_counts.get(topic)
        if count is None:
            metadata = self._producer.list_topics(topic, timeout=10)
            count = len(metadata.topics[topic].partitions)
            if count == 0:
                raise RuntimeError(f"topic {topic!r} does not exist; create the raw topics first")
            self._partition_counts[topic] = count
        return count

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        """Delivery report of librdkafka; the event id is read back only when someone needs it."""
        if error is None:
            if self._on_delivery is None:
                return
            delivery = Delivery(
                _event_id(message), message.topic(), message.partition(), message.offset(), None
            )
        else:
            self._failed += 1
            delivery = Delivery(_event_id(message), message.topic(), -1, -1, error.str())
            log.warning(
                "event %s not delivered to %s: %s", delivery.event_id, delivery.topic, error.str()
            )
        if self._on_delivery is not None:
            self._on_delivery(delivery)
        elif not delivery.ok:
            self._failures.append(delivery)


def _event_id(message: Message) -> str:
    """The event id of a produced record, read back from its value."""
    try:
        return str(orjson.loads(message.value())["event_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "unknown"
