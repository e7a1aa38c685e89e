"""librdkafka's delivery reports, served on the event loop; and whether Kafka can take events.

A request publishes its events with one ``Acknowledgements`` as their delivery callback and
awaits it. The reports are served by ``KafkaLink``'s task on the event loop itself, not by a
thread: a report served in another thread calls back into Python once per event, and each of
those calls has to take the GIL from the busy event loop, which hands it over only every
switch interval (5 ms), so a batch of 100 waited up to half a second for its reports. On the
loop the callbacks run between requests, count without a lock and resolve the request's
future directly. ``KafkaLink`` also runs a probe thread that asks the cluster for metadata
every second, so that while Kafka is unreachable requests are refused at once with a 503
instead of waiting for their delivery timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, Message

from usage_pipeline.producers.publisher import EventPublisher

log = logging.getLogger(__name__)

SERVE_S = 0.001  # report serving interval while events await their acknowledgement
IDLE_S = 0.05  # and while none do (a failure of no request's event is still counted)
PROBE_EVERY_S = 1.0


class Acknowledgements:
    """The outcome of a group of events: resolves when every one was acknowledged or failed.

    Used on the event loop's thread only (``KafkaLink`` serves the reports there).
    """

    __slots__ = ("_future", "_pending", "failed", "published")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._future: asyncio.Future[None] = loop.create_future()
        self._pending = 1  # the seal: nothing resolves before ``wait`` says all were sent
        self.published = 0
        self.failed = 0

    def expect(self, count: int = 1) -> None:
        """``count`` more events are about to be produced with this callback."""
        self._pending += count
        self.published += count

    def forget(self, count: int = 1) -> None:
        """``count`` events announced by ``expect`` were not produced after all."""
        self._pending -= count
        self.published -= count

    def __call__(self, error: KafkaError | None, message: Message | None) -> None:
        """librdkafka's delivery report for one event."""
        self._pending -= 1
        if error is not None:
            self.failed += 1
        if self._pending == 0 and not self._future.done():
            self._future.set_result(None)

    async def wait(self, timeout_s: float) -> bool:
        """Seal and wait; True when every produced event was acknowledged in time."""
        self(None, None)  # the seal's own "report"
        if not self._future.done():
            try:
                async with asyncio.timeout(timeout_s):  # cancels the future: reports then skip it
                    await self._future
            except TimeoutError:
                return False
        return self.failed == 0


class KafkaLink:
    """Serves the publisher's delivery reports on the event loop and watches the cluster."""

    def __init__(self, publisher: EventPublisher, probe: Callable[[], None]) -> None:
        self.publisher = publisher
        self._probe = probe
        self._stop = threading.Event()
        self.reachable = True
        self._wake: asyncio.Event | None = None
        self._server: asyncio.Task[None] | None = None
        self._watcher = threading.Thread(target=self._watch, name="collect-probe", daemon=True)

    def start(self) -> None:
        """Start serving reports on the running event loop, and the probe thread."""
        self._wake = asyncio.Event()
        self._server = asyncio.get_running_loop().create_task(self._serve())
        self._watcher.start()

    def wake(self) -> None:
        """Events were just produced: serve their reports from now on."""
        if self._wake is not None:
            self._wake.set()

    def unreachable(self) -> None:
        """A delivery failed or timed out: refuse new events until the probe sees Kafka again."""
        self.reachable = False

    async def stop(self, flush_timeout_s: float) -> int:
        """Stop the probe, serve reports until every event is answered or the time is up;
        returns the events still unacknowledged."""
        self._stop.set()
        await asyncio.to_thread(self._watcher.join)
        if self._server is not None:
            self._server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._server
        deadline = time.monotonic() + flush_timeout_s
        while self.publisher.queued and time.monotonic() < deadline:
            self.publisher.poll(0)
            await asyncio.sleep(SERVE_S)
        return self.publisher.queued

    async def _serve(self) -> None:
        assert self._wake is not None
        while True:
            try:
                self.publisher.poll(0)
            except Exception as exc:  # a callback's error must not stop every later report
                log.error("serving delivery reports failed: %s", type(exc).__name__)
            if self.publisher.queued:
                await asyncio.sleep(SERVE_S)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_S):
                    await self._wake.wait()

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
