"""The project's own Kafka broker: start, round trip, status, stop, and clear failures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from tests.conftest import free_port
from usage_pipeline.audit.detectors import Detector
from usage_pipeline.broker.admin import describe_cluster
from usage_pipeline.broker.config import LocalBrokerSettings
from usage_pipeline.broker.local import BrokerError, LocalBroker


def test_events_round_trip_through_the_broker_the_project_started(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(300)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"round-trip-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received: dict[bytes, bytes] = {}
    for _ in range(60):
        for message in consumer.consume(num_messages=500, timeout=1.0):
            assert message.error() is None
            received[message.key()] = message.value()
        if len(received) == len(sent):
            break
    consumer.close()
    assert received == sent


def test_status_lists_the_cluster_and_a_created_topic(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=2)
    cluster = describe_cluster(kafka_bootstrap)
    assert cluster.broker_ids == (1,)
    assert cluster.topics[topic] == 2


def test_kafka_status_command_prints_json_for_the_configured_cluster(kafka_bootstrap, new_topic):
    topic = new_topic()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run(
        [sys.executable, "-m", "usage_pipeline", "kafka", "status", "--json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    status = json.loads(result.stdout)
    assert status["bootstrap_servers"] == kafka_bootstrap
    assert topic in status["topics"]
    assert status["local_broker_pid"] is None


def test_second_start_of_a_running_broker_says_so_and_succeeds(local_broker):
    if local_broker is None:
        pytest.skip("an external cluster is configured")
    same_home = LocalBroker(local_broker.settings, local_broker.dir.parent)
    assert same_home.start().already_running


def test_the_broker_log_holds_nothing_the_leak_audit_reports(local_broker):
    # The demo's leak audit scans this log; a Java object named Class@hash reads as a cut
    # e-mail address, and a finding ends the demo with exit 1.
    if local_broker is None:
        pytest.skip("an external cluster is configured")
    detector = Detector()
    lines = local_broker.log_file.read_text().splitlines()
    assert [number for number, line in enumerate(lines, 1) if detector.detect(line)] == []


def test_taken_port_fails_with_a_one_line_cause_and_leaves_nothing_running(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = LocalBrokerSettings(port=port, controller_port=free_port())
        broker = LocalBroker(settings, tmp_path)
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            broker.start()
    assert broker.running_pid() is None


def test_missing_java_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    broker = LocalBroker(LocalBrokerSettings(port=free_port()), tmp_path)
    with pytest.raises(BrokerError, match="`java` is not on PATH"):
        broker.start()


def test_broker_that_dies_while_starting_reports_cause_and_log(local_broker, tmp_path):
    if local_broker is None:
        pytest.skip("the local broker is not in use")
    settings = LocalBrokerSettings(
        port=free_port(), controller_port=free_port(), heap="1k", start_timeout_s=30
    )
    broker = LocalBroker(settings, tmp_path)
    with pytest.raises(BrokerError, match="exited with code") as caught:
        broker.start()
    assert caught.value.log_file == tmp_path.resolve() / "kafka" / "broker.log"
    assert "\n" not in caught.value.cause
    assert broker.running_pid() is None


def test_stop_of_a_broker_that_is_not_running_reports_false(tmp_path: Path):
    assert LocalBroker(LocalBrokerSettings(), tmp_path).stop() is False
