"""Run the real stream worker (`usage-pipeline stream`) as a process against the test broker."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from broker.admin import consumer_lag
from producers.topics import ensure_raw_topics
from schemas.topics import raw_topics
from streams.policy.loader import load_policy
from streams.topics import ensure_stream_topics
from usage_pipeline.settings import StreamSettings, TopicSettings

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "config" / "anonymization.yaml"
PARTITIONS = 3


@dataclass
class StreamEnv:
    """A topic namespace with every pipeline topic, and how to run a worker on it."""

    bootstrap: str
    namespace: str
    key_file: Path
    log_file: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "USAGE_PIPELINE_TOPICS__NAMESPACE": self.namespace,
            "USAGE_PIPELINE_TOPICS__PARTITIONS": str(PARTITIONS),
            "USAGE_PIPELINE_STREAM__PSEUDONYMIZATION_KEY_FILE": str(self.key_file),
            "USAGE_PIPELINE_STREAM__BATCH_WITHIN_S": "0.2",
        }

    @property
    def group(self) -> str:
        return self.namespace + StreamSettings().app_id

    def topic(self, name: str) -> str:
        return self.namespace + name

    @contextmanager
    def worker(self) -> Iterator[subprocess.Popen]:
        """A running `usage-pipeline stream`, stopped with SIGTERM on exit."""
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "usage_pipeline", "stream"],
                cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait_until_processed(self, process: subprocess.Popen, timeout_s: float = 120) -> None:
        """Block until the worker has committed every raw record."""
        deadline = time.monotonic() + timeout_s
        topics = list(raw_topics(self.namespace))
        while consumer_lag(self.bootstrap, self.group, topics) > 0:
            if process.poll() is not None:
                raise AssertionError(f"worker exited: {self.log_file.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker lagging: {self.log_file.read_text()[-3000:]}")
            time.sleep(0.5)

    def read(self, topic: str) -> list:
        """Every record of a topic now, from the beginning to the end of each partition."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"read-{uuid.uuid4().hex}",
                "enable.partition.eof": True,
                "enable.auto.commit": False,
            }
        )
        name = self.topic(topic)
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in partitions])
        messages, at_end = [], set()
        while len(at_end) < len(partitions):
            for message in consumer.consume(500, timeout=1.0):
                if message.error() is None:
                    messages.append(message)
                elif message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
        consumer.close()
        return messages

    def records(self, topic: str) -> list[dict]:
        return [orjson.loads(m.value()) for m in self.read(topic)]


@pytest.fixture(scope="module")
def stream_env(kafka_bootstrap, tmp_path_factory) -> StreamEnv:
    """A fresh namespace with raw, clean and dead-letter topics, and a random key file."""
    folder = tmp_path_factory.mktemp("stream")
    key_file = folder / "pseudonymization.key"
    key_file.write_bytes(secrets.token_bytes(32))
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    topics = TopicSettings(namespace=namespace, partitions=PARTITIONS)
    ensure_raw_topics(kafka_bootstrap, topics)
    ensure_stream_topics(kafka_bootstrap, load_policy(POLICY), topics)
    return StreamEnv(kafka_bootstrap, namespace, key_file, folder / "worker.log")
