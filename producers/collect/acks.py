"""librdkafka's delivery reports, awaited from asyncio; and whether Kafka can take events now.

A request publishes its events with one ``Acknowledgements`` as their delivery callback and
awaits it: the callback runs in whichever thread serves the producer (the poll thread here,
or the publisher's own periodic poll), counts under a lock, and wakes the event loop once,
when the last event is answered. ``KafkaLink`` runs the poll thread and a probe thread that
asks the cluster for metadata every second, so that while Kafka is unreachable requests are
refused at once with a 503 instead of waiting for their delivery timeout.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from confluent_kafka import KafkaError, Message

from usage_pipeline.producers.publisher import EventPublisher

log = logging.getLogger(__name__)

POLL_S = 0.05
PROBE_EVERY_S = 1.0


class Acknowledgements:
    """The outcome of a group of events: resolves when every one was acknowledged or failed."""

    __slots__ = ("_future", "_lock", "_loop", "_pending", "failed", "published")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._lock = threading.Lock()
        self._pending = 1  # the seal: nothing resolves before ``seal`` says all were sent
        self.published = 0
        self.failed = 0

    def expect(self) -> None:
        """One more event is about to be produced with this callback."""
        with self._lock:
            self._pending += 1
            self.published += 1

    def forget(self) -> None:
        """The event announced by ``expect`` was not produced after all."""
        with self._lock:
            self._pending -= 1
            self.published -= 1

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's delivery report for one event."""
        with self._lock:
            self._pending -= 1
            if error is not None:
                self.failed += 1
            done = self._pending == 0
        if done:
            self._loop.call_soon_threadsafe(_resolve, self._future)

    async def wait(self, timeout_s: float) -> bool:
        """Seal and wait; True when every produced event was acknowledged in time."""
        self(None, None)  # type: ignore[arg-type]  # the seal's own "report"
        try:
            await asyncio.wait_for(asyncio.shield(self._future), timeout_s)
        except TimeoutError:
            return False
        return self.failed == 0


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class KafkaLink:
    """Serves the publisher's delivery reports and watches whether the cluster answers."""

    def __init__(self, publisher: EventPublisher, probe: Callable[[], None]) -> None:
        self.publisher = publisher
        self._probe = probe
        self._stop = threading.Event()
        self.reachable = True
        self._threads = [
            threading.Thread(target=self._poll, name="collect-poll", daemon=True),
            threading.Thread(target=self._watch, name="collect-probe", daemon=True),
        ]

    def start(self) -> None:
        """Start the poll and probe threads."""
        for thread in self._threads:
            thread.start()

    def unreachable(self) -> None:
        """A delivery failed or timed out: refuse new events until the probe sees Kafka again."""
        self.reachable = False

    def stop(self, flush_timeout_s: float) -> int:
        """Stop the threads, then flush; returns the events still unacknowledged."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        try:
            self.publisher.flush(flush_timeout_s)
        except (TimeoutError, RuntimeError) as exc:  # outcomes were reported to their requests
            log.warning("collector stopped with events unacknowledged: %s", type(exc).__name__)
        return self.publisher.queued

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.publisher.poll(POLL_S)

    def _watch(self) -> None:
        while not self._stop.wait(PROBE_EVERY_S):
            try:
                self._probe()
            except Exception:  # any failure means: not reachable now
                if self.reachable:
                    log.warning("Kafka does not answer: refusing events until it does")
                self.reachable = False
            else:
                if not self.reachable:
                    log.info("Kafka answers again: accepting events")
                self.reachable = True
