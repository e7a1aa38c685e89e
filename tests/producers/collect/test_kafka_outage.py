"""Kafka stops under the collector: 503 with Retry-After, nothing answered 200 is lost, and
the collector accepts events again once Kafka is back. A broker of its own, stopped and
restarted on the same ports."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.conftest import free_port
from tests.producers.collect.conftest import start_collector, stop_collector
from usage_pipeline.broker.admin import read_topic
from usage_pipeline.broker.config import LocalBrokerSettings
from usage_pipeline.broker.local import LocalBroker

pytestmark = pytest.mark.kafka


def wait_for(collector, path: str, status: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while collector.request("GET", path).status != status:
        assert time.monotonic() < deadline, f"{path} never answered {status}"
        time.sleep(0.5)


def test_kafka_stopped_gives_503_and_loses_nothing_accepted(tmp_path, example_event):
    settings = LocalBrokerSettings(port=free_port(), controller_port=free_port())
    broker = LocalBroker(settings, tmp_path / "home")
    broker.start()
    collector = start_collector(
        broker.bootstrap_servers, tmp_path, {"USAGE_PIPELINE_COLLECT__ACK_TIMEOUT_S": "3"}
    )
    accepted: set[str] = set()
    try:
        wait_for(collector, "/readyz", 200)
        batch = [example_event("usage.feature_used") for _ in range(20)]
        answer = collector.post_events(orjson.dumps(batch))
        assert answer.status == 200
        accepted |= {e["event_id"] for e in batch}

        broker.stop()
        refused = collector.post_events(orjson.dumps([example_event("usage.feature_used")]))
        assert refused.status == 503
        assert int(refused.headers["retry-after"]) >= 1
        wait_for(collector, "/readyz", 503)
        quick = collector.post_events(orjson.dumps([example_event("usage.feature_used")]))
        assert quick.status == 503  # refused at once while Kafka is known to be away

        broker.start()
        wait_for(collector, "/readyz", 200)
        deadline = time.monotonic() + 120
        while True:  # the producer may need a moment to reconnect after the probe
            batch = [example_event("usage.feature_used") for _ in range(20)]
            answer = collector.post_events(orjson.dumps(batch))
            if answer.status == 200:
                accepted |= {e["event_id"] for e in batch}
                break
            assert answer.status == 503 and time.monotonic() < deadline
            time.sleep(1)
        assert collector.process.poll() is None

        stored = {
            orjson.loads(m.value())["event_id"]
            for m in read_topic(broker.bootstrap_servers, collector.topic("raw.usage"))
        }
        assert accepted <= stored
    finally:
        stop_collector(collector)
        broker.stop()
    assert "leak" not in collector.log()
