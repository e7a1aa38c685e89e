"""Graceful stops of the stream worker in the middle of its work lose and repeat nothing.

The worker is stopped (SIGTERM, as orchestrators do) again and again while it works through
a backlog: it commits what it processed and leaves; the next one resumes there. Every event
must reach its output exactly once.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import orjson

from tests.streams.pipeline_run import feature_used
from usage_pipeline.producers.publisher import EventPublisher

EVENTS = 20_000
STOPS = 5


def test_worker_stopped_repeatedly_mid_backlog_loses_no_event(stream_env):
    with EventPublisher(stream_env.bootstrap, namespace=stream_env.namespace) as publisher:
        events = [feature_used(f"user-{n % 500}") for n in range(EVENTS)]
        for event in events:
            publisher.publish(event)
    rng = random.Random(7)
    worker = stream_env.worker()
    for _ in range(STOPS):
        worker.start()
        time.sleep(rng.uniform(4.0, 8.0))  # start-up takes a few seconds: stops land mid-work
        worker.stop()
    with worker:
        worker.wait_until_caught_up(timeout_s=900)

    delivered = Counter(
        orjson.loads(r.value())["event_id"] for r in stream_env.read("clean.service")
    )
    missing = {e["event_id"] for e in events} - delivered.keys()
    assert not missing, f"{len(missing)} events never reached clean.service: {worker.log_tail()}"
    repeated = [event_id for event_id, count in delivered.items() if count > 1]
    assert not repeated, f"{len(repeated)} events reached clean.service twice"
