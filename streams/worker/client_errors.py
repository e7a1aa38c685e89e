"""librdkafka's error callback for the worker's clients: fatal errors are kept to be raised."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException

log = logging.getLogger(__name__)


class ClientErrors:
    """librdkafka's error callback: logs, and keeps a fatal error for the loop to raise.

    A fatal consumer error (e.g. a static member fenced after a coordinator failover) leaves
    ``consume`` returning nothing; without this the worker would idle forever.
    """

    def __init__(self) -> None:
        self.fatal: KafkaError | None = None

    def __call__(self, error: KafkaError) -> None:
        """Remember a fatal error; log the others (a broker away, a rebalance)."""
        if error.fatal():
            self.fatal = error
            log.error("fatal client error: %s", error.str())
        else:
            log.info("client error: %s", error.str())

    def raise_fatal(self) -> None:
        """Raise the fatal error, if one happened."""
        if self.fatal is not None:
            raise KafkaException(self.fatal)
