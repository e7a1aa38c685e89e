"""The visitor salts every worker shares: a compacted topic, and first-offer-wins agreement.

A worker that needs a day's salt offers a random one: it appends it under a key of its own
(``<day>/<random>``) and reads the topic up to its offer. The first offer of the day in the
log, still alive, is the day's salt: every worker reads the same log in the same order, so
all agree, and a restarted worker finds the salt again. Offers are written outside the stream's
transaction because a transaction's records stay invisible until it commits, and agreement
needs to read them at once; an offer from an aborted batch is harmless, since the batch is
redone with the salt agreed.

Destruction: at the end of a salt's lifetime (48 h) each worker drops it from memory, and
tombstones every offer of that day. The topic is ``compact,delete`` with ``retention.ms``
equal to the lifetime, so a salt is also deleted from disk when its segment expires even if
no worker ever tombstones it. The bound is in docs/stream.md.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

log = logging.getLogger(__name__)

READ_TIMEOUT_S = 120.0


class SaltLogError(RuntimeError):
    """The salts topic could not be written or read in time."""


class KafkaSaltLog:
    """The ``SaltLog`` of every worker, kept in a one-partition compacted topic."""

    def __init__(
        self,
        topic: str,
        consumer_config: dict[str, object],
        producer_config: dict[str, object],
        lifetime_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic = topic
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._consumer = Consumer(
            {**consumer_config, "enable.partition.eof": True, "enable.auto.commit": False}
        )
        self._partition = TopicPartition(topic, 0, OFFSET_BEGINNING)
        self._consumer.assign([self._partition])
        self._producer = Producer(producer_config)
        self._offers: dict[str, dict[bytes, tuple[int, bytes, float]]] = {}
        self._read_until(self._end_offset())

    def agree(self, day: str, salt: bytes, made_at: float) -> tuple[bytes, float]:
        """Offer ``salt`` for ``day``; the day's first live offer in the log."""
        key = f"{day}/{uuid.uuid4().hex}".encode()
        value = orjson.dumps({"salt": base64.b64encode(salt).decode(), "made_at": made_at})
        offset = self._append(key, value)
        self._read_until(offset + 1)
        live = [
            (position, salt, made)
            for position, salt, made in self._offers.get(day, {}).values()
            if made + self.lifetime_s > self._clock()
        ]
        _, salt, made = min(live)
        return salt, made

    def destroy(self, days: list[str]) -> None:
        """Tombstone every offer of ``days`` (other workers may do the same: that is harmless)."""
        self._read_until(self._end_offset())
        for day in days:
            for key in self._offers.pop(day, {}):
                self._producer.produce(self.topic, value=None, key=key, partition=0)
        if self._producer.flush(READ_TIMEOUT_S):
            raise SaltLogError("the broker did not acknowledge the salt tombstones")
        log.info("visitor salts destroyed for %s", ", ".join(days))

    def close(self) -> None:
        """Release the clients."""
        self._consumer.close()
        self._producer.flush(READ_TIMEOUT_S)

    def _append(self, key: bytes, value: bytes) -> int:
        delivered: list[int] = []
        failed: list[str] = []

        def report(error: KafkaError | None, message: object) -> None:
            if error is None:
                delivered.append(message.offset())
            else:
                failed.append(error.str())

        self._producer.produce(self.topic, value=value, key=key, partition=0, on_delivery=report)
        self._producer.flush(READ_TIMEOUT_S)
        if not delivered:
            raise SaltLogError(f"could not offer a visitor salt: {failed or 'timed out'}")
        return delivered[0]

    def _end_offset(self) -> int:
        """The topic's end; a topic created a moment ago may have no leader yet: wait."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while True:
            try:
                _, high = self._consumer.get_watermark_offsets(self._partition, timeout=5)
                return high
            except KafkaException as exc:
                # Any error (librdkafka does not flag NOT_LEADER_FOR_PARTITION as retriable)
                # is waited out: a fresh topic's partition may take a while to get a leader.
                if time.monotonic() > deadline:
                    raise SaltLogError(f"cannot read the end of {self.topic}") from exc
                time.sleep(0.5)

    def _read_until(self, end: int) -> None:
        """Read the topic up to ``end`` (exclusive), keeping each day's offers."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        while self._position() < end:
            if time.monotonic() > deadline:
                raise SaltLogError(f"could not read {self.topic} up to offset {end}")
            # poll, not consume: consume() waits out its whole timeout unless its count of
            # records comes, and a new day's agreement waits for one record (a worker catching
            # up on 30 days paid 50 ms a day).
            message = self._consumer.poll(0.05)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("reading visitor salts: %s", message.error().str())
                continue
            self._keep(message.key() or b"", message.value(), message.offset())

    def _keep(self, key: bytes, value: bytes | None, offset: int) -> None:
        day = key.decode(errors="replace").partition("/")[0]
        if value is None:
            self._offers.get(day, {}).pop(key, None)
            return
        offer = orjson.loads(value)
        salt = base64.b64decode(offer["salt"])
        self._offers.setdefault(day, {})[key] = (offset, salt, float(offer["made_at"]))

    def _position(self) -> int:
        offset = self._consumer.position([self._partition])[0].offset
        return max(offset, 0)
