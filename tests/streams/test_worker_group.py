"""Several workers in one group: a member joining, one leaving, one paused past its session.

Each scenario publishes simulated events while the workers run, then reads every clean topic
(read committed) and the dead letters: each event id is there exactly once, and every event
published reached the service or the traffic output (between them they serve every valid
event).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import orjson
import pytest

from tests.streams.conftest import POLICY, StreamEnv
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.producers.publisher import EventPublisher
from usage_pipeline.producers.simulator import SimulationConfig, simulate
from usage_pipeline.streams.policy.loader import load_policy
from usage_pipeline.streams.topics import clean_topics

pytestmark = pytest.mark.kafka

EVENTS = 30_000
SESSION_S = 6  # the broker's smallest session timeout: a lost member is noticed fast
CATCH_UP_S = 600


class Publisher(threading.Thread):
    """Publishes simulated events in chunks, a little at a time, from its own thread."""

    def __init__(self, env: StreamEnv, events: int, seed: int, chunk: int = 500) -> None:
        super().__init__(daemon=True)
        config = SimulationConfig(events=events, days=3, seed=seed)
        self.events = list(simulate(config))
        self.env, self.chunk = env, chunk
        self.error: BaseException | None = None

    @property
    def event_ids(self) -> set[str]:
        """Every event this publisher publishes."""
        return {event["event_id"] for event in self.events}

    def run(self) -> None:
        try:
            with EventPublisher(self.env.bootstrap, namespace=self.env.namespace) as publisher:
                for start in range(0, len(self.events), self.chunk):
                    for event in self.events[start : start + self.chunk]:
                        publisher.publish(event)
                    publisher.flush()
                    time.sleep(0.25)  # about 15 s in all: the group changes while it runs
        except BaseException as exc:
            self.error = exc


def wait_for(condition, timeout_s: float = 120, what: str = "condition") -> None:
    """Poll ``condition`` until it holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def assert_every_event_once(env: StreamEnv, published: set[str]) -> None:
    """Every clean topic holds each event id at most once; service and traffic have them all."""
    served: set[str] = set()
    for topic, purpose in clean_topics(load_policy(POLICY), env.namespace).items():
        records = read_topic(env.bootstrap, topic)
        ids = Counter(orjson.loads(record.value())["event_id"] for record in records)
        repeated = {event_id: n for event_id, n in ids.items() if n > 1}
        assert not repeated, f"{purpose}: {len(repeated)} event ids repeated"
        if purpose in ("service", "traffic"):
            served |= ids.keys()
    missing = published - served
    assert not missing, f"{len(missing)} published events reached neither service nor traffic"
    letters = Counter(
        tuple(orjson.loads(r.value())["source"].values()) for r in env.read("dead.letter")
    )
    assert all(n == 1 for n in letters.values()), "a dead letter was written twice"


def test_a_worker_joining_and_one_leaving_mid_stream_lose_and_repeat_nothing(fresh_stream_env):
    env = fresh_stream_env
    publisher = Publisher(env, EVENTS, seed=21)
    first = env.worker("a", session_timeout_s=SESSION_S)
    second = env.worker("b", session_timeout_s=SESSION_S)
    first.start()
    try:
        publisher.start()
        wait_for(lambda: "assigned partitions" in first.log_tail(), what="the first worker")
        time.sleep(3)
        second.start()  # joins mid-stream: the group rebalances
        wait_for(lambda: "assigned partitions" in second.log_tail(), what="the second worker")
        time.sleep(3)
        first.stop()  # leaves mid-stream: its partitions go to the second after its session
        publisher.join()
        assert publisher.error is None, repr(publisher.error)
        second.wait_until_caught_up(timeout_s=CATCH_UP_S)
    finally:
        first.stop()
        second.stop()
    assert_every_event_once(env, publisher.event_ids)


def test_a_paused_worker_is_fenced_when_it_wakes_and_nothing_is_repeated(fresh_stream_env):
    env = fresh_stream_env
    publisher = Publisher(env, EVENTS, seed=22)
    # A long transaction: when it is paused, the zombie surely holds uncommitted outputs.
    zombie = env.worker("a", session_timeout_s=SESSION_S, commit_interval_s=60)
    survivor = env.worker("b", session_timeout_s=SESSION_S)
    zombie.start()
    survivor.start()
    try:
        wait_for(lambda: "assigned partitions" in zombie.log_tail(), what="both workers")
        wait_for(lambda: "assigned partitions" in survivor.log_tail(), what="both workers")
        publisher.start()
        time.sleep(4)  # both are processing: the zombie holds an open transaction
        assert zombie.process is not None
        os.kill(zombie.process.pid, signal.SIGSTOP)
        # The group gives everything to the survivor once the zombie's session has expired.
        wait_for(
            lambda: "assigned partitions [0, 1, 2]" in survivor.log_tail(),
            timeout_s=120,
            what="the survivor to take every partition",
        )
        publisher.join()
        assert publisher.error is None, repr(publisher.error)
        os.kill(zombie.process.pid, signal.SIGCONT)
        survivor.wait_until_caught_up(timeout_s=CATCH_UP_S)
        time.sleep(SESSION_S)  # whatever the zombie still does, it does now
        survivor.wait_until_caught_up(timeout_s=CATCH_UP_S)
        woke = zombie.log_tail(20_000)
    finally:
        if zombie.process is not None and zombie.process.poll() is None:
            os.kill(zombie.process.pid, signal.SIGCONT)
        zombie.stop()
        survivor.stop()
    # Stopped longer than its liveness timeout (a loaded machine), it may instead find on
    # waking that its loop has not gone round, and exit before its next commit: as fenced.
    noticed = ("partitions lost", "aborted", "fenced", "the loop has not gone round")
    assert any(sign in woke for sign in noticed), woke[-2000:]
    assert_every_event_once(env, publisher.event_ids)
