"""One Kafka transaction at a time: outputs and input offsets committed together, or neither.

The error handling is the one librdkafka and confluent-kafka's EOS example prescribe:
a retriable error retries the same call, an error that requires an abort aborts (the caller
then rewinds its input and state to the last commit), and a fatal error (this producer was
fenced by a newer instance with the same ``transactional.id``) ends the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from usage_pipeline.broker.clients import PARTITION_UA, produce_blocking
from usage_pipeline.streams.output import Output

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_PAUSE_S = 0.5


class FatalTransactionError(RuntimeError):
    """The producer cannot go on (fenced, or a fatal broker error); the process must exit."""


class Transactions:
    """A transactional producer that begins a transaction with the first output or offset."""

    def __init__(self, producer: Producer, consumer: Consumer, timeout_s: float) -> None:
        self._producer = producer
        self._consumer = consumer
        self._timeout_s = timeout_s
        self.open = False
        self._call(lambda: producer.init_transactions(timeout_s))

    def produce(self, outputs: Sequence[Output]) -> None:
        """Add outputs to the open transaction (opening one if there are any)."""
        if not outputs:
            return
        self.begin()
        produce = self._producer.produce
        for output in outputs:
            # The common case (a clean record: placed by its key, no headers) in the shortest
            # call: keyword arguments cost the C extension about 1 us a record to parse.
            if output.partition is None and output.headers is None:
                try:
                    produce(output.topic, output.value, output.key)
                    continue
                except BufferError:
                    pass  # the queue is full: wait for room below
            partition = PARTITION_UA if output.partition is None else output.partition
            produce_blocking(
                self._producer, output.topic, output.value, output.key, partition,
                headers=output.headers,
            )  # fmt: skip

    def begin(self) -> None:
        """Open a transaction unless one is open."""
        if not self.open:
            self._producer.begin_transaction()
            self.open = True

    def poll(self) -> None:
        """Serve delivery reports (librdkafka needs it while a long transaction fills)."""
        self._producer.poll(0)

    def commit(self, offsets: list[TopicPartition]) -> bool:
        """Commit the open transaction with ``offsets`` as the group's next positions.

        True when committed; False when it had to be aborted (nothing of it is visible and
        the group's offsets did not move: rewind to them). Raises FatalTransactionError.
        """
        if not self.open:
            return True
        try:
            self._call(
                lambda: self._producer.send_offsets_to_transaction(
                    offsets, self._consumer.consumer_group_metadata(), self._timeout_s
                )
            )
            self._call(lambda: self._producer.commit_transaction(self._timeout_s))
        except _AbortRequiredError as exc:
            log.warning("transaction aborted (%s); rewinding to the last commit", exc)
            self.abort()
            return False
        self.open = False
        return True

    def abort(self) -> None:
        """Abort the open transaction, if any."""
        if self.open:
            self._call(lambda: self._producer.abort_transaction(self._timeout_s))
            self.open = False

    def _call(self, call: Callable[[], T]) -> T:
        """Run a transactional call, retrying what is retriable for as long as a transaction
        may live; past that the broker has aborted it anyway, and the process must go."""
        deadline = time.monotonic() + self._timeout_s
        while True:
            try:
                return call()
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.retriable() and time.monotonic() < deadline:
                    log.info("retrying a transactional call: %s", error.str())
                    time.sleep(RETRY_PAUSE_S)
                    continue
                if error.retriable():
                    raise FatalTransactionError(
                        f"still failing after {self._timeout_s:g} s: {error.str()}"
                    ) from exc
                if error.txn_requires_abort():
                    raise _AbortRequiredError(error.str()) from exc
                raise FatalTransactionError(error.str()) from exc


class _AbortRequiredError(Exception):
    """The transaction must be aborted and its input processed again."""
