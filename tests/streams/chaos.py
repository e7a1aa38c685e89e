"""The crash test's harness: the pipeline's processes, a paced publisher, and the chaos loop.

``Chaos.run`` kills one of the two workers or the sink with SIGKILL and restarts the broker
at seeded points of the workload's progress, restarting each victim at once (same instance
id, as an orchestrator would), while it feeds every acknowledged record to the expected
outputs. Nothing here restarts a worker that stalls: the workers keep themselves going.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from tests.conftest import free_port
from tests.streams.conftest import REPO, StreamEnv
from tests.streams.crash_workload import Acked, ExpectedOutputs, RawRecord, Workload
from tests.streams.sink.conftest import POLICY, SinkEnv
from usage_pipeline.broker.admin import consumer_lag, topic_sizes
from usage_pipeline.broker.clients import producer_config
from usage_pipeline.broker.config import ProducerSettings
from usage_pipeline.broker.local import LocalBroker
from usage_pipeline.producers.publisher import Delivery, EventPublisher
from usage_pipeline.schemas.topics import raw_topics
from usage_pipeline.streams.sink.config import SinkSettings
from usage_pipeline.streams.supervisor import WorkerProcess
from usage_pipeline.streams.topics import clean_topics

# Publishing runs at most this fast and this far ahead of the worker, so that it goes on
# through the chaos, the broker restart included.
PUBLISH_RATE = 2500  # records/s
PUBLISH_AHEAD = 20_000
PACE_EVERY = 250  # records between two sleeps: a sleep costs a GIL hand-over
ACK_TIMEOUT_S = 300.0  # the broker restart and a loaded machine delay acknowledgements
# Each action falls at a random point in [start, start + 0.15] of the worker's progress.
WORKER_KILLS = (0.10, 0.40, 0.65)
SINK_KILLS = (0.20, 0.50, 0.75)
BROKER_RESTART = 0.30
WORKERS = ("a", "b")  # two worker processes in one group
# A restarted worker takes its partitions back at once (static membership); a short session
# bounds how long the broker restart leaves partitions with a member that lost its session.
# A worker stuck in librdkafka after the broker restart exits after the liveness timeout
# and is started again: keep that short too.
WORKER_ENV = {
    "USAGE_PIPELINE_STREAM__SESSION_TIMEOUT_S": "10",
    "USAGE_PIPELINE_STREAM__LIVENESS_TIMEOUT_S": "20",
}
# Small flushes: a kill lands in the middle of a write-rename-commit cycle more often.
SINK_KNOBS = {"flush_rows": 5000, "flush_seconds": 2.0}
ABSORB_CHUNK = 1000
SAMPLE_EVERY_S = 20.0


class Pipeline:
    """The worker and the sink as child processes, and the ways the test hurts them."""

    def __init__(self, broker: LocalBroker, stream: StreamEnv, sink: SinkEnv) -> None:
        self.broker, self.stream, self.sink_env = broker, stream, sink
        self.workers = [
            WorkerProcess(
                stream.bootstrap,
                stream.group,
                stream.namespace,
                stream.log_file.with_name(f"worker-{name}.log"),
                {
                    **stream.env,
                    **WORKER_ENV,
                    "USAGE_PIPELINE_STREAM__INSTANCE_ID": name,
                    # /healthz tells what a worker waits for, should the test hang.
                    "USAGE_PIPELINE_STREAM__METRICS_PORT": str(free_port()),
                },
                cwd=REPO,
            )
            for name in WORKERS
        ]
        self.kills = 0
        self.sink: subprocess.Popen[bytes] | None = None
        self.sink_group = stream.namespace + SinkSettings().group_id
        self.clean_topics = sorted(clean_topics(POLICY, stream.namespace))
        self.crashes: Counter[str] = Counter()  # exits nobody asked for

    @property
    def worker(self) -> WorkerProcess:
        """One of the workers: they share one group, so its lag is theirs."""
        return self.workers[0]

    def start(self) -> None:
        """Start the workers and the sink."""
        for worker in self.workers:
            worker.start()
        self.sink = self.sink_env.start_process(**SINK_KNOBS)

    def stop(self) -> None:
        """Stop them all gracefully."""
        for worker in self.workers:
            worker.stop()
        if self.sink is not None and self.sink.poll() is None:
            self.sink.send_signal(signal.SIGTERM)
            self.sink.wait(60)

    def kill_worker(self) -> None:
        """SIGKILL one worker (each in turn) and start it again at once."""
        worker = self.workers[self.kills % len(self.workers)]
        self.kills += 1
        assert worker.process is not None
        _kill(worker.process)
        worker.start()

    def kill_sink(self) -> None:
        """SIGKILL the sink and start a new one at once."""
        assert self.sink is not None
        _kill(self.sink)
        self.sink = self.sink_env.start_process(**SINK_KNOBS)

    def restart_broker(self) -> None:
        """Stop the broker (SIGTERM) and start it again on the same home and ports."""
        self.broker.stop()
        self.broker.start()

    def revive(self) -> None:
        """Restart a worker or sink that exited on its own, as a process supervisor would."""
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is not None:
                self.crashes["worker"] += 1
                print(f"a worker exited on its own; restarting it: {worker.log_tail(800)}")
                worker.start()
        if self.sink is not None and self.sink.poll() is not None:
            self.crashes["sink"] += 1
            print(f"the sink exited on its own; restarting it: {self.sink_log_tail(800)}")
            self.sink = self.sink_env.start_process(**SINK_KNOBS)

    def worker_position(self) -> tuple[int, int] | None:
        """Raw records stored, and those the worker has not committed; None while unknown."""
        topics = list(raw_topics(self.stream.namespace))
        try:
            return sum(topic_sizes(self.stream.bootstrap, topics).values()), self.worker.lag()
        except KafkaException:  # the broker is coming back
            return None

    def wait_for_sink(self, timeout_s: float) -> None:
        """Block until the sink has committed every clean record (it commits after writing)."""
        deadline = time.monotonic() + timeout_s
        while self._sink_lag() != 0:
            assert time.monotonic() < deadline, "the sink did not catch up" + self.logs()
            self.revive()
            time.sleep(0.5)

    def _sink_lag(self) -> int | None:
        try:
            return consumer_lag(self.stream.bootstrap, self.sink_group, self.clean_topics)
        except KafkaException:
            return None

    def sink_log_tail(self, size: int = 3000) -> str:
        """The end of the sink's log."""
        return _tail(self.sink_env.log_file, size)

    def logs(self) -> str:
        """What to read when something went wrong."""
        workers = "".join(
            f"\n--- worker {worker.log_file.name} ---\n{worker.log_tail()}"
            for worker in self.workers
        )
        return (
            f"{workers}"
            f"\n--- sink log ---\n{self.sink_log_tail()}"
            f"\n--- broker log ---\n{_tail(self.broker.log_file, 1500)}"
        )


class PacedPublisher(threading.Thread):
    """Publishes the event phase at ``PUBLISH_RATE`` from its own thread, keeping every ack."""

    def __init__(self, bootstrap: str, namespace: str, workload: Workload) -> None:
        super().__init__(name="paced-publisher", daemon=True)
        self.bootstrap, self.namespace, self.records = bootstrap, namespace, workload.events
        self.payloads = payloads_by_id(workload)
        self.acked: list[Acked] = []
        self.failed: list[Acked] = []
        self.failures: Counter[str] = Counter()  # why deliveries failed
        self.published = 0
        self.allowed = PUBLISH_AHEAD  # raised by the chaos loop as the worker goes
        self.error: BaseException | None = None

    def run(self) -> None:
        """Publish every record, then wait for every acknowledgement."""
        try:
            raw = Producer(producer_config(self.bootstrap, ProducerSettings(), "crash-test-raw"))
            with EventPublisher(
                self.bootstrap, namespace=self.namespace, on_delivery=self.delivered
            ) as publisher:
                due = time.monotonic()
                for i, record in enumerate(self.records):
                    if i % PACE_EVERY == 0:
                        while i >= self.allowed:
                            time.sleep(0.05)
                        time.sleep(max(0.0, due - time.monotonic()))
                        due = time.monotonic() + PACE_EVERY / PUBLISH_RATE
                    if isinstance(record, RawRecord):
                        raw.produce(
                            record.topic,
                            record.value,
                            key=record.key,
                            on_delivery=self.raw_delivered,
                        )
                        raw.poll(0)
                    else:
                        publisher.publish(record)
                    self.published = i + 1
                publisher.flush(ACK_TIMEOUT_S)
            assert raw.flush(ACK_TIMEOUT_S) == 0, "bad records are still unacknowledged"
        except BaseException as exc:
            self.error = exc

    def delivered(self, delivery: Delivery) -> None:
        """The producer library's report on one event."""
        record = Acked(
            delivery.topic, delivery.partition, delivery.offset, self.payloads[delivery.event_id]
        )
        if delivery.error is None:
            self.acked.append(record)
        else:
            self.failed.append(record)
            self.failures[delivery.error] += 1

    def raw_delivered(self, error: KafkaError | None, message: Message) -> None:
        """librdkafka's report on one bad record."""
        record = Acked(message.topic(), message.partition(), message.offset(), message.value())
        if error is None:
            self.acked.append(record)
        else:
            self.failed.append(record)
            self.failures[error.str()] += 1


def payloads_by_id(workload: Workload) -> dict[str, bytes]:
    """The bytes the producer library publishes for each event, by event id."""
    events = [*workload.consent, *(e for e in workload.events if isinstance(e, dict))]
    return {event["event_id"]: orjson.dumps(event) for event in events}


@dataclass
class Action:
    """Something to do to the pipeline once a share of the workload is through."""

    at: float
    name: str
    run: Callable[[], None]


class Chaos:
    """A seeded schedule of kills and one broker restart, and the loop that carries it out."""

    def __init__(
        self,
        pipeline: Pipeline,
        publisher: PacedPublisher,
        expected: ExpectedOutputs,
        done_before: int,
        total: int,
        rng: random.Random,
    ) -> None:
        self.pipeline, self.publisher, self.expected = pipeline, publisher, expected
        self.done_before, self.total = done_before, total
        plan = [(a, "kill -9 worker", pipeline.kill_worker) for a in WORKER_KILLS]
        plan += [(a, "kill -9 sink", pipeline.kill_sink) for a in SINK_KILLS]
        plan += [(BROKER_RESTART, "broker restart", pipeline.restart_broker)]
        self.actions = sorted(
            (Action(rng.uniform(a, a + 0.15), name, run) for a, name, run in plan),
            key=lambda action: action.at,
        )
        self.timeline: list[str] = []
        self.absorbed = 0
        self._started = time.monotonic()
        self._next_sample = 0.0

    def run(self, timeout_s: float) -> None:
        """Carry out every action while the publisher publishes; absorb acks meanwhile."""
        self._started = time.monotonic()
        while self.actions or self.publisher.is_alive():
            elapsed = self.elapsed()
            assert elapsed < timeout_s, f"chaos unfinished after {elapsed:.0f} s: {self.timeline}"
            assert self.publisher.error is None, f"publishing failed: {self.publisher.error!r}"
            self.pipeline.revive()
            self._step(elapsed)
            if not self.absorb(ABSORB_CHUNK):
                time.sleep(0.2)

    def elapsed(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self._started

    def absorb(self, limit: int | None = None) -> int:
        """Feed acknowledged records to the expected outputs; returns how many."""
        end = None if limit is None else self.absorbed + limit
        batch = self.publisher.acked[self.absorbed : end]
        self.expected.add(batch)
        self.absorbed += len(batch)
        return len(batch)

    def _step(self, elapsed: float) -> None:
        position = self.pipeline.worker_position()
        if position is None:
            return
        done = position[0] - position[1]
        self.publisher.allowed = done - self.done_before + PUBLISH_AHEAD
        progress = done / self.total
        if elapsed >= self._next_sample:
            self.timeline.append(f"{elapsed:.0f}s {progress:.0%}")
            self._next_sample += SAMPLE_EVERY_S
        if self.actions and progress >= self.actions[0].at:
            action = self.actions.pop(0)
            published = self.publisher.published / len(self.publisher.records)
            self.timeline.append(
                f"{elapsed:.0f}s {action.name} at {progress:.0%} ({published:.0%} published)"
            )
            action.run()


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def _tail(path: Path, size: int) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return "(no log)"
