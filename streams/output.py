"""Produce the stream's outputs with confluent-kafka, and wait until the broker has them all.

faust's own producer awaits every send; librdkafka queues them in C. The worker hands a
whole batch to this producer and waits for every acknowledgement before faust may commit
the batch's offsets.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, Message, Producer

from broker.clients import produce_blocking, producer_config
from broker.security import Cluster
from streams.processor import Output
from usage_pipeline.settings import ProducerSettings


class OutputDeliveryError(RuntimeError):
    """The broker did not take some outputs; the batch must not be acknowledged."""


def send_output(producer: Producer, output: Output, **kwargs: object) -> None:
    """Queue one output record."""
    if output.partition is not None:
        kwargs["partition"] = output.partition
    produce_blocking(
        producer, output.topic, output.value, key=output.key, headers=output.headers, **kwargs
    )


class OutputProducer:
    """Queues outputs; ``flush`` returns once all are acknowledged, or raises."""

    def __init__(self, cluster: Cluster, settings: ProducerSettings, client_id: str) -> None:
        self._producer = Producer(producer_config(cluster, settings, client_id))
        self._failures: list[str] = []

    def send(self, output: Output) -> None:
        """Queue one output."""
        send_output(self._producer, output, on_delivery=self._delivered)
        self._producer.poll(0)

    def flush(self, timeout_s: float = 120.0) -> None:
        """Block until every queued output is acknowledged; raise if any was not."""
        remaining = self._producer.flush(timeout_s)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            first = failures[0] if failures else "timed out"
            raise OutputDeliveryError(
                f"{remaining} output(s) unacknowledged, {len(failures)} failed; first: {first}"
            )

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failures.append(f"{message.topic()}: {error.str()}")
