"""Run the real stream worker (`usage-pipeline stream`) as a process against the test broker."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker.admin import read_topic
from producers.topics import ensure_raw_topics
from streams.policy.loader import load_policy
from streams.supervisor import WorkerProcess
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

    def worker(self) -> WorkerProcess:
        """A `usage-pipeline stream` process on this namespace (use it as a context manager)."""
        return WorkerProcess(
            self.bootstrap, self.group, self.namespace, self.log_file, self.env, cwd=REPO
        )

    def read(self, topic: str) -> list:
        """Every record of a topic now."""
        return read_topic(self.bootstrap, self.topic(topic))


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
